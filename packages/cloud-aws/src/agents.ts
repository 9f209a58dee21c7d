import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import {
  AgentExecError,
  agentLayer,
  type AgentLayer,
  type AgentProcess,
  type AgentSession,
  ReverseAgentHub,
} from "@sockerless/agent";
import { DockerError, log, notImplemented } from "@sockerless/api";
import {
  type ContainerRecord,
  type ExecSpec,
  parseExtraHost,
  type RunningProcess,
  type RunSpec,
} from "@sockerless/engine";
import type { ECRClient } from "@aws-sdk/client-ecr";
import type { ImageStore } from "@sockerless/images";
import { AgentImages } from "./agent-images.js";
import { AgentTokens } from "./agent-token.js";
import { EcrRepository } from "./ecr.js";
import { CloudProcess } from "./process.js";

export interface AgentSettings {
  /** where the daemon listens for agents dialling back: [HOST:]PORT (0: any free port) */
  listen: string;
  /** the URL workloads dial; default http://<listen address> (right when they share the daemon's network) */
  callbackUrl?: string;
  /** how long a started workload's agent may take to dial back */
  connectTimeoutMs: number;
}

/** How the main process ended; `logMark`: the end-of-output marker the agent wrote to the log. */
export interface MainExit {
  code: number;
  error?: string;
  logMark?: string;
}

/** The agent's part of a workload's definition: its entrypoint wrapping the container's argv. */
export interface AgentWrap {
  entrypoint: string[];
  command: string[];
  env: Record<string, string>;
}

/**
 * The agent inside every cloud workload, in reverse mode: it dials this daemon's callback
 * listener with a per-container token, so exec, attach, cp and signals reach the container's
 * processes wherever the workload runs (a Lambda invocation, a task without a public address).
 */
export class CloudAgents {
  readonly hub = new ReverseAgentHub({ resumeTimeoutMs: 120_000 });
  private server: Server | undefined;
  private url = "";
  layer!: AgentLayer;

  constructor(
    private readonly s: AgentSettings,
    private readonly tokens: AgentTokens,
  ) {}

