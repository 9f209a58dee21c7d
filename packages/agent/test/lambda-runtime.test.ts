/**
 * The agent as a Lambda runtime client, against a Runtime API served by the test: the module on
 * its own, then the real agent (reverse mode, --hold, as the lambda backend runs it) in the
 * reference engine with host networking.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type Docker from "dockerode";
import { ReverseAgentHub, type AgentLayer } from "../src/index.js";
import { takeLambdaInvocation } from "../src/agent/lambda-runtime.js";
import { buildWithAgent, freePort, refDocker, REGISTRY, until } from "./helpers.js";

interface Post {
  path: string;
  errorType?: string;
  body: unknown;
}

/** A Runtime API with one invocation, handed out after `holdNextMs`; records what is posted. */
class RuntimeApi {
  readonly posts: Post[] = [];
  nextAsked = 0;
  onPost: (p: Post) => void = () => {};
  private server!: Server;
  constructor(
    readonly requestId = `req-${randomUUID()}`,
    private readonly holdNextMs = 0,
  ) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): void {
    this.server.closeAllConnections();
    this.server.close();
  }

  private async serve(req: IncomingMessage, res: import("node:http").ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method === "GET" && req.url === "/2018-06-01/runtime/invocation/next") {
      this.nextAsked++;
      await new Promise((r) => setTimeout(r, this.holdNextMs));
      res
        .writeHead(200, { "Lambda-Runtime-Aws-Request-Id": this.requestId })
        .end(JSON.stringify({ sockerlessRun: `run-of-${this.requestId}` }));
      return;
    }
    const p: Post = {
      path: `${req.method} ${req.url}`,
      errorType: req.headers["lambda-runtime-function-error-type"] as string | undefined,
      body: JSON.parse(Buffer.concat(chunks).toString() || "null"),
    };
    this.posts.push(p);
    this.onPost(p);
    res.writeHead(202, { "Content-Type": "application/json" }).end('{"status":"OK"}');
  }
}

const path = (api: RuntimeApi, kind: string) =>
  `POST /2018-06-01/runtime/invocation/${api.requestId}/${kind}`;

describe("lambda-runtime (the module)", () => {
  it("does nothing outside Lambda", () => {
    assert.equal(
      takeLambdaInvocation(() => assert.fail("logged"), {}),
      undefined,
    );
  });

  it("takes the invocation and answers exit 0 with a response, others with Runtime.ExitError", async () => {
    for (const [code, reason] of [
      [0, undefined],
      [127, 'exec: "nope": executable file not found in $PATH'],
    ] as const) {
      const api = new RuntimeApi(undefined, 300); // still in flight when report is called
      const lines: string[] = [];
      const inv = takeLambdaInvocation((m) => lines.push(m), { AWS_LAMBDA_RUNTIME_API: await api.start() })!;
      await inv.report(code, reason);
      assert.equal(await inv.requestId, api.requestId);
      assert.equal(await inv.run, `run-of-${api.requestId}`); // the daemon's start id, from the event
      if (code === 0) {
        assert.deepEqual(api.posts, [
          { path: path(api, "response"), errorType: undefined, body: { exitCode: 0 } },
        ]);
        assert.deepEqual(lines, []);
      } else {
        const errorMessage = `exit status 127: ${reason}`;
        assert.deepEqual(api.posts, [
          {
            path: path(api, "error"),
            errorType: "Runtime.ExitError",
            body: { errorType: "Runtime.ExitError", errorMessage },
          },
        ]);
        // the exit code stays in the function's log, with the request id
        assert.deepEqual(lines, [`RequestId: ${api.requestId} Error: Runtime.ExitError: ${errorMessage}`]);
      }
      // a second report (it is the agent's exit path) posts nothing more
      await inv.report(code, reason);
      assert.equal(api.posts.length, 1);
      api.stop();
    }
  });

  it("an unreachable Runtime API is logged, and reporting still returns", async () => {
    const lines: string[] = [];
    const addr = `127.0.0.1:${await freePort()}`;
    const inv = takeLambdaInvocation((m) => lines.push(m), { AWS_LAMBDA_RUNTIME_API: addr })!;
    assert.equal(await inv.requestId, undefined);
    await inv.report(3);
    assert.match(
      lines[0],
      new RegExp(`^cannot take the Lambda invocation from the Runtime API \\(${addr}\\): .*ECONNREFUSED`),
    );
    assert.equal(lines[1], "exit code 3 not reported to Lambda: no invocation was taken");
  });
});

