import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  DescribeLogGroupsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { DescribeFileSystemsCommand, EFSClient } from "@aws-sdk/client-efs";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { startSim, type TestSim } from "./helpers.js";

describe("protocol", () => {
  let sim: TestSim;
  let logs: CloudWatchLogsClient;

  before(async () => {
    sim = await startSim();
    logs = new CloudWatchLogsClient({ ...sim.client, maxAttempts: 1 });
  });
  after(async () => {
    logs.destroy();
    await sim.cleanup();
  });

  const json = (target: string, body: string) =>
    fetch(sim.url, {
      method: "POST",
      headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target },
      body,
    });
  const form = (body: string) =>
    fetch(sim.url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body,
    });
  const faults = (rules: unknown) =>
    fetch(`${sim.url}/_sim/faults`, { method: "POST", body: JSON.stringify(rules) }).then((r) => r.json());

  it("answers an unknown X-Amz-Target with UnknownOperationException", async () => {
    for (const target of ["Logs_20140328.NoSuchOperation", "Nobody_20200101.Anything"]) {
      const res = await json(target, "{}");
      assert.equal(res.status, 400);
      assert.equal(res.headers.get("x-amzn-errortype"), "UnknownOperationException");
      assert.equal((await res.json()).__type, "UnknownOperationException");
    }
  });

  it("answers malformed JSON with SerializationException", async () => {
    for (const body of ['{"logGroupName": ', "[1, 2]"]) {
      const res = await json("Logs_20140328.CreateLogGroup", body);
      assert.equal(res.status, 400);
      assert.equal((await res.json()).__type, "SerializationException");
    }
  });

  it("answers an unknown Query action with InvalidAction, in each service's XML", async () => {
    const iam = await form("Action=NoSuchAction&Version=2010-05-08");
    assert.equal(iam.status, 400);
    const iamXml = await iam.text();
    assert.match(iamXml, /<ErrorResponse xmlns="https:\/\/iam.amazonaws.com\/doc\/2010-05-08\/">/);
    assert.match(iamXml, /<Code>InvalidAction<\/Code>/);
    const ec2 = await form("Action=NoSuchAction&Version=2016-11-15");
    assert.equal(ec2.status, 400);
    assert.match(await ec2.text(), /<Response><Errors><Error><Code>InvalidAction<\/Code>/);
  });

  it("injects throttling that the SDK reports, once", async () => {
    await faults({ operation: "logs:CreateLogGroup", kind: "throttle", count: 1 });
    await assert.rejects(logs.send(new CreateLogGroupCommand({ logGroupName: "/throttled" })), (e: any) => {
      assert.equal(e.name, "ThrottlingException");
      assert.equal(e.$metadata.httpStatusCode, 400);
      return true;
    });
    await logs.send(new CreateLogGroupCommand({ logGroupName: "/throttled" }));

    // with its default retries the SDK rides over it
    await faults({ operation: "logs:DescribeLogGroups", kind: "throttle", count: 2 });
    const retrying = new CloudWatchLogsClient(sim.client);
    const out = await retrying.send(new DescribeLogGroupsCommand({}));
    assert.equal(out.$metadata.attempts, 3);
    assert.equal(out.logGroups![0].logGroupName, "/throttled");
    retrying.destroy();
  });

  it("injects latency", async () => {
    await faults({ operation: "logs:DescribeLogGroups", kind: "latency", latencyMs: 300, count: 1 });
    let t = Date.now();
    await logs.send(new DescribeLogGroupsCommand({}));
    assert.ok(Date.now() - t >= 290, `took ${Date.now() - t} ms`);
    t = Date.now();
    await logs.send(new DescribeLogGroupsCommand({}));
    assert.ok(Date.now() - t < 290);
  });

  it("injects server errors into Query and REST services", async () => {
    await faults([
      { operation: "sts:GetCallerIdentity", kind: "error", count: 1 },
      { operation: "elasticfilesystem:*", kind: "error", status: 503, code: "ServiceUnavailable", count: 1 },
    ]);
    const listed = await fetch(`${sim.url}/_sim/faults`).then((r) => r.json());
    assert.equal(listed.length, 2);
    const sts = new STSClient({ ...sim.client, maxAttempts: 1 });
    await assert.rejects(sts.send(new GetCallerIdentityCommand({})), (e: any) => {
      assert.equal(e.name, "InternalFailure");
      assert.equal(e.$metadata.httpStatusCode, 500);
      return true;
    });
    assert.equal((await sts.send(new GetCallerIdentityCommand({}))).Account, "000000000000");
    const efs = new EFSClient({ ...sim.client, maxAttempts: 1 });
    await assert.rejects(efs.send(new DescribeFileSystemsCommand({})), (e: any) => {
      assert.equal(e.name, "ServiceUnavailable");
      assert.equal(e.$metadata.httpStatusCode, 503);
      return true;
    });
    assert.deepEqual((await efs.send(new DescribeFileSystemsCommand({}))).FileSystems, []);
    sts.destroy();
    efs.destroy();
    const cleared = await fetch(`${sim.url}/_sim/faults`, { method: "DELETE" }).then((r) => r.json());
    assert.deepEqual(cleared, []);
    const bad = await fetch(`${sim.url}/_sim/faults`, {
      method: "POST",
      body: JSON.stringify({ kind: "nope" }),
    });
    assert.equal(bad.status, 400);
  });

  it("refuses bodies over 16 MiB with 413 and keeps serving", async () => {
    const url = new URL(sim.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: "POST",
          path: "/",
          headers: {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Logs_20140328.PutLogEvents",
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      // the server may stop reading once it has answered
      req.on("error", (e: NodeJS.ErrnoException) =>
        e.code === "EPIPE" || e.code === "ECONNRESET" ? undefined : reject(e),
      );
      const chunk = Buffer.alloc(1024 * 1024, "a");
      for (let i = 0; i < 17; i++) req.write(chunk);
      req.end();
    });
    assert.equal(status, 413);
    const out = await logs.send(new DescribeLogGroupsCommand({}));
    assert.equal(out.$metadata.httpStatusCode, 200);
  });
});
