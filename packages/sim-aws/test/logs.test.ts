import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteLogGroupCommand,
  DeleteLogStreamCommand,
  DeleteRetentionPolicyCommand,
  DescribeLogGroupsCommand,
  DescribeLogStreamsCommand,
  FilterLogEventsCommand,
  GetLogEventsCommand,
  ListTagsForResourceCommand,
  ListTagsLogGroupCommand,
  PutLogEventsCommand,
  PutRetentionPolicyCommand,
  TagLogGroupCommand,
  TagResourceCommand,
  UntagLogGroupCommand,
  UntagResourceCommand,
  paginateDescribeLogGroups,
  paginateFilterLogEvents,
  paginateGetLogEvents,
} from "@aws-sdk/client-cloudwatch-logs";
import { MAX_EVENTS_PER_STREAM } from "../src/services/logs-store.js";
import { startSim, type TestSim } from "./helpers.js";

const run = promisify(execFile);

/** The aws CLI against the simulator, JSON output parsed. */
async function awsCli(t: TestSim, ...args: string[]): Promise<any> {
  const { stdout } = await run("aws", [...args, "--output", "json"], {
    env: { ...process.env, ...t.cliEnv },
  });
  return stdout.trim() ? JSON.parse(stdout) : {};
}

const code = (name: string) => (e: any) => {
  assert.equal(e.name, name, e.message);
  return true;
};

