import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  AttachRolePolicyCommand,
  CreateAccessKeyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DeleteUserCommand,
  DetachRolePolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListInstanceProfilesForRoleCommand,
  ListAttachedRolePoliciesCommand,
  ListPoliciesCommand,
  ListPolicyVersionsCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  ListUsersCommand,
  PutRolePolicyCommand,
  SetDefaultPolicyVersionCommand,
  TagRoleCommand,
  UntagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
  paginateListRoles,
} from "@aws-sdk/client-iam";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { roleExists } from "../src/services/iam.js";
import { startSim, type TestSim } from "./helpers.js";

const run = promisify(execFile);
async function awsCli(t: TestSim, ...args: string[]): Promise<any> {
  const { stdout } = await run("aws", [...args, "--output", "json"], {
    env: { ...process.env, ...t.cliEnv },
  });
  return stdout.trim() ? JSON.parse(stdout) : {};
}

const ACCOUNT = "000000000000";
const trust = (service: string) =>
  JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
  });
const allow = (action: string) =>
  JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: action, Resource: "*" }] });
const error = (name: string, status: number) => (e: any) => {
  assert.equal(e.name, name, e.message);
  assert.equal(e.$metadata.httpStatusCode, status);
  return true;
};

describe("IAM", () => {
  let sim: TestSim;
  let iam: IAMClient;

  before(async () => {
    sim = await startSim();
    iam = new IAMClient(sim.client);
  });
  after(async () => {
    iam.destroy();
    await sim.cleanup();
  });

  it("creates, gets, lists and deletes roles", async () => {
    const created = await iam.send(
      new CreateRoleCommand({
        RoleName: "task-role",
        Path: "/ecs/",
        AssumeRolePolicyDocument: trust("ecs-tasks.amazonaws.com"),
        Description: "for tasks",
        Tags: [{ Key: "team", Value: "a" }],
      }),
    );
    assert.equal(created.Role!.Arn, `arn:aws:iam::${ACCOUNT}:role/ecs/task-role`);
    assert.match(created.Role!.RoleId!, /^AROA[A-Z2-7]{17}$/);
    assert.ok(created.Role!.CreateDate instanceof Date);

    const got = await iam.send(new GetRoleCommand({ RoleName: "task-role" }));
    assert.equal(got.Role!.Path, "/ecs/");
    assert.equal(got.Role!.MaxSessionDuration, 3600);
    assert.equal(got.Role!.Description, "for tasks");
    assert.deepEqual(got.Role!.Tags, [{ Key: "team", Value: "a" }]);
    // the trust policy comes back URL-encoded, as from IAM
    assert.deepEqual(
      JSON.parse(decodeURIComponent(got.Role!.AssumeRolePolicyDocument!)),
      JSON.parse(trust("ecs-tasks.amazonaws.com")),
    );

    await assert.rejects(
      iam.send(new CreateRoleCommand({ RoleName: "TASK-ROLE", AssumeRolePolicyDocument: trust("x") })),
      error("EntityAlreadyExistsException", 409),
    );
    await assert.rejects(
      iam.send(new CreateRoleCommand({ RoleName: "bad", AssumeRolePolicyDocument: "{not json" })),
      error("MalformedPolicyDocumentException", 400),
    );
    await assert.rejects(iam.send(new GetRoleCommand({ RoleName: "nope" })), (e: any) => {
      error("NoSuchEntityException", 404)(e);
      assert.equal(e.message, "The role with name nope cannot be found.");
      return true;
    });

    for (const n of ["r1", "r2", "r3"])
      await iam.send(
        new CreateRoleCommand({ RoleName: n, AssumeRolePolicyDocument: trust("lambda.amazonaws.com") }),
      );
    const first = await iam.send(new ListRolesCommand({ MaxItems: 2 }));
    assert.equal(first.IsTruncated, true);
    assert.deepEqual(
      first.Roles!.map((r) => r.RoleName),
      ["r1", "r2"],
    );
    const second = await iam.send(new ListRolesCommand({ MaxItems: 2, Marker: first.Marker }));
    assert.equal(second.IsTruncated, false);
    assert.deepEqual(
      second.Roles!.map((r) => r.RoleName),
      ["r3", "task-role"],
    );
    const all: string[] = [];
    for await (const p of paginateListRoles({ client: iam, pageSize: 3 }, {}))
      all.push(...p.Roles!.map((r) => r.RoleName!));
    assert.deepEqual(all, ["r1", "r2", "r3", "task-role"]);
    const ecs = await iam.send(new ListRolesCommand({ PathPrefix: "/ecs/" }));
    assert.deepEqual(
      ecs.Roles!.map((r) => r.RoleName),
      ["task-role"],
    );

    await iam.send(
      new UpdateAssumeRolePolicyCommand({ RoleName: "r1", PolicyDocument: trust("ecs-tasks.amazonaws.com") }),
    );
    const r1 = await iam.send(new GetRoleCommand({ RoleName: "r1" }));
    assert.match(decodeURIComponent(r1.Role!.AssumeRolePolicyDocument!), /ecs-tasks/);

    await iam.send(
      new UpdateRoleCommand({ RoleName: "r1", Description: "updated", MaxSessionDuration: 7200 }),
    );
    const updated = (await iam.send(new GetRoleCommand({ RoleName: "r1" }))).Role!;
    assert.equal(updated.Description, "updated");
    assert.equal(updated.MaxSessionDuration, 7200);
    await assert.rejects(
      iam.send(new UpdateRoleCommand({ RoleName: "r1", MaxSessionDuration: 60 })),
      error("ValidationError", 400),
    );
    const profiles = await iam.send(new ListInstanceProfilesForRoleCommand({ RoleName: "r1" }));
    assert.deepEqual(profiles.InstanceProfiles, []);

    await iam.send(new DeleteRoleCommand({ RoleName: "r3" }));
    await assert.rejects(
      iam.send(new DeleteRoleCommand({ RoleName: "r3" })),
      error("NoSuchEntityException", 404),
    );

    assert.equal(roleExists(sim.sim, `arn:aws:iam::${ACCOUNT}:role/ecs/task-role`), true);
    assert.equal(roleExists(sim.sim, `arn:aws:iam::${ACCOUNT}:role/task-role`), false); // wrong path
    assert.equal(roleExists(sim.sim, `arn:aws:iam::${ACCOUNT}:role/r3`), false);
  });

  it("tags and untags roles", async () => {
    await iam.send(
      new TagRoleCommand({
        RoleName: "r1",
        Tags: [
          { Key: "a", Value: "1" },
          { Key: "b", Value: "2" },
        ],
      }),
    );
    await iam.send(new UntagRoleCommand({ RoleName: "r1", TagKeys: ["a"] }));
    const tags = await iam.send(new ListRoleTagsCommand({ RoleName: "r1" }));
    assert.deepEqual(tags.Tags, [{ Key: "b", Value: "2" }]);
    assert.equal(tags.IsTruncated, false);
  });

  it("manages policies, versions and attachments", async () => {
    const { Policy } = await iam.send(
      new CreatePolicyCommand({
        PolicyName: "read",
        PolicyDocument: allow("s3:GetObject"),
        Description: "d",
      }),
    );
    const arn = `arn:aws:iam::${ACCOUNT}:policy/read`;
    assert.equal(Policy!.Arn, arn);
    assert.equal(Policy!.DefaultVersionId, "v1");
    await assert.rejects(
      iam.send(new CreatePolicyCommand({ PolicyName: "read", PolicyDocument: allow("x:y") })),
      error("EntityAlreadyExistsException", 409),
    );
    await assert.rejects(
      iam.send(
        new CreatePolicyCommand({
          PolicyName: "bad",
          PolicyDocument: JSON.stringify({ Version: "2012-10-17" }),
        }),
      ),
      error("MalformedPolicyDocumentException", 400),
    );

    const v2 = await iam.send(
      new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: allow("s3:*"), SetAsDefault: true }),
    );
    assert.equal(v2.PolicyVersion!.VersionId, "v2");
    assert.equal(v2.PolicyVersion!.IsDefaultVersion, true);
    const got = await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: "v2" }));
    assert.match(decodeURIComponent(got.PolicyVersion!.Document!), /s3:\*/);
    const versions = await iam.send(new ListPolicyVersionsCommand({ PolicyArn: arn }));
    assert.deepEqual(
      versions.Versions!.map((v) => [v.VersionId, v.IsDefaultVersion]),
      [
        ["v1", false],
        ["v2", true],
      ],
    );

    await iam.send(new SetDefaultPolicyVersionCommand({ PolicyArn: arn, VersionId: "v1" }));
    assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!.DefaultVersionId, "v1");
    await assert.rejects(
      iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: "v1" })),
      error("DeleteConflictException", 409),
    );
    await iam.send(new SetDefaultPolicyVersionCommand({ PolicyArn: arn, VersionId: "v2" }));

    const managed = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
    await iam.send(new AttachRolePolicyCommand({ RoleName: "r1", PolicyArn: arn }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: "r1", PolicyArn: managed }));
    await assert.rejects(
      iam.send(
        new AttachRolePolicyCommand({ RoleName: "r1", PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/missing` }),
      ),
      error("NoSuchEntityException", 404),
    );
    const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: "r1" }));
    assert.deepEqual(attached.AttachedPolicies!.map((p) => p.PolicyName).sort(), [
      "AmazonECSTaskExecutionRolePolicy",
      "read",
    ]);
    const getManaged = await iam.send(new GetPolicyCommand({ PolicyArn: managed }));
    assert.equal(getManaged.Policy!.Path, "/service-role/");
    assert.equal(getManaged.Policy!.AttachmentCount, 1);
    assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!.AttachmentCount, 1);
    const local = await iam.send(new ListPoliciesCommand({ Scope: "Local" }));
    assert.deepEqual(
      local.Policies!.map((p) => p.PolicyName),
      ["read"],
    );

    await assert.rejects(
      iam.send(new DeleteRoleCommand({ RoleName: "r1" })),
      error("DeleteConflictException", 409),
    );
    await assert.rejects(
      iam.send(new DeletePolicyCommand({ PolicyArn: arn })),
      error("DeleteConflictException", 409),
    );
    await iam.send(new DetachRolePolicyCommand({ RoleName: "r1", PolicyArn: arn }));
    await iam.send(new DetachRolePolicyCommand({ RoleName: "r1", PolicyArn: managed }));
    await assert.rejects(
      iam.send(new DetachRolePolicyCommand({ RoleName: "r1", PolicyArn: arn })),
      error("NoSuchEntityException", 404),
    );
    // versions other than the default have to go first
    await assert.rejects(
      iam.send(new DeletePolicyCommand({ PolicyArn: arn })),
      error("DeleteConflictException", 409),
    );
    await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: "v1" }));
    await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
    await assert.rejects(
      iam.send(new GetPolicyCommand({ PolicyArn: arn })),
      error("NoSuchEntityException", 404),
    );
  });

  it("manages inline role policies", async () => {
    await iam.send(
      new PutRolePolicyCommand({ RoleName: "r2", PolicyName: "inline", PolicyDocument: allow("logs:*") }),
    );
    const got = await iam.send(new GetRolePolicyCommand({ RoleName: "r2", PolicyName: "inline" }));
    assert.deepEqual(JSON.parse(decodeURIComponent(got.PolicyDocument!)), JSON.parse(allow("logs:*")));
    assert.deepEqual((await iam.send(new ListRolePoliciesCommand({ RoleName: "r2" }))).PolicyNames, [
      "inline",
    ]);
    await assert.rejects(
      iam.send(new DeleteRoleCommand({ RoleName: "r2" })),
      error("DeleteConflictException", 409),
    );
    await iam.send(new DeleteRolePolicyCommand({ RoleName: "r2", PolicyName: "inline" }));
    await assert.rejects(
      iam.send(new GetRolePolicyCommand({ RoleName: "r2", PolicyName: "inline" })),
      error("NoSuchEntityException", 404),
    );
    await iam.send(new DeleteRoleCommand({ RoleName: "r2" }));
  });

  it("manages users and their access keys", async () => {
    const { User } = await iam.send(new CreateUserCommand({ UserName: "alice", Path: "/dev/" }));
    assert.equal(User!.Arn, `arn:aws:iam::${ACCOUNT}:user/dev/alice`);
    assert.match(User!.UserId!, /^AIDA/);
    await assert.rejects(
      iam.send(new CreateUserCommand({ UserName: "alice" })),
      error("EntityAlreadyExistsException", 409),
    );
    assert.equal((await iam.send(new GetUserCommand({ UserName: "alice" }))).User!.UserName, "alice");
    assert.deepEqual(
      (await iam.send(new ListUsersCommand({}))).Users!.map((u) => u.UserName),
      ["alice"],
    );

    // signing with the user's key makes the user the caller
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: "alice" }));
    const keys = await iam.send(new ListAccessKeysCommand({ UserName: "alice" }));
    assert.deepEqual(
      keys.AccessKeyMetadata!.map((k) => [k.AccessKeyId, k.Status]),
      [[AccessKey!.AccessKeyId, "Active"]],
    );
    const credentials = {
      accessKeyId: AccessKey!.AccessKeyId!,
      secretAccessKey: AccessKey!.SecretAccessKey!,
    };
    const sts = new STSClient({ ...sim.client, credentials });
    const me = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, User!.Arn);
    assert.equal(me.UserId, User!.UserId);
    const asAlice = new IAMClient({ ...sim.client, credentials });
    assert.equal((await asAlice.send(new GetUserCommand({}))).User!.UserName, "alice");
    sts.destroy();
    asAlice.destroy();
    // the account root without a name
    assert.equal((await iam.send(new GetUserCommand({}))).User!.Arn, `arn:aws:iam::${ACCOUNT}:root`);

    await assert.rejects(
      iam.send(new DeleteUserCommand({ UserName: "alice" })),
      error("DeleteConflictException", 409),
    );
    await iam.send(new DeleteAccessKeyCommand({ UserName: "alice", AccessKeyId: AccessKey!.AccessKeyId }));
    await iam.send(new DeleteUserCommand({ UserName: "alice" }));
    await assert.rejects(
      iam.send(new GetUserCommand({ UserName: "alice" })),
      error("NoSuchEntityException", 404),
    );
  });

  it("works with the aws CLI", async () => {
    const out = await awsCli(
      sim,
      "iam",
      "create-role",
      "--role-name",
      "cli-role",
      "--assume-role-policy-document",
      trust("ecs-tasks.amazonaws.com"),
    );
    assert.equal(out.Role.Arn, `arn:aws:iam::${ACCOUNT}:role/cli-role`);
    // the CLI decodes the URL-encoded document into JSON
    assert.equal(out.Role.AssumeRolePolicyDocument.Statement[0].Principal.Service, "ecs-tasks.amazonaws.com");
  });

  it("keeps roles across a restart", async () => {
    sim = await sim.restart();
    iam.destroy();
    iam = new IAMClient(sim.client);
    const names = (await iam.send(new ListRolesCommand({}))).Roles!.map((r) => r.RoleName);
    assert.deepEqual(names, ["cli-role", "r1", "task-role"]);
    assert.equal(roleExists(sim.sim, `arn:aws:iam::${ACCOUNT}:role/ecs/task-role`), true);
  });
});