  async start(): Promise<void> {
    this.layer = await agentLayer();
    const m = /^(?:(.*):)?(\d+)$/.exec(this.s.listen);
    if (!m) throw new Error(`bad agent listen address ${this.s.listen} (expected [HOST:]PORT)`);
    const host = m[1] || "127.0.0.1";
    const server = createServer((_req, res) => {
      res
        .writeHead(426, { "content-type": "text/plain" })
        .end("sockerless: agent callback (WebSocket only)\n");
    });
    server.on("upgrade", (req, socket, head) => this.hub.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(Number(m[2]), host, () => resolve());
    });
    const addr = server.address();
    const port = typeof addr === "object" && addr ? addr.port : Number(m[2]);
    this.server = server;
    this.url = this.s.callbackUrl ?? `http://${host.includes(":") ? `[${host}]` : host}:${port}/agent`;
    log.info({ callback: this.url }, "agent callback listening");
  }

  /**
   * The layer to put into an image now: another daemon on this machine sharing the cache may have
   * pruned the file since start-up (it keeps only its own build), so it is rebuilt when missing.
   */
  async currentLayer(): Promise<AgentLayer> {
    if (!existsSync(this.layer.tarPath)) this.layer = await agentLayer();
    return this.layer;
  }

  get callbackUrl(): string {
    return this.url;
  }

  /**
   * The workload runs `agent --callback … -- <argv>`; the token goes in the environment. The agent
   * also applies what the platforms have no setting for: `--add-host` entries, and the user (a
   * Lambda function has none; an ECS task's agent starts as root so that `exec -u root` works).
   * `options`: more agent options from the backend (ECS: `--dns-search`).
   */
  wrap(rec: ContainerRecord, options: string[] = []): AgentWrap {
    const argv = [rec.Path, ...rec.Args];
    const hosts = (rec.HostConfig.ExtraHosts ?? []).map(hostEntry);
    return {
      entrypoint: [
        ...this.layer.entrypoint,
        "--callback",
        this.url,
        "--id",
        rec.Id,
        // the main process starts when the daemon has attached: no output is missed
        "--hold",
        // the end of the output is marked in the log, so the exit waits for the last lines
        "--log-mark",
        ...(rec.Config.Tty ? ["--tty"] : []),
        ...(rec.Config.OpenStdin ? ["--stdin"] : []),
        ...(rec.Config.User ? ["--user", rec.Config.User] : []),
        ...hosts.flatMap((h) => ["--add-host", h]),
        ...options,
        "--",
        argv[0],
      ],
      command: argv.slice(1),
      env: { SOCKERLESS_AGENT_TOKEN: this.tokens.token(rec.Id) },
    };
  }

  /** `run`: the start whose agent is expected (unknown after a daemon restart on Lambda: any). */
  expect(id: string, run?: string): void {
    this.hub.expect(id, this.tokens.token(id), run);
  }

  /**
   * A new start of the container: only its agent counts (the last one's may still be saying
   * goodbye); the workload gets the returned run id (ECS: RunTask overrides, Lambda: the event).
   */
  expectNew(id: string): string {
    const run = randomBytes(8).toString("hex");
    this.hub.forget(id);
    this.expect(id, run);
    return run;
  }

  session(id: string): AgentSession | undefined {
    return this.hub.session(id);
  }

  /**
   * Wait for the workload's agent; `gone` settles when the workload ended first (then its reason
   * is the error). A clear error instead of a hang when the agent never dials back.
   */
  async connect(id: string, gone: Promise<string>): Promise<AgentSession> {
    const lost = gone.then((why) => Promise.reject(new Error(why)));
    lost.catch(() => {});
    try {
      return await Promise.race([this.hub.waitFor(id, this.s.connectTimeoutMs), lost]);
    } catch (e) {
      const msg = (e as Error).message;
      throw new Error(
        /did not connect/.test(msg)
          ? `the sockerless agent in the workload did not dial back to ${this.url} within ${this.s.connectTimeoutMs / 1000} s: check that the workload can reach that address (--agent-callback-url)`
          : msg,
        { cause: e },
      );
    }
  }

  /** Bind the main process to `proc`: its output, stdin, signals and resize go through the agent. */
  async bindMain(session: AgentSession, proc: CloudProcess, fallbackSignal: (sig: string) => void) {
    const main = await session.attachMain();
    main.onOutput((stream, data) => proc.emit(stream, data));
    proc.setControls({
      signal: (sig) =>
        void session.signalMain(sig).catch((e) => {
          log.warn({ err: e, sig }, "agent: signal failed; asking the platform");
          fallbackSignal(sig);
        }),
      writeStdin: (d) => void main.writeStdin(d),
      endStdin: () => main.endStdin(),
      resize: (r, c) => main.resize(r, c),
    });
    return main;
  }

  /**
   * Start the held main process and return its exit. A program that cannot start fails here with
   * dockerd's wording, so `docker start` reports it (exit code 127 / 126).
   */
  async startMain(
    session: AgentSession,
    proc: CloudProcess,
    fallbackSignal: (sig: string) => void,
  ): Promise<{ exited: Promise<MainExit> }> {
    const main = await this.bindMain(session, proc, fallbackSignal);
    await session.startMain();
    // an unknown user or group: dockerd reports runc's lookup error as it is
    if (session.mainUnknownUser) throw new Error(session.mainError);
    if (session.mainError)
      throw new Error(
        `failed to create task for container: OCI runtime create failed: unable to start container process: ${session.mainError}: unknown`,
      );
    return { exited: mainExit(session, main) };
  }

  /** Bind the main process of a workload that already runs (after a daemon restart) and return its exit. */
  async rebindMain(session: AgentSession, proc: CloudProcess, fallbackSignal: (sig: string) => void) {
    return mainExit(session, await this.bindMain(session, proc, fallbackSignal));
  }

  /** The container's agent session (it may be reconnecting: wait a little for it). */
  async sessionOf(id: string, where: string): Promise<AgentSession> {
    const s = this.session(id);
    if (s) return s;
    try {
      return await this.hub.waitFor(id, 10_000);
    } catch {
      throw new DockerError(
        409,
        `the sockerless agent of container ${id} is not connected (it runs in the ${where} and dials ${this.url})`,
      );
    }
  }

  /** docker cp reaches a workload's files through its agent, so the container must be running. */
  runningSessionOf(spec: RunSpec, backend: string, where: string): Promise<AgentSession> {
    if (!spec.container.State.Running)
      throw notImplemented(
        `docker cp needs the container running on the ${backend} backend: its files live in the ${where} (container ${spec.id} is ${spec.container.State.Status})`,
      );
    return this.sessionOf(spec.id, where);
  }

  /** docker cp out of the workload; the tar may fail after the client got it all (the link closing), which must not go unhandled. */
  async getArchive(session: AgentSession, p: string) {
    const r = await session.getArchive(p);
    r.tar.on("error", (e) => log.debug({ err: e, path: p }, "agent: archive stream ended with an error"));
    return r;
  }

  forget(id: string): void {
    this.hub.forget(id);
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** The exit once the attach delivered all output; the session has the agent's report by then. */
async function mainExit(session: AgentSession, main: AgentProcess): Promise<MainExit> {
  const [code] = await Promise.all([main.exited, session.mainExited]);
  return { code, error: session.mainError, logMark: session.mainLogMark };
}

/** An `--add-host` value as NAME:IP (the CLI also takes NAME=IP); host-gateway means nothing in a cloud workload. */
function hostEntry(h: string): string {
  const host = parseExtraHost(h);
  if (!host?.[1]) throw new DockerError(400, `invalid IP address in add-host: "${host?.[1] ?? h}"`);
  const [name, ip] = host;
  if (ip === "host-gateway")
    throw notImplemented(
      `--add-host ${name}:host-gateway is not supported by the cloud backends: a cloud workload has no Docker host gateway`,
    );
  return `${name}:${ip}`;
}

/** docker exec through the agent; a program that cannot start exits like dockerd's (126/127, OCI message). */
export async function agentExec(session: AgentSession, e: ExecSpec): Promise<RunningProcess> {
  try {
    return await session.exec({
      cmd: e.Cmd,
      env: e.Env,
      workdir: e.WorkingDir,
      user: e.User,
      tty: e.Tty,
      stdin: e.OpenStdin,
    });
  } catch (err) {
    if (!(err instanceof AgentExecError)) throw err;
    const failed = new CloudProcess({ signal: () => {} });
    if (err.onStdout) failed.emit("stdout", Buffer.from(`${err.message}\r\n`));
    // the agent words it as runc does; dockerd wraps it so
    else failed.emit("stderr", Buffer.from(`OCI runtime exec failed: ${err.message}: unknown\r\n`));
    failed.finish(err.exitCode);
    return failed;
  }
}

/** What both AWS backends build for the agent: the callback listener and the overlay images in ECR. */
export function agentSupport(
  s: { agent: AgentSettings; agentSecret?: string; ecrRepository: string },
  images: ImageStore,
  dataRoot: string,
  ecr: ECRClient,
): { agents: CloudAgents; agentImages: AgentImages } {
  const agents = new CloudAgents(s.agent, AgentTokens.fromSettings(s.agentSecret, dataRoot));
  return {
    agents,
    agentImages: new AgentImages(images, new EcrRepository(ecr, s.ecrRepository), () =>
      agents.currentLayer(),
    ),
  };
}