describe("CloudWatch Logs", () => {
  let sim: TestSim;
  let logs: CloudWatchLogsClient;
  const now = Date.now();

  before(async () => {
    sim = await startSim();
    logs = new CloudWatchLogsClient(sim.client);
  });
  after(async () => {
    logs.destroy();
    await sim.cleanup();
  });

  it("creates, describes, pages and deletes log groups", async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: "/app/a", tags: { team: "x" } }));
    await assert.rejects(
      logs.send(new CreateLogGroupCommand({ logGroupName: "/app/a" })),
      code("ResourceAlreadyExistsException"),
    );
    await assert.rejects(
      logs.send(new CreateLogGroupCommand({ logGroupName: "bad name" })),
      code("InvalidParameterException"),
    );
    for (const n of ["/app/b", "/app/c", "/other/d"])
      await logs.send(new CreateLogGroupCommand({ logGroupName: n }));

    const all = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: "/app/" }));
    assert.deepEqual(
      all.logGroups!.map((g) => g.logGroupName),
      ["/app/a", "/app/b", "/app/c"],
    );
    const a = all.logGroups![0];
    assert.equal(a.arn, "arn:aws:logs:us-east-1:000000000000:log-group:/app/a:*");
    assert.equal(a.logGroupArn, "arn:aws:logs:us-east-1:000000000000:log-group:/app/a");
    assert.equal(a.storedBytes, 0);
    assert.ok(Math.abs(a.creationTime! - Date.now()) < 60_000);

    const pages: string[][] = [];
    for await (const p of paginateDescribeLogGroups(
      { client: logs, pageSize: 2 },
      { logGroupNamePrefix: "/" },
    ))
      pages.push(p.logGroups!.map((g) => g.logGroupName!));
    assert.deepEqual(pages, [
      ["/app/a", "/app/b"],
      ["/app/c", "/other/d"],
    ]);

    const byPattern = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePattern: "OTHER" }));
    assert.deepEqual(
      byPattern.logGroups!.map((g) => g.logGroupName),
      ["/other/d"],
    );

    await logs.send(new DeleteLogGroupCommand({ logGroupName: "/other/d" }));
    await assert.rejects(
      logs.send(new DeleteLogGroupCommand({ logGroupName: "/other/d" })),
      (e: any) =>
        e.name === "ResourceNotFoundException" && e.message === "The specified log group does not exist.",
    );
  });

  it("sets retention to AWS's allowed values only", async () => {
    await logs.send(new PutRetentionPolicyCommand({ logGroupName: "/app/a", retentionInDays: 14 }));
    let [g] = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: "/app/a" }))).logGroups!;
    assert.equal(g.retentionInDays, 14);
    await assert.rejects(
      logs.send(new PutRetentionPolicyCommand({ logGroupName: "/app/a", retentionInDays: 2 })),
      (e: any) => e.name === "InvalidParameterException" && /enum value set/.test(e.message),
    );
    await logs.send(new DeleteRetentionPolicyCommand({ logGroupName: "/app/a" }));
    [g] = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: "/app/a" }))).logGroups!;
    assert.equal(g.retentionInDays, undefined);
  });

  it("tags log groups by name and by ARN", async () => {
    await logs.send(new TagLogGroupCommand({ logGroupName: "/app/a", tags: { env: "dev" } }));
    assert.deepEqual((await logs.send(new ListTagsLogGroupCommand({ logGroupName: "/app/a" }))).tags, {
      team: "x",
      env: "dev",
    });
    await logs.send(new UntagLogGroupCommand({ logGroupName: "/app/a", tags: ["team"] }));
    const arn = "arn:aws:logs:us-east-1:000000000000:log-group:/app/a";
    await logs.send(new TagResourceCommand({ resourceArn: arn, tags: { owner: "me" } }));
    assert.deepEqual((await logs.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, {
      env: "dev",
      owner: "me",
    });
    await logs.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ["env", "owner"] }));
    assert.deepEqual((await logs.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, {});
    await assert.rejects(
      logs.send(new ListTagsForResourceCommand({ resourceArn: arn + "-missing" })),
      code("ResourceNotFoundException"),
    );
  });

  it("puts log events and reads them back with AWS's forward/backward tokens", async () => {
    await logs.send(new CreateLogStreamCommand({ logGroupName: "/app/b", logStreamName: "s1" }));
    await assert.rejects(
      logs.send(new CreateLogStreamCommand({ logGroupName: "/app/b", logStreamName: "s1" })),
      code("ResourceAlreadyExistsException"),
    );
    const events = Array.from({ length: 25 }, (_, i) => ({
      timestamp: now - 25_000 + i * 1000,
      message: `line ${i}`,
    }));
    const put = await logs.send(
      new PutLogEventsCommand({
        logGroupName: "/app/b",
        logStreamName: "s1",
        logEvents: events.slice(0, 20),
      }),
    );
    assert.match(put.nextSequenceToken!, /^\d+$/);
    assert.equal(put.rejectedLogEventsInfo, undefined);
    // a stale or made-up sequence token is ignored, as AWS does now
    await logs.send(
      new PutLogEventsCommand({
        logGroupName: "/app/b",
        logStreamName: "s1",
        logEvents: events.slice(20),
        sequenceToken: "123",
      }),
    );

    // default: the newest events
    const tailPage = await logs.send(
      new GetLogEventsCommand({ logGroupName: "/app/b", logStreamName: "s1", limit: 10 }),
    );
    assert.deepEqual(
      tailPage.events!.map((e) => e.message),
      events.slice(15).map((e) => e.message),
    );
    assert.match(tailPage.nextForwardToken!, /^f\/\d{56}\/s$/);
    assert.match(tailPage.nextBackwardToken!, /^b\/\d{56}\/s$/);
    assert.ok(tailPage.events![0].ingestionTime! >= tailPage.events![0].timestamp!);
    const back = await logs.send(
      new GetLogEventsCommand({
        logGroupName: "/app/b",
        logStreamName: "s1",
        limit: 10,
        nextToken: tailPage.nextBackwardToken,
      }),
    );
    assert.deepEqual(
      back.events!.map((e) => e.message),
      events.slice(5, 15).map((e) => e.message),
    );

    // the SDK paginator from the head, stopping when the forward token repeats
    const seen: string[] = [];
    let pages = 0;
    for await (const p of paginateGetLogEvents(
      { client: logs, pageSize: 10, stopOnSameToken: true },
      { logGroupName: "/app/b", logStreamName: "s1", startFromHead: true },
    )) {
      pages++;
      seen.push(...p.events!.map((e) => e.message!));
    }
    assert.deepEqual(
      seen,
      events.map((e) => e.message),
    );
    assert.equal(pages, 4); // 10 + 10 + 5 + the empty page that repeats the token

    // time range: startTime inclusive, endTime exclusive
    const ranged = await logs.send(
      new GetLogEventsCommand({
        logGroupName: "/app/b",
        logStreamName: "s1",
        startTime: events[3].timestamp,
        endTime: events[6].timestamp,
        startFromHead: true,
      }),
    );
    assert.deepEqual(
      ranged.events!.map((e) => e.message),
      ["line 3", "line 4", "line 5"],
    );

    // polling the tail picks up new events through the forward token
    const more = { timestamp: now, message: "late" };
    await logs.send(
      new PutLogEventsCommand({ logGroupName: "/app/b", logStreamName: "s1", logEvents: [more] }),
    );
    const next = await logs.send(
      new GetLogEventsCommand({
        logGroupName: "/app/b",
        logStreamName: "s1",
        nextToken: tailPage.nextForwardToken,
      }),
    );
    assert.deepEqual(
      next.events!.map((e) => e.message),
      ["late"],
    );

    // the group named by its ARN
    const byArn = await logs.send(
      new GetLogEventsCommand({
        logGroupIdentifier: "arn:aws:logs:us-east-1:000000000000:log-group:/app/b",
        logStreamName: "s1",
        limit: 1,
      }),
    );
    assert.deepEqual(
      byArn.events!.map((e) => e.message),
      ["late"],
    );

    const [s] = (await logs.send(new DescribeLogStreamsCommand({ logGroupName: "/app/b" }))).logStreams!;
    assert.equal(s.firstEventTimestamp, events[0].timestamp);
    assert.equal(s.lastEventTimestamp, now);
    assert.ok(s.lastIngestionTime! > 0);
    assert.ok(s.uploadSequenceToken);
    assert.equal(s.arn, "arn:aws:logs:us-east-1:000000000000:log-group:/app/b:log-stream:s1");
    const [g] = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: "/app/b" }))).logGroups!;
    assert.ok(g.storedBytes! > 0);
  });

  it("rejects and partially rejects PutLogEvents batches as AWS does", async () => {
    const put = (logEvents: { timestamp: number; message: string }[], logStreamName = "s1") =>
      logs.send(new PutLogEventsCommand({ logGroupName: "/app/b", logStreamName, logEvents }));
    await assert.rejects(
      put([
        { timestamp: now, message: "b" },
        { timestamp: now - 1, message: "a" },
      ]),
      (e: any) => e.name === "InvalidParameterException" && /chronological order/.test(e.message),
    );
    await assert.rejects(put([{ timestamp: now, message: "x" }], "missing"), (e: any) => {
      assert.equal(e.name, "ResourceNotFoundException");
      assert.equal(e.message, "The specified log stream does not exist.");
      return true;
    });
    await assert.rejects(
      logs.send(
        new PutLogEventsCommand({
          logGroupName: "/nope",
          logStreamName: "s",
          logEvents: [{ timestamp: now, message: "x" }],
        }),
      ),
      code("ResourceNotFoundException"),
    );
    await assert.rejects(put([]), code("InvalidParameterException"));

    await logs.send(new CreateLogStreamCommand({ logGroupName: "/app/b", logStreamName: "edges" }));
    const day = 86_400_000;
    const r = await put(
      [
        { timestamp: now - 14 * day - 7_200_000, message: "too old" },
        { timestamp: now - 14 * day - 3_600_000, message: "too old 2" },
        { timestamp: now - 14 * day + 60_000, message: "fine" },
        { timestamp: now - 14 * day + 120_000, message: "fine 2" },
      ],
      "edges",
    );
    assert.deepEqual(r.rejectedLogEventsInfo, { tooOldLogEventEndIndex: 2 });
    const r2 = await put(
      [
        { timestamp: now, message: "now" },
        { timestamp: now + 3 * 3_600_000, message: "too new" },
      ],
      "edges",
    );
    assert.deepEqual(r2.rejectedLogEventsInfo, { tooNewLogEventStartIndex: 1 });
    const got = await logs.send(
      new GetLogEventsCommand({ logGroupName: "/app/b", logStreamName: "edges", startFromHead: true }),
    );
    assert.deepEqual(
      got.events!.map((e) => e.message),
      ["fine", "fine 2", "now"],
    );
  });

  it("filters events across streams with the simple pattern syntax", async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: "/filter" }));
    const msgs: Record<string, string[]> = {
      "web-1": ["GET /index 200", "ERROR db timeout", "WARN slow request", '{"level":"error","ms":120}'],
      "web-2": ["POST /login 500", "ERROR Exception in handler", "INFO started"],
      "worker-1": ["ERROR job failed", "job done"],
    };
    let t = now - 60_000;
    for (const [stream, lines] of Object.entries(msgs)) {
      await logs.send(new CreateLogStreamCommand({ logGroupName: "/filter", logStreamName: stream }));
      await logs.send(
        new PutLogEventsCommand({
          logGroupName: "/filter",
          logStreamName: stream,
          logEvents: lines.map((message) => ({ timestamp: (t += 1000), message })),
        }),
      );
    }
    const filter = async (extra: Record<string, unknown>) =>
      (await logs.send(new FilterLogEventsCommand({ logGroupName: "/filter", ...extra }))).events!.map(
        (e) => e.message,
      );
    assert.deepEqual(await filter({ filterPattern: "ERROR" }), [
      "ERROR db timeout",
      "ERROR Exception in handler",
      "ERROR job failed",
    ]);
    assert.deepEqual(await filter({ filterPattern: "ERROR -Exception" }), [
      "ERROR db timeout",
      "ERROR job failed",
    ]);
    assert.deepEqual(await filter({ filterPattern: "?WARN ?INFO" }), ["WARN slow request", "INFO started"]);
    assert.deepEqual(await filter({ filterPattern: '"db timeout"' }), ["ERROR db timeout"]);
    assert.deepEqual(await filter({ filterPattern: "ERROR job" }), ["ERROR job failed"]);
    assert.deepEqual(await filter({ filterPattern: "%[45]0[0-9]%" }), ["POST /login 500"]);
    assert.deepEqual(await filter({ filterPattern: '{ $.level = "err*" && $.ms > 100 }' }), [
      '{"level":"error","ms":120}',
    ]);
    assert.deepEqual(await filter({ filterPattern: "ERROR", logStreamNamePrefix: "web" }), [
      "ERROR db timeout",
      "ERROR Exception in handler",
    ]);
    assert.deepEqual(await filter({ logStreamNames: ["worker-1"] }), ["ERROR job failed", "job done"]);
    const res = await logs.send(
      new FilterLogEventsCommand({ logGroupName: "/filter", filterPattern: "ERROR" }),
    );
    assert.equal(res.events![0].logStreamName, "web-1");
    assert.match(res.events![0].eventId!, /^\d{56}$/);
    assert.deepEqual(res.searchedLogStreams!.map((s) => s.logStreamName).sort(), [
      "web-1",
      "web-2",
      "worker-1",
    ]);
    await assert.rejects(
      logs.send(
        new FilterLogEventsCommand({
          logGroupName: "/filter",
          logStreamNames: ["a"],
          logStreamNamePrefix: "w",
        }),
      ),
      code("InvalidParameterException"),
    );

    // pagination by nextToken through the SDK paginator, in time order across streams
    const paged: string[] = [];
    for await (const p of paginateFilterLogEvents({ client: logs, pageSize: 4 }, { logGroupName: "/filter" }))
      paged.push(...p.events!.map((e) => e.message!));
    assert.deepEqual(paged, Object.values(msgs).flat());
  });

  it("describes log streams ordered by name or last event time, paged", async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: "/streams" }));
    for (const [i, s] of ["c", "a", "b"].entries()) {
      await logs.send(new CreateLogStreamCommand({ logGroupName: "/streams", logStreamName: s }));
      await logs.send(
        new PutLogEventsCommand({
          logGroupName: "/streams",
          logStreamName: s,
          logEvents: [{ timestamp: now - 10_000 + i * 1000, message: s }],
        }),
      );
    }
    const names = async (input: Record<string, unknown>) =>
      (
        await logs.send(new DescribeLogStreamsCommand({ logGroupName: "/streams", ...input }))
      ).logStreams!.map((s) => s.logStreamName);
    assert.deepEqual(await names({}), ["a", "b", "c"]);
    assert.deepEqual(await names({ descending: true }), ["c", "b", "a"]);
    assert.deepEqual(await names({ orderBy: "LastEventTime" }), ["c", "a", "b"]);
    assert.deepEqual(await names({ orderBy: "LastEventTime", descending: true }), ["b", "a", "c"]);
    assert.deepEqual(await names({ logStreamNamePrefix: "b" }), ["b"]);
    await assert.rejects(
      logs.send(
        new DescribeLogStreamsCommand({
          logGroupName: "/streams",
          orderBy: "LastEventTime",
          logStreamNamePrefix: "a",
        }),
      ),
      code("InvalidParameterException"),
    );
    const first = await logs.send(new DescribeLogStreamsCommand({ logGroupName: "/streams", limit: 2 }));
    assert.deepEqual(
      first.logStreams!.map((s) => s.logStreamName),
      ["a", "b"],
    );
    const second = await logs.send(
      new DescribeLogStreamsCommand({ logGroupName: "/streams", limit: 2, nextToken: first.nextToken }),
    );
    assert.deepEqual(
      second.logStreams!.map((s) => s.logStreamName),
      ["c"],
    );
    assert.equal(second.nextToken, undefined);
    await logs.send(new DeleteLogStreamCommand({ logGroupName: "/streams", logStreamName: "a" }));
    assert.deepEqual(await names({}), ["b", "c"]);
    await assert.rejects(
      logs.send(new DescribeLogStreamsCommand({ logGroupName: "/missing" })),
      code("ResourceNotFoundException"),
    );
  });

  it("accepts writes from other services through the log sink", async () => {
    sim.sim.logSink!.append("/ecs/task", "ecs/app/123", [
      { timestamp: now - 2000, message: "hello" },
      { timestamp: now - 1000, message: "world" },
    ]);
    const got = await logs.send(
      new GetLogEventsCommand({
        logGroupName: "/ecs/task",
        logStreamName: "ecs/app/123",
        startFromHead: true,
      }),
    );
    assert.deepEqual(
      got.events!.map((e) => e.message),
      ["hello", "world"],
    );
  });

  it("delays the sink's batches by a logs:Ingest latency fault, keeping their order", async () => {
    const read = async () =>
      (
        await logs.send(
          new GetLogEventsCommand({ logGroupName: "/late", logStreamName: "s", startFromHead: true }),
        )
      ).events!.map((e) => e.message);
    sim.sim.faults.set([{ operation: "logs:Ingest", kind: "latency", latencyMs: 400, count: 1 }]);
    sim.sim.logSink!.append("/late", "s", [{ timestamp: now, message: "delayed" }]);
    // the next batch has no delay of its own but may not overtake the delayed one
    sim.sim.logSink!.append("/late", "s", [{ timestamp: now + 1, message: "behind it" }]);
    assert.deepEqual(await read(), []);
    await new Promise((r) => setTimeout(r, 600));
    assert.deepEqual(await read(), ["delayed", "behind it"]);
    sim.sim.faults.set([]);
    await logs.send(new DeleteLogGroupCommand({ logGroupName: "/late" }));
  });

  it("keeps at most MAX_EVENTS_PER_STREAM events in a stream, dropping the oldest", async () => {
    const events = Array.from({ length: MAX_EVENTS_PER_STREAM + 5 }, (_, i) => ({
      timestamp: now - 100_000 + i,
      message: `e${i}`,
    }));
    sim.sim.logSink!.append("/bounded", "s", events);
    const head = await logs.send(
      new GetLogEventsCommand({
        logGroupName: "/bounded",
        logStreamName: "s",
        startFromHead: true,
        limit: 1,
      }),
    );
    assert.equal(head.events![0].message, "e5");
    await logs.send(new DeleteLogGroupCommand({ logGroupName: "/bounded" }));
  });

  it("works with the aws CLI", async () => {
    await awsCli(sim, "logs", "create-log-group", "--log-group-name", "/cli");
    // the stream through the SDK: each CLI start costs about a second
    await logs.send(new CreateLogStreamCommand({ logGroupName: "/cli", logStreamName: "s" }));
    const put = await awsCli(
      sim,
      "logs",
      "put-log-events",
      "--log-group-name",
      "/cli",
      "--log-stream-name",
      "s",
      "--log-events",
      JSON.stringify([
        { timestamp: now, message: "from the cli" },
        { timestamp: now + 1, message: "second" },
      ]),
    );
    assert.ok(put.nextSequenceToken);
    const got = await awsCli(
      sim,
      "logs",
      "get-log-events",
      "--log-group-name",
      "/cli",
      "--log-stream-name",
      "s",
      "--start-from-head",
    );
    assert.deepEqual(
      got.events.map((e: any) => e.message),
      ["from the cli", "second"],
    );
  });

  it("keeps groups, streams and events across a restart", async () => {
    sim = await sim.restart();
    logs.destroy();
    logs = new CloudWatchLogsClient(sim.client);
    const groups = (await logs.send(new DescribeLogGroupsCommand({}))).logGroups!.map((g) => g.logGroupName);
    assert.ok(groups.includes("/app/b") && groups.includes("/ecs/task"));
    const got = await logs.send(
      new GetLogEventsCommand({
        logGroupName: "/ecs/task",
        logStreamName: "ecs/app/123",
        startFromHead: true,
      }),
    );
    assert.deepEqual(
      got.events!.map((e) => e.message),
      ["hello", "world"],
    );
  });
});
