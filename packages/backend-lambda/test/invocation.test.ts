import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { startSim, type TestSim } from "../../sim-aws/test/helpers.js";
import { invocationOutcome, isPlatformLine, lastInvocation } from "../src/invocation.js";

const answer = (errorType: string, errorMessage: string) => ({
  $metadata: {},
  FunctionError: "Unhandled",
  Payload: Buffer.from(JSON.stringify({ errorType, errorMessage })),
});

const response = (payload: string) => ({ $metadata: {}, Payload: Buffer.from(payload) });

test("the agent's answer is the container's exit code", () => {
  assert.deepEqual(invocationOutcome(response('{"exitCode":0}'), 900), { code: 0 });
  assert.deepEqual(invocationOutcome(answer("Runtime.ExitError", "exit status 3"), 900), { code: 3 });
  // a main process that could not start: the reason comes along
  assert.deepEqual(
    invocationOutcome(answer("Runtime.ExitError", 'exit status 127: exec: "nope": not found'), 900),
    { code: 127, error: 'exec: "nope": not found' },
  );
  // a response that is not the agent's is an error, not a success
  for (const payload of ["", "null", '{"ok":true}', '{"exitCode":"0"}'])
    assert.deepEqual(invocationOutcome(response(payload), 900), {
      code: 1,
      error: `the Lambda invocation answered without an exit code: ${payload}`,
    });
});

test("the exit status Lambda reports is the container's exit code", () => {
  assert.deepEqual(
    invocationOutcome(
      answer("Runtime.ExitError", "RequestId: x Error: Runtime exited with error: exit status 42"),
      900,
    ),
    { code: 42 },
  );
  const t = invocationOutcome(
    answer("Sandbox.Timedout", "RequestId: x Error: Task timed out after 5.00 seconds"),
    5,
  );
  assert.equal(t.code, 137);
  assert.match(t.error!, /outlived the Lambda function timeout \(5 s\)/);
  assert.deepEqual(invocationOutcome(answer("Runtime.Unknown", "boom"), 900), {
    code: 1,
    error: "Runtime.Unknown: boom",
  });
});

test("Lambda's own log lines are not the container's output", () => {
  for (const l of [
    "START RequestId: 1 Version: $LATEST",
    "END RequestId: 1",
    "REPORT RequestId: 1\tDuration: 1 ms",
    "RequestId: 1 Error: Runtime exited with error: exit status 1",
    "Runtime.ExitError",
    "2026-01-01T00:00:00.000Z 1 Task timed out after 1.00 seconds",
  ])
    assert.ok(isPlatformLine(l), l);
  for (const l of ["hello", "START of my program", "Runtime error in my code"])
    assert.ok(!isPlatformLine(l), l);
});

describe("lastInvocation (the function's log, as the simulator's CloudWatch Logs keeps it)", () => {
  let sim: TestSim;
  let logs: CloudWatchLogsClient;
  let n = 0;
  before(async () => {
    sim = await startSim();
    logs = new CloudWatchLogsClient(sim.client);
  });
  after(() => sim.cleanup());

  /** A log group with one stream holding `lines` (one execution environment). */
  async function groupWith(lines: string[]): Promise<string> {
    const group = `/aws/lambda/last-${n++}`;
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: "s" }));
    const t = Date.now();
    await logs.send(
      new PutLogEventsCommand({
        logGroupName: group,
        logStreamName: "s",
        logEvents: lines.map((message, i) => ({ timestamp: t + i, message })),
      }),
    );
    return group;
  }
  const run = (...middle: string[]) => [
    "START RequestId: r1 Version: $LATEST",
    ...middle,
    "END RequestId: r1",
    "REPORT RequestId: r1\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 128 MB",
  ];
  const last = async (lines: string[]) => {
    const s = await lastInvocation(logs, await groupWith(lines), 900);
    return s && { running: s.running, exitCode: s.exitCode, error: s.error };
  };

  test("an answered invocation: exit 0, or the status the agent logged with the request id", async () => {
    assert.deepEqual(await last(run("hello")), { running: false, exitCode: 0, error: undefined });
    assert.deepEqual(
      await last(run("bye", "sockerless-agent: RequestId: r1 Error: Runtime.ExitError: exit status 3")),
      { running: false, exitCode: 3, error: undefined },
    );
    assert.deepEqual(
      await last(
        run(
          'sockerless-agent: RequestId: r1 Error: Runtime.ExitError: exit status 127: exec: "x": not found',
        ),
      ),
      { running: false, exitCode: 127, error: 'exec: "x": not found' },
    );
    // the container's own output never counts, even when it looks like a status
    assert.deepEqual(await last(run("r1 exit status 9")), { running: false, exitCode: 0, error: undefined });
  });

  test("a runtime that exited without answering, a timeout, a run still going", async () => {
    assert.deepEqual(
      await last(run("RequestId: r1 Error: Runtime exited with error: exit status 7", "Runtime.ExitError")),
      { running: false, exitCode: 7, error: undefined },
    );
    const t = await last(run("2026-01-01T00:00:00.000Z r1 Task timed out after 900.00 seconds"));
    assert.equal(t?.exitCode, 137);
    assert.match(t?.error ?? "", /outlived the Lambda function timeout/);
    assert.deepEqual(await last(["START RequestId: r1 Version: $LATEST", "working"]), {
      running: true,
      exitCode: undefined,
      error: undefined,
    });
  });
});
