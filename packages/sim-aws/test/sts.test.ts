import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import {
  AssumeRoleCommand,
  GetAccessKeyInfoCommand,
  GetCallerIdentityCommand,
  GetSessionTokenCommand,
  STSClient,
} from "@aws-sdk/client-sts";
import { startSim, type TestSim } from "./helpers.js";

const run = promisify(execFile);
const ACCOUNT = "000000000000";
const trust = JSON.stringify({
  Version: "2012-10-17",
  Statement: [
    { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "sts:AssumeRole" },
  ],
});

describe("STS", () => {
  let sim: TestSim;
  let sts: STSClient;

  before(async () => {
    sim = await startSim();
    sts = new STSClient(sim.client);
    const iam = new IAMClient(sim.client);
    await iam.send(new CreateRoleCommand({ RoleName: "deployer", AssumeRolePolicyDocument: trust }));
    await iam.send(
      new CreateRoleCommand({ RoleName: "long", AssumeRolePolicyDocument: trust, MaxSessionDuration: 7200 }),
    );
    iam.destroy();
  });
  after(async () => {
    sts.destroy();
    await sim.cleanup();
  });

  it("identifies the account root for ordinary keys", async () => {
    const me = await sts.send(new GetCallerIdentityCommand({}));
    assert.deepEqual(
      { Account: me.Account, Arn: me.Arn, UserId: me.UserId },
      { Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:root`, UserId: ACCOUNT },
    );
    const info = await sts.send(new GetAccessKeyInfoCommand({ AccessKeyId: "AKIAEXAMPLE000000000" }));
    assert.equal(info.Account, ACCOUNT);
  });

  it("answers the aws CLI", async () => {
    const { stdout } = await run("aws", ["sts", "get-caller-identity", "--output", "json"], {
      env: { ...process.env, ...sim.cliEnv },
    });
    assert.equal(JSON.parse(stdout).Arn, `arn:aws:iam::${ACCOUNT}:root`);
  });

  it("assumes existing roles and knows the session afterwards", async () => {
    const out = await sts.send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/deployer`, RoleSessionName: "ci-run" }),
    );
    const c = out.Credentials!;
    assert.match(c.AccessKeyId!, /^ASIA[A-Z2-7]{16}$/);
    assert.ok(c.SecretAccessKey && c.SessionToken);
    const ttl = c.Expiration!.getTime() - Date.now();
    assert.ok(ttl > 3500_000 && ttl <= 3600_000, String(ttl));
    assert.equal(out.AssumedRoleUser!.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/deployer/ci-run`);
    assert.match(out.AssumedRoleUser!.AssumedRoleId!, /^AROA[A-Z2-7]{17}:ci-run$/);

    const asRole = new STSClient({
      ...sim.client,
      credentials: {
        accessKeyId: c.AccessKeyId!,
        secretAccessKey: c.SecretAccessKey!,
        sessionToken: c.SessionToken,
      },
    });
    const me = await asRole.send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, out.AssumedRoleUser!.Arn);
    assert.equal(me.UserId, out.AssumedRoleUser!.AssumedRoleId);
    // role chaining is limited to an hour, and session credentials can't get session tokens
    await assert.rejects(
      asRole.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/long`,
          RoleSessionName: "chained",
          DurationSeconds: 7200,
        }),
      ),
      (e: any) => e.name === "ValidationError" && /role chaining/.test(e.message),
    );
    await assert.rejects(asRole.send(new GetSessionTokenCommand({})), (e: any) => e.name === "AccessDenied");
    asRole.destroy();
  });

  it("refuses missing roles and durations beyond the role's maximum", async () => {
    await assert.rejects(
      sts.send(
        new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/missing`, RoleSessionName: "s1" }),
      ),
      (e: any) => {
        assert.equal(e.name, "AccessDenied");
        assert.equal(e.$metadata.httpStatusCode, 403);
        assert.match(e.message, /is not authorized to perform: sts:AssumeRole on resource/);
        return true;
      },
    );
    await assert.rejects(
      sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/deployer`,
          RoleSessionName: "s1",
          DurationSeconds: 7200,
        }),
      ),
      (e: any) => e.name === "ValidationError" && /MaxSessionDuration/.test(e.message),
    );
    const ok = await sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/long`,
        RoleSessionName: "s1",
        DurationSeconds: 7200,
      }),
    );
    assert.ok(ok.Credentials!.Expiration!.getTime() - Date.now() > 7100_000);
    await assert.rejects(
      sts.send(
        new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/deployer`, RoleSessionName: "x" }),
      ),
      (e: any) => e.name === "ValidationError",
    );
  });

  it("issues session tokens that act as the caller", async () => {
    const { Credentials: c } = await sts.send(new GetSessionTokenCommand({ DurationSeconds: 900 }));
    assert.match(c!.AccessKeyId!, /^ASIA/);
    const ttl = c!.Expiration!.getTime() - Date.now();
    assert.ok(ttl > 800_000 && ttl <= 900_000);
    const asSession = new STSClient({
      ...sim.client,
      credentials: {
        accessKeyId: c!.AccessKeyId!,
        secretAccessKey: c!.SecretAccessKey!,
        sessionToken: c!.SessionToken,
      },
    });
    assert.equal(
      (await asSession.send(new GetCallerIdentityCommand({}))).Arn,
      `arn:aws:iam::${ACCOUNT}:root`,
    );
    asSession.destroy();
  });

  it("remembers issued credentials across a restart", async () => {
    const out = await sts.send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/deployer`, RoleSessionName: "kept" }),
    );
    sim = await sim.restart();
    sts.destroy();
    sts = new STSClient(sim.client);
    const c = out.Credentials!;
    const asRole = new STSClient({
      ...sim.client,
      credentials: {
        accessKeyId: c.AccessKeyId!,
        secretAccessKey: c.SecretAccessKey!,
        sessionToken: c.SessionToken,
      },
    });
    assert.equal((await asRole.send(new GetCallerIdentityCommand({}))).Arn, out.AssumedRoleUser!.Arn);
    asRole.destroy();
  });
});
