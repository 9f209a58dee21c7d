import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { CloudWatchLogsClient, FilterLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CreateRepositoryCommand, ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  ListFunctionsCommand,
  ListTagsCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  type CreateFunctionCommandInput,
  type InvokeCommandOutput,
} from "@aws-sdk/client-lambda";
import Docker from "dockerode";
import { pack } from "tar-stream";
import { BUSYBOX, REGISTRY, dockerHost, startSim, type TestSim } from "./helpers.js";

const exec = promisify(execFile);
const ROLE = "arn:aws:iam::000000000000:role/lambda-test";
const run = randomBytes(3).toString("hex");

/**
 * A Lambda custom runtime in busybox sh: it long-polls the Runtime API, prints the event, and
 * answers with the event echoed plus the environment's log stream name (one per execution
 * environment) and a per-environment counter. Special events: "fail" (runtime error post),
 * "crash" (exit 3), "huge" (a 6.4 MB response), "sleep" (5 s), "pause" (1 s), "answer-exit"
 * (answer, then exit 0 a second later, without asking for the next event), and {"callback": url}
 * (GET url first). With INIT_FAIL set it reports an init error and exits.
 */
const BOOTSTRAP = `#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
count=0
echo "init in $AWS_LAMBDA_LOG_STREAM_NAME"
if [ -n "$INIT_FAIL" ]; then
  printf '{"errorMessage":"cannot start","errorType":"InitError"}' >/tmp/out
  wget -q -O /dev/null --header 'Lambda-Runtime-Function-Error-Type: InitError' --post-file=/tmp/out "$api/init/error"
  exit 1
fi
while true; do
  wget -q -S -O /tmp/event "$api/invocation/next" 2>/tmp/headers || exit 1
  id=$(grep -i 'Lambda-Runtime-Aws-Request-Id' /tmp/headers | sed 's/.*: *//' | tr -d '\\r ')
  event=$(cat /tmp/event)
  count=$((count + 1))
  echo "handling $event"
  case "$event" in
    *answer-exit*)
      printf '{"answered":true}' >/tmp/out
      wget -q -O /dev/null --post-file=/tmp/out "$api/invocation/$id/response"
      sleep 1; exit 0 ;;
    *fail*)
      printf '{"errorMessage":"failed on purpose","errorType":"HandlerError"}' >/tmp/out
      wget -q -O /dev/null --header 'Lambda-Runtime-Function-Error-Type: HandlerError' --post-file=/tmp/out "$api/invocation/$id/error"
      continue ;;
    *crash*) echo "crashing"; exit 3 ;;
    *huge*)
      head -c 6400000 /dev/zero | tr '\\0' a >/tmp/big
      wget -q -O /dev/null --post-file=/tmp/big "$api/invocation/$id/response"
      continue ;;
    *sleep*) sleep 5 ;;
    *pause*) sleep 1 ;;
    *callback*) timeout 5 wget -q -O /dev/null "$(echo "$event" | sed 's/.*"callback":"\\([^"]*\\)".*/\\1/')" ;;
  esac
  printf '{"echo":%s,"count":%d,"env":"%s","greeting":"%s","cwd":"%s"}' "$event" "$count" "$AWS_LAMBDA_LOG_STREAM_NAME" "$GREETING" "$(pwd)" >/tmp/out
  wget -q -O /dev/null --post-file=/tmp/out "$api/invocation/$id/response"
done
`;

