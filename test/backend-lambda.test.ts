// `sockerless serve --backend lambda` on the AWS simulator: containers are Lambda image functions
// whose execution environments run in the reference engine; the docker CLI is the client.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { CloudWatchLogsClient, FilterLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { GetFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import {
  freePort,
  checkLogsCompleteAtExit,
  injectFaults,
  startAwsDaemon,
  startSim,
  useSim,
  type TestSim,
} from "./aws-backend-helpers.js";
import { BUSYBOX, cleanup, docker, dockerOk, type Daemon } from "./helpers.js";

const ROLE = "arn:aws:iam::000000000000:role/sockerless-lambda";
const PREFIX = "cloud-lambda-test-";
const TIMEOUT = 8;
let flags: string[];

let sim: TestSim;
let d: Daemon;
let invokes: Map<string, Answer[]>;
const ok = (args: string[]) => dockerOk(d.host, args, { timeoutMs: 120_000 });
const run = (args: string[]) => docker(d.host, args, { timeoutMs: 120_000 });
const inspect = async (name: string, fmt: string) => (await ok(["inspect", "--format", fmt, name])).trim();

interface Answer {
  functionError?: string;
  payload: unknown;
}

/**
 * What the simulator answered to each Invoke, by function name: observed on its HTTP server (the
 * daemon is another process), so a test sees how Lambda saw the invocation end.
 */
function recordInvokes(s: TestSim): Map<string, Answer[]> {
  const seen = new Map<string, Answer[]>();
  s.server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => {
    const m = /^\/2015-03-31\/functions\/([^/?]+)\/invocations/.exec(req.url ?? "");
    if (!m || req.method !== "POST") return;
    const name = decodeURIComponent(m[1]);
    let functionError: string | undefined;
    const writeHead = res.writeHead.bind(res) as (...a: any[]) => ServerResponse;
    res.writeHead = ((...a: any[]) => {
      functionError ??= a.find((x) => typeof x === "object")?.["X-Amz-Function-Error"];
      return writeHead(...a);
    }) as any;
    const end = res.end.bind(res) as (...a: any[]) => ServerResponse;
    res.end = ((...a: any[]) => {
      const body = Buffer.isBuffer(a[0]) ? a[0].toString() : "";
      if (res.statusCode === 200)
        seen.set(name, [...(seen.get(name) ?? []), { functionError, payload: body && JSON.parse(body) }]);
      return end(...a);
    }) as any;
  });
  return seen;
}

before(async () => {
  sim = await startSim();
  invokes = recordInvokes(sim);
  useSim(sim);
  flags = [
    ...["--lambda-role-arn", ROLE, "--lambda-function-prefix", PREFIX, "--lambda-timeout", String(TIMEOUT)],
    ...["--agent-listen", `127.0.0.1:${await freePort()}`],
  ];
  d = await startAwsDaemon("lambda", flags);
  await ok(["pull", BUSYBOX]);
});
after(async () => {
  await d.stop();
  cleanup(d);
  await sim.cleanup();
});