describe("the agent in Lambda (reference engine)", () => {
  const docker = refDocker();
  let image: string;
  let layer: AgentLayer;
  let hub: ReverseAgentHub;
  let server: Server;
  let callback: string;
  const containers: string[] = [];

  before(async () => {
    ({ image, layer } = await buildWithAgent(
      docker,
      "agent-test-busybox",
      `FROM ${REGISTRY}/busybox:latest\nADD agent-layer.tar /\n`,
    ));
    hub = new ReverseAgentHub();
    server = createServer((_req, res) => res.writeHead(404).end());
    server.on("upgrade", (req, socket, head) => hub.handleUpgrade(req, socket, head));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    callback = `http://127.0.0.1:${(server.address() as AddressInfo).port}/agent/connect`;
  });
  after(async () => {
    server.close();
    for (const id of containers)
      await docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => {});
  });

  /** Run the agent as the lambda backend does: reverse mode, held, with AWS_LAMBDA_RUNTIME_API. */
  async function runInLambda(argv: string[], runtimeApi: string) {
    const id = `lrt-${randomUUID()}`;
    hub.expect(id, "lrt-token");
    const c = await docker.createContainer({
      Image: image,
      Entrypoint: layer.entrypoint,
      Cmd: ["--callback", callback, "--id", id, "--hold", "--grace", "5", "--", ...argv],
      Env: ["SOCKERLESS_AGENT_TOKEN=lrt-token", `AWS_LAMBDA_RUNTIME_API=${runtimeApi}`],
      HostConfig: { NetworkMode: "host" },
    });
    containers.push(c.id);
    await c.start();
    return { c, session: await hub.waitFor(id, 20_000) };
  }

  const logsOf = async (c: Docker.Container) =>
    ((await c.logs({ stdout: true, stderr: true })) as unknown as Buffer).toString("latin1");

  for (const code of [0, 3])
    it(`takes the invocation while held and answers it after the daemon read exit code ${code}`, async () => {
      const api = new RuntimeApi();
      const addr = await api.start();
      let daemonHadExit = false;
      // whether the daemon had the exit code when the agent answered the invocation
      const posted = new Promise<[Post, boolean]>((r) => (api.onPost = (p) => r([p, daemonHadExit])));
      const { c, session } = await runInLambda(
        ["sh", "-c", `echo "api=$AWS_LAMBDA_RUNTIME_API"; exit ${code}`],
        addr,
      );
      void session.mainExited.then(() => (daemonHadExit = true));
      await until(
        () => api.nextAsked === 1,
        10_000,
        "the agent asks for its invocation before the main process starts",
      );
      const main = await session.attachMain();
      const out: Buffer[] = [];
      main.onOutput((_s, d) => void out.push(d));
      await session.startMain();
      assert.equal(await session.mainExited, code);
      const [p, afterDaemon] = await posted;
      assert.ok(afterDaemon, "answered before the daemon read the exit code");
      assert.equal(p.path, path(api, code === 0 ? "response" : "error"));
      if (code === 0) assert.deepEqual(p.body, { exitCode: 0 });
      else {
        assert.equal(p.errorType, "Runtime.ExitError");
        assert.deepEqual(p.body, { errorType: "Runtime.ExitError", errorMessage: `exit status ${code}` });
      }
      assert.equal(((await c.wait()) as { StatusCode: number }).StatusCode, code);
      // the main process keeps Lambda's variables
      assert.equal(Buffer.concat(out).toString(), `api=${addr}\n`);
      if (code !== 0)
        assert.match(
          await logsOf(c),
          new RegExp(
            `sockerless-agent: RequestId: ${api.requestId} Error: Runtime.ExitError: exit status ${code}\n`,
          ),
        );
      assert.equal(api.posts.length, 1);
      api.stop();
    });

  it("a Runtime API it cannot reach is logged and does not break the container", async () => {
    const { c, session } = await runInLambda(["true"], `127.0.0.1:${await freePort()}`);
    await session.startMain();
    assert.equal(await session.mainExited, 0);
    assert.equal(((await c.wait()) as { StatusCode: number }).StatusCode, 0);
    assert.match(await logsOf(c), /sockerless-agent: cannot take the Lambda invocation from the Runtime API/);
  });
});