/** Build the runtime image without a Docker build: busybox + /bootstrap, committed by the engine. */
async function buildRuntimeImage(docker: Docker, repo: string, tag: string): Promise<string> {
  const p = pack();
  p.entry({ name: "bootstrap", mode: 0o755 }, BOOTSTRAP);
  p.entry({ name: "var/task", type: "directory", mode: 0o755 });
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  const c = await docker.createContainer({ Image: BUSYBOX, Cmd: ["true"] });
  try {
    await c.putArchive(Buffer.concat(chunks), { path: "/" });
    const out = await c.commit({ repo, tag, changes: ['CMD ["/bootstrap"]'] });
    return out.Id as string;
  } finally {
    await c.remove({ force: true });
  }
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const payloadOf = (out: InvokeCommandOutput) => JSON.parse(Buffer.from(out.Payload ?? []).toString("utf8"));

describe("lambda", { timeout: 120_000 }, () => {
  let t: TestSim;
  let lambda: LambdaClient;
  let docker: Docker;
  let imageUri: string;
  const localImages: string[] = [];

  const spec = (
    name: string,
    extra: Partial<CreateFunctionCommandInput> = {},
  ): CreateFunctionCommandInput => ({
    FunctionName: name,
    Role: ROLE,
    PackageType: "Image",
    Code: { ImageUri: imageUri },
    ...extra,
  });

  const createActive = async (name: string, extra: Partial<CreateFunctionCommandInput> = {}) => {
    const created = await lambda.send(new CreateFunctionCommand(spec(name, extra)));
    await waitFor(`${name} Active`, async () => {
      const c = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
      assert.notEqual(c.State, "Failed", c.StateReason);
      return c.State === "Active" ? c : undefined;
    });
    return created;
  };

  const invoke = (name: string, payload: unknown, extra: Record<string, string> = {}) =>
    lambda.send(
      new InvokeCommand({
        FunctionName: name,
        Payload: Buffer.from(JSON.stringify(payload)),
        ...extra,
      }),
    );

  before(async () => {
    t = await startSim();
    lambda = new LambdaClient(t.client);
    const h = dockerHost();
    docker = new Docker({ socketPath: h.slice("unix://".length) });
    const ecr = new ECRClient(t.client);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: "lambda-test/runtime" }));
    const repo = `${t.sim.registryHost}/lambda-test/runtime`;
    localImages.push(await buildRuntimeImage(docker, repo, run));
    // push with the credentials ECR hands out, as `docker login` would use them
    const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0];
    const password = Buffer.from(token.authorizationToken!, "base64").toString().slice("AWS:".length);
    const stream = await docker.getImage(`${repo}:${run}`).push({
      authconfig: { username: "AWS", password, serveraddress: t.sim.registryHost },
    });
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, events: { error?: string }[]) => {
        const failed = events.find((e) => e.error);
        if (err || failed) reject(err ?? new Error(failed!.error));
        else resolve();
      }),
    );
    imageUri = `${repo}:${run}`;
  });

  after(async () => {
    await t.cleanup();
    for (const id of localImages)
      await docker
        .getImage(id)
        .remove({ force: true })
        .catch(() => {});
  });

  test("CreateFunction pulls the image: Pending, then Active with the image digest", async () => {
    const created = await lambda.send(
      new CreateFunctionCommand(
        spec("echo", {
          Environment: { Variables: { GREETING: "hi" } },
          ImageConfig: { WorkingDirectory: "/var/task" },
          Tags: { team: "sim" },
        }),
      ),
    );
    assert.equal(created.State, "Pending");
    assert.equal(created.StateReasonCode, "Creating");
    assert.equal(created.Timeout, 3);
    assert.equal(created.MemorySize, 128);
    assert.equal(created.PackageType, "Image");
    assert.equal(created.FunctionArn, "arn:aws:lambda:us-east-1:000000000000:function:echo");
    const active = await waitFor("Active", async () => {
      const f = await lambda.send(new GetFunctionCommand({ FunctionName: "echo" }));
      return f.Configuration?.State === "Active" ? f : undefined;
    });
    assert.equal(active.Configuration?.LastUpdateStatus, "Successful");
    assert.equal(active.Code?.RepositoryType, "ECR");
    assert.equal(active.Code?.ImageUri, imageUri);
    assert.match(active.Code?.ResolvedImageUri ?? "", /@sha256:[a-f0-9]{64}$/);
    assert.equal(active.Code?.ResolvedImageUri?.split("@sha256:")[1], active.Configuration?.CodeSha256);
    assert.deepEqual(active.Tags, { team: "sim" });
    assert.deepEqual(active.Configuration?.ImageConfigResponse?.ImageConfig, {
      WorkingDirectory: "/var/task",
    });
  });

  test("Invoke runs the handler in a container and returns its payload; warm reuse", async () => {
    const first = await invoke("echo", { hello: "world" });
    assert.equal(first.StatusCode, 200);
    assert.equal(first.FunctionError, undefined);
    assert.equal(first.ExecutedVersion, "$LATEST");
    const p1 = payloadOf(first);
    assert.deepEqual(p1.echo, { hello: "world" });
    assert.equal(p1.greeting, "hi");
    assert.equal(p1.cwd, "/var/task");
    assert.match(p1.env, /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][a-f0-9]{32}$/);
    const second = payloadOf(await invoke("echo", { n: 2 }));
    assert.equal(second.env, p1.env, "same execution environment");
    assert.equal(second.count, p1.count + 1);
  });

  test("concurrent invocations get separate execution environments", async () => {
    const [a, b] = await Promise.all([invoke("echo", "pause"), invoke("echo", "pause")]);
    assert.notEqual(payloadOf(a).env, payloadOf(b).env);
  });

  test("X-Amz-Log-Type Tail returns the invocation's log", async () => {
    const out = await invoke("echo", { tail: 1 }, { LogType: "Tail" });
    const log = Buffer.from(out.LogResult ?? "", "base64").toString("utf8");
    const lines = log.trim().split("\n");
    assert.match(lines[0], /^START RequestId: [0-9a-f-]{36} Version: \$LATEST$/);
    assert.ok(lines.includes('handling {"tail":1}'), log);
    assert.match(lines.at(-2) ?? "", /^END RequestId: /);
    assert.match(
      lines.at(-1) ?? "",
      /^REPORT RequestId: .*\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB/,
    );
  });

  test("a runtime error is FunctionError Unhandled with the runtime's payload", async () => {
    const out = await invoke("echo", "fail");
    assert.equal(out.StatusCode, 200);
    assert.equal(out.FunctionError, "Unhandled");
    assert.deepEqual(payloadOf(out), { errorMessage: "failed on purpose", errorType: "HandlerError" });
    // the environment survives a handled error
    assert.equal(payloadOf(await invoke("echo", "ok")).echo, "ok");
  });

  test("a runtime that exits is Runtime.ExitError, and the next invocation starts afresh", async () => {
    const before = payloadOf(await invoke("echo", "x")).env;
    const out = await invoke("echo", "crash", { LogType: "Tail" });
    assert.equal(out.FunctionError, "Unhandled");
    const p = payloadOf(out);
    assert.equal(p.errorType, "Runtime.ExitError");
    assert.match(p.errorMessage, /^RequestId: \S+ Error: Runtime exited with error: exit status 3$/);
    assert.match(Buffer.from(out.LogResult!, "base64").toString(), /crashing\n/);
    // the environment that crashed (the one that ran "x": the pool reuses the first idle one) is gone
    const id = before.slice(before.indexOf("]") + 1);
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`sockerless.sim-aws.lambda.environment=${id}`] },
    });
    assert.equal(left.length, 0);
    assert.notEqual(payloadOf(await invoke("echo", "y")).env, before);
  });

  test("a runtime that answers and then exits: no error, and its environment is not reused", async () => {
    await createActive("answers"); // its own pool: the only environment is the one that exits
    const out = await invoke("answers", "answer-exit", { LogType: "Tail" });
    assert.equal(out.FunctionError, undefined);
    assert.deepEqual(payloadOf(out), { answered: true });
    const log = Buffer.from(out.LogResult!, "base64").toString();
    assert.doesNotMatch(log, /Runtime exited/);
    assert.match(log, /\nREPORT RequestId: /);
    // invoked while that runtime still runs (it exits 1 s later): a new environment answers
    const next = await invoke("answers", "after-exit");
    assert.equal(next.FunctionError, undefined, Buffer.from(next.Payload ?? []).toString());
    assert.equal(payloadOf(next).echo, "after-exit");
    assert.equal(payloadOf(next).count, 1, "a fresh environment");
    await lambda.send(new DeleteFunctionCommand({ FunctionName: "answers" }));
  });

  test("a response over 6 MB is Function.ResponseSizeTooLarge; an init error is returned as is", async () => {
    const huge = await invoke("echo", "huge");
    assert.equal(huge.FunctionError, "Unhandled");
    assert.equal(payloadOf(huge).errorType, "Function.ResponseSizeTooLarge");
    assert.equal(payloadOf(await invoke("echo", "still-alive")).echo, "still-alive");

    await createActive("broken", { Environment: { Variables: { INIT_FAIL: "1" } } });
    const out = await invoke("broken", {});
    assert.equal(out.FunctionError, "Unhandled");
    assert.deepEqual(payloadOf(out), { errorMessage: "cannot start", errorType: "InitError" });
    await lambda.send(new DeleteFunctionCommand({ FunctionName: "broken" }));
  });

  test("an invocation over the Timeout is killed: Sandbox.Timedout", async () => {
    await createActive("slow", { Timeout: 1 });
    const t0 = Date.now();
    const out = await invoke("slow", "sleep", { LogType: "Tail" });
    const took = Date.now() - t0;
    assert.equal(out.FunctionError, "Unhandled");
    const p = payloadOf(out);
    assert.equal(p.errorType, "Sandbox.Timedout");
    assert.match(p.errorMessage, /^RequestId: \S+ Error: Task timed out after 1\.00 seconds$/);
    assert.ok(took < 4000, `took ${took} ms`);
    const log = Buffer.from(out.LogResult!, "base64").toString();
    assert.match(log, /Z \S+ Task timed out after 1\.00 seconds\n/);
    assert.match(log, /Status: timeout/);
    const envs = await docker.listContainers({
      all: true,
      filters: {
        label: [
          "sockerless.sim-aws.lambda.function=arn:aws:lambda:us-east-1:000000000000:function:slow",
          `sockerless.sim-aws.data-dir=${t.dataDir}`, // not another simulator's "slow"
        ],
      },
    });
    assert.equal(envs.length, 0, "the timed-out environment is gone");
  });

  test("Event invocations run asynchronously (202) and log to CloudWatch Logs", async () => {
    let hit: () => void = () => {};
    const called = new Promise<void>((r) => (hit = r));
    const server = http.createServer((req, res) => {
      res.end("ok");
      if (req.url === "/hit") hit();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    let out: InvokeCommandOutput;
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hit`;
      out = await invoke("echo", { callback: url }, { InvocationType: "Event" });
      assert.equal(out.StatusCode, 202);
      assert.equal(Buffer.from(out.Payload ?? []).length, 0);
      await called;
    } finally {
      server.close();
    }
    // its lines in CloudWatch Logs, between the platform's START and REPORT for that request
    const requestId = out.$metadata.requestId!;
    const logs = new CloudWatchLogsClient(t.client);
    const events = await waitFor("log lines", async () => {
      const r = await logs.send(new FilterLogEventsCommand({ logGroupName: "/aws/lambda/echo" }));
      const mine = (r.events ?? []).filter(
        (e) => e.message?.includes(requestId) || e.message?.includes('"callback"'),
      );
      return mine.some((e) => e.message?.startsWith(`REPORT RequestId: ${requestId}`)) ? mine : undefined;
    });
    assert.equal(events[0].message, `START RequestId: ${requestId} Version: $LATEST`);
    assert.match(events[1].message!, /^handling \{"callback":"http:\/\/127\.0\.0\.1:\d+\/hit"\}$/);
    assert.match(events[1].logStreamName!, /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][a-f0-9]{32}$/);
    assert.ok(
      events.every((e) => e.logStreamName === events[0].logStreamName),
      "one execution environment's stream",
    );
  });

  test("DryRun validates and returns 204 without running", async () => {
    const out = await invoke("echo", {}, { InvocationType: "DryRun" });
    assert.equal(out.StatusCode, 204);
  });

  test("errors: unknown function, duplicate, Zip, bad role, bad payloads", async () => {
    await assert.rejects(invoke("nope", {}), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(e.name, "ResourceNotFoundException");
      assert.equal(e.$metadata?.httpStatusCode, 404);
      assert.equal(e.message, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope");
      return true;
    });
    await assert.rejects(lambda.send(new GetFunctionCommand({ FunctionName: "echo", Qualifier: "7" })), {
      name: "ResourceNotFoundException",
    });
    await assert.rejects(
      lambda.send(new CreateFunctionCommand(spec("echo"))),
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(e.name, "ResourceConflictException");
        assert.equal(e.$metadata?.httpStatusCode, 409);
        return true;
      },
    );
    await assert.rejects(
      lambda.send(
        new CreateFunctionCommand({
          FunctionName: "zip",
          Role: ROLE,
          Runtime: "nodejs20.x",
          Handler: "i.h",
          Code: { ZipFile: Buffer.from("PK") },
        }),
      ),
      (e: Error) => e.name === "InvalidParameterValueException" && /Zip/.test(e.message),
    );
    await assert.rejects(lambda.send(new CreateFunctionCommand(spec("r", { Role: undefined }))), {
      name: "ValidationException",
      message: /Value null at 'role'/,
    });
    await assert.rejects(lambda.send(new CreateFunctionCommand(spec("r", { Role: "not-a-role" }))), {
      name: "ValidationException",
    });
    await assert.rejects(lambda.send(new CreateFunctionCommand(spec("t", { Timeout: 0 }))), {
      name: "ValidationException",
    });
    await assert.rejects(
      lambda.send(
        new CreateFunctionCommand(spec("env", { Environment: { Variables: { AWS_REGION: "x" } } })),
      ),
      { name: "InvalidParameterValueException" },
    );
    await assert.rejects(
      lambda.send(
        new CreateFunctionCommand(
          spec("noimg", { Code: { ImageUri: `${t.sim.registryHost}/lambda-test/runtime:missing` } }),
        ),
      ),
      (e: Error) => e.name === "InvalidParameterValueException" && /does not exist/.test(e.message),
    );
    // an image the engine cannot pull: the function ends up Failed and cannot be invoked
    await lambda.send(
      new CreateFunctionCommand(
        spec("unpullable", { Code: { ImageUri: `${REGISTRY}/no-such-image:${run}` } }),
      ),
    );
    const failed = await waitFor("Failed", async () => {
      const c = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: "unpullable" }));
      return c.State === "Failed" ? c : undefined;
    });
    assert.equal(failed.StateReasonCode, "ImageAccessDenied");
    assert.match(failed.StateReason ?? "", /no-such-image/);
    await assert.rejects(invoke("unpullable", {}), { name: "ResourceConflictException" });
    await lambda.send(new DeleteFunctionCommand({ FunctionName: "unpullable" }));

    const big = Buffer.alloc(6 * 1024 * 1024 + 10, 0x20);
    await assert.rejects(
      lambda.send(new InvokeCommand({ FunctionName: "echo", Payload: big })),
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(e.name, "RequestTooLargeException");
        assert.equal(e.$metadata?.httpStatusCode, 413);
        return true;
      },
    );
    await assert.rejects(
      lambda.send(new InvokeCommand({ FunctionName: "echo", Payload: Buffer.from("{not json") })),
      { name: "InvalidRequestContentException" },
    );
  });

  test("UpdateFunctionConfiguration applies to new environments; UpdateFunctionCode re-pulls", async () => {
    const updated = await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: "echo",
        Environment: { Variables: { GREETING: "hello again" } },
        MemorySize: 256,
      }),
    );
    assert.equal(updated.LastUpdateStatus, "InProgress");
    await waitFor("update", async () => {
      const c = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: "echo" }));
      return c.LastUpdateStatus === "Successful" ? c : undefined;
    });
    const p = payloadOf(await invoke("echo", "after-update"));
    assert.equal(p.greeting, "hello again");
    assert.equal(p.count, 1, "a fresh environment");

    const code = await lambda.send(
      new UpdateFunctionCodeCommand({ FunctionName: "echo", ImageUri: imageUri }),
    );
    assert.equal(code.LastUpdateStatus, "InProgress");
    const done = await waitFor("code update", async () => {
      const c = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: "echo" }));
      return c.LastUpdateStatus === "Successful" ? c : undefined;
    });
    assert.equal(done.MemorySize, 256);
    assert.equal(payloadOf(await invoke("echo", "after-code")).echo, "after-code");
  });

  test("ListFunctions pages with MaxItems/Marker; tags", async () => {
    const names: string[] = [];
    let marker: string | undefined;
    do {
      const page = await lambda.send(new ListFunctionsCommand({ MaxItems: 1, Marker: marker }));
      assert.ok((page.Functions ?? []).length <= 1, "one per page");
      names.push(...(page.Functions ?? []).map((f) => f.FunctionName!));
      marker = page.NextMarker;
    } while (marker);
    assert.deepEqual(names, ["echo", "slow"]);

    const arn = "arn:aws:lambda:us-east-1:000000000000:function:echo";
    await lambda.send(new TagResourceCommand({ Resource: arn, Tags: { env: "test" } }));
    assert.deepEqual((await lambda.send(new ListTagsCommand({ Resource: arn }))).Tags, {
      team: "sim",
      env: "test",
    });
    await lambda.send(new UntagResourceCommand({ Resource: arn, TagKeys: ["team"] }));
    assert.deepEqual((await lambda.send(new ListTagsCommand({ Resource: arn }))).Tags, { env: "test" });
  });

  test("aws CLI: lambda invoke with --log-type Tail", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "lambda-cli-"));
    try {
      const outFile = path.join(dir, "out.json");
      const { stdout } = await exec(
        "aws",
        [
          "lambda",
          "invoke",
          "--function-name",
          "echo",
          "--payload",
          '{"cli":true}',
          "--log-type",
          "Tail",
          outFile,
        ],
        { env: { ...process.env, ...t.cliEnv } },
      );
      const meta = JSON.parse(stdout);
      assert.equal(meta.StatusCode, 200);
      assert.match(Buffer.from(meta.LogResult, "base64").toString(), /handling \{"cli":true\}/);
      assert.deepEqual(JSON.parse(readFileSync(outFile, "utf8")).echo, { cli: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("functions persist across a restart and still run", async () => {
    t = await t.restart();
    lambda = new LambdaClient(t.client);
    const c = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: "echo" }));
    assert.equal(c.State, "Active");
    assert.equal(c.MemorySize, 256);
    const p = payloadOf(await invoke("echo", "after-restart"));
    assert.equal(p.echo, "after-restart");
    assert.equal(p.count, 1);
  });

  test("DeleteFunction stops its execution environments", async () => {
    const env = payloadOf(await invoke("echo", "warm")).env as string;
    const label = `sockerless.sim-aws.lambda.environment=${env.slice(env.indexOf("]") + 1)}`;
    const before = await docker.listContainers({ all: true, filters: { label: [label] } });
    assert.deepEqual(
      before.map((c) => c.State),
      ["running"],
      "the environment's container runs",
    );
    await lambda.send(new DeleteFunctionCommand({ FunctionName: "echo" }));
    assert.equal((await docker.listContainers({ all: true, filters: { label: [label] } })).length, 0);
    await assert.rejects(lambda.send(new GetFunctionCommand({ FunctionName: "echo" })), {
      name: "ResourceNotFoundException",
    });
  });
});