describe("lambda backend", () => {
  test("docker run --rm prints the invocation's output and exits with its real code", async () => {
    const r = await run([
      "run",
      "--rm",
      BUSYBOX,
      "sh",
      "-c",
      "echo hello from lambda; echo to-stderr >&2; exit 3",
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, "hello from lambda\n");
    assert.equal(r.stderr, "to-stderr\n");
  });

  test("the agent answers its invocation as a Lambda runtime: exit 0 a response, exit 3 an error", async () => {
    const logs = new CloudWatchLogsClient(sim.client);
    for (const [argv, code] of [
      [["true"], 0],
      [["sh", "-c", "exit 3"], 3],
    ] as const) {
      const name = `cloud-lambda-answer-${code}`;
      assert.equal((await run(["run", "--name", name, BUSYBOX, ...argv])).code, code);
      assert.equal((await ok(["wait", name])).trim(), String(code));
      const fn = `${PREFIX}${(await inspect(name, "{{.Id}}")).slice(0, 12)}`;
      assert.deepEqual(
        invokes.get(fn),
        code === 0
          ? [{ functionError: undefined, payload: { exitCode: 0 } }]
          : [
              {
                functionError: "Unhandled",
                payload: { errorType: "Runtime.ExitError", errorMessage: `exit status ${code}` },
              },
            ],
      );
      // Lambda saw an answered invocation, not a runtime that died under it
      const events = await logs.send(new FilterLogEventsCommand({ logGroupName: `/aws/lambda/${fn}` }));
      const lines = (events.events ?? []).map((e) => e.message ?? "");
      assert.equal(lines.filter((l) => l.startsWith("REPORT RequestId: ")).length, 1, lines.join("\n"));
      assert.ok(!lines.some((l) => /Runtime exited|Status: error/.test(l)), lines.join("\n"));
      await ok(["rm", name]);
    }
  });

  test("exec, stdin, cp and stop during the invocation, through the agent", async () => {
    await ok(["run", "-d", "--name", "cloud-lambda-exec", "-e", "FROM_RUN=yes", BUSYBOX, "sleep", "600"]);
    assert.equal(
      await ok(["exec", "-w", "/tmp", "cloud-lambda-exec", "sh", "-c", "echo $FROM_RUN $(pwd)"]),
      "yes /tmp\n",
    );
    const piped = await docker(d.host, ["exec", "-i", "cloud-lambda-exec", "tr", "a-z", "A-Z"], {
      input: "stdin\n",
      timeoutMs: 60_000,
    });
    assert.equal(piped.stdout, "STDIN\n");
    const dir = mkdtempSync(path.join(os.tmpdir(), "cloud-lambda-cp-"));
    writeFileSync(path.join(dir, "f"), "through cp\n");
    await ok(["cp", path.join(dir, "f"), "cloud-lambda-exec:/tmp/f"]);
    await ok(["cp", "cloud-lambda-exec:/tmp/f", path.join(dir, "back")]);
    assert.equal(readFileSync(path.join(dir, "back"), "utf8"), "through cp\n");
    rmSync(dir, { recursive: true, force: true });
    await ok(["stop", "cloud-lambda-exec"]);
    // as with dockerd: `sleep` as PID 1 has no SIGTERM handler, so stop kills it after its timeout
    assert.equal(await inspect("cloud-lambda-exec", "{{.State.Status}} {{.State.ExitCode}}"), "exited 137");
    const cp = await run(["cp", "cloud-lambda-exec:/tmp/f", "-"]);
    assert.match(cp.stderr, /docker cp needs the container running on the lambda backend/);
    await ok(["rm", "cloud-lambda-exec"]);
  });

  test("run -d, logs -f, wait, rm; the container is a real function", async () => {
    const id = (
      await ok([
        "run",
        "-d",
        "--name",
        "cloud-lambda-logs",
        BUSYBOX,
        "sh",
        "-c",
        "for i in 1 2 3; do echo line $i; sleep 1; done",
      ])
    ).trim();
    assert.equal(await ok(["logs", "-f", "cloud-lambda-logs"]), "line 1\nline 2\nline 3\n");
    assert.equal((await ok(["wait", "cloud-lambda-logs"])).trim(), "0");
    const lambda = new LambdaClient(sim.client);
    const fn = await lambda.send(new GetFunctionCommand({ FunctionName: `${PREFIX}${id.slice(0, 12)}` }));
    assert.equal(fn.Configuration?.PackageType, "Image");
    // the start's run id: after a restart, the daemon takes only that start's agent
    assert.match(fn.Tags?.["sockerless-run"] ?? "", /^[0-9a-f]{16}$/);
    await ok(["rm", "cloud-lambda-logs"]);
    await assert.rejects(
      lambda.send(new GetFunctionCommand({ FunctionName: `${PREFIX}${id.slice(0, 12)}` })),
      /not found/i,
    );
  });

  test("a container that outlives the function timeout gets a clear error", async () => {
    const r = await run(["run", "--name", "cloud-lambda-timeout", BUSYBOX, "sleep", "600"]);
    assert.equal(r.code, 137);
    assert.match(
      await inspect("cloud-lambda-timeout", "{{.State.Error}}"),
      new RegExp(`outlived the Lambda function timeout \\(${TIMEOUT} s\\)`),
    );
    await ok(["rm", "cloud-lambda-timeout"]);
  });

  test("what Lambda cannot do answers 501 naming the limitation", async () => {
    const ports = await run(["create", "-p", "8080:80", BUSYBOX, "true"]);
    assert.notEqual(ports.code, 0);
    assert.match(ports.stderr, /published ports are not supported by the lambda backend/);
    const vol = await run(["create", "-v", "cloud-lambda-vol:/data", BUSYBOX, "true"]);
    assert.match(vol.stderr, /volumes are not supported by the lambda backend/);
  });

  test("throttled Lambda calls are retried", async () => {
    await injectFaults(sim, [
      {
        operation: "lambda:CreateFunction",
        kind: "throttle",
        count: 2,
        code: "TooManyRequestsException",
        status: 429,
      },
      { operation: "lambda:Invoke", kind: "error", count: 1, status: 503, code: "ServiceException" },
    ]);
    assert.equal(await ok(["run", "--rm", BUSYBOX, "echo", "after throttling"]), "after throttling\n");
  });

  test("the exit waits for the last lines to reach CloudWatch Logs", () =>
    checkLogsCompleteAtExit(sim, d.host, "cloud-lambda-late-logs"));

  test("a restarted daemon, and a second one with another data root, find the containers", async () => {
    await ok(["create", "--name", "cloud-lambda-created", "--label", "k=v", BUSYBOX, "echo", "x"]);
    assert.equal(
      (
        await run([
          "run",
          "--name",
          "cloud-lambda-done",
          BUSYBOX,
          "sh",
          "-c",
          "echo recovered output; exit 7",
        ])
      ).code,
      7,
    );
    await ok([
      "run",
      "-d",
      "--name",
      "cloud-lambda-running",
      BUSYBOX,
      "sh",
      "-c",
      // runs until told (the function timeout is short): across the daemon's restart
      "until [ -f /tmp/go ]; do sleep 0.1; done; echo late line; exit 4",
    ]);
    d = await d.restart();
    assert.equal(
      await inspect("cloud-lambda-created", '{{.State.Status}} {{index .Config.Labels "k"}}'),
      "created v",
    );
    // the running invocation's agent is bound again (the function's run tag names its start)
    assert.equal(await inspect("cloud-lambda-running", "{{.State.Running}}"), "true");
    assert.equal(await ok(["exec", "cloud-lambda-running", "echo", "after restart"]), "after restart\n");
    await ok(["exec", "cloud-lambda-running", "touch", "/tmp/go"]);
    assert.equal((await ok(["wait", "cloud-lambda-running"])).trim(), "4");
    assert.equal(await ok(["logs", "cloud-lambda-running"]), "late line\n");
    await ok(["rm", "cloud-lambda-running"]);
    assert.equal(await inspect("cloud-lambda-done", "{{.State.Status}} {{.State.ExitCode}}"), "exited 7");
    assert.equal(await ok(["logs", "cloud-lambda-done"]), "recovered output\n");
    const other = await startAwsDaemon(
      "lambda",
      [...flags.slice(0, 6), "--agent-listen", "127.0.0.1:0"],
      mkdtempSync(path.join(os.tmpdir(), "sockerless-lambda2-")),
    );
    try {
      const names = (await dockerOk(other.host, ["ps", "-a", "--format", "{{.Names}}"])).split("\n");
      for (const n of ["cloud-lambda-created", "cloud-lambda-done"])
        assert.ok(names.includes(n), names.join(","));
      await dockerOk(other.host, ["rm", "cloud-lambda-created", "cloud-lambda-done"]);
    } finally {
      await other.stop();
      cleanup(other);
    }
    d = await d.restart();
    assert.equal((await ok(["ps", "-a", "--format", "{{.Names}}"])).includes("cloud-lambda-"), false);
  });
});
