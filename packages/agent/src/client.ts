/** The daemon's side of the agent protocol: sessions over a link, forward dialling. */
import type { Readable } from "node:stream";
import { DockerError } from "@sockerless/api";
import { DEFAULT_WINDOW, Inbound, InboundReadable, Outbound } from "./flow.js";
import { dialLink, HandshakeRefused, openSocket } from "./handshake.js";
import type { Link, LinkOptions } from "./link.js";
import {
  KIND,
  type Control,
  type DataFrame,
  type ExecSpecWire,
  type PathStatWire,
  type Sequenced,
  type UsageWire,
} from "./protocol.js";

export type PathStat = PathStatWire;

/** Same shape as RunningProcess in @sockerless/engine. */
export interface AgentProcess {
  /**
   * Output is held (and the remote process slowed by back-pressure) until the first listener is
   * registered. A listener that returns a promise delays further output until it settles.
   */
  onOutput(listener: (stream: "stdout" | "stderr", data: Buffer) => void | Promise<void>): void;
  /** false when the caller should wait for `onDrain` before writing more */
  writeStdin(data: Buffer): boolean | void;
  /** calls `cb` once queued stdin is below one window again */
  onDrain(cb: () => void): void;
  endStdin(): void;
  signal(sig: string): void;
  resize(rows: number, cols: number): void;
  readonly exited: Promise<number>;
}

/** What `exec` runs: the wire form as it is. */
export type ExecRequest = ExecSpecWire;

/** One live connection to one workload's agent. */
export interface AgentSession {
  /** the main process's stdio (output from now on) and its exit code */
  attachMain(): Promise<AgentProcess>;
  /** start the main process of an agent run with `--hold` (no-op once started) */
  startMain(): Promise<void>;
  exec(spec: ExecRequest): Promise<AgentProcess>;
  signalMain(sig: string): Promise<void>;
  statPath(path: string): Promise<PathStat>;
  /** the workload's CPU time, memory and process count */
  usage(): Promise<UsageWire>;
  getArchive(path: string): Promise<{ stat: PathStat; tar: Readable }>;
  putArchive(path: string, tar: Readable, opts: { noOverwriteDirNonDir: boolean }): Promise<void>;
  /** the main process's exit code; rejects if the link is lost for good first */
  readonly mainExited: Promise<number>;
  /** the main process's start error (program not found, …) once `mainExited` resolved, if any */
  readonly mainError: string | undefined;
  /** the id of the end-of-output marker in the workload's log, once `mainExited` resolved (`--log-mark`) */
  readonly mainLogMark: string | undefined;
  /** the main process could not start because its user or group is unknown (`mainError` says which) */
  readonly mainUnknownUser: boolean;
  /** resolves when the link is gone for good (closed, or the peer could not be reached again) */
  readonly closed: Promise<Error | undefined>;
  close(): void;
}

/** An exec that could not start; dockerd reports these with exit code 126. */
export class AgentExecError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    /** the message is what the exec printed itself (an unknown user), not a runtime failure */
    readonly onStdout = false,
  ) {
    super(message);
  }
}

export interface SessionOptions extends LinkOptions {
  /** per-channel window for output from the agent */
  window?: number;
}

type Reply = Extract<Control, { t: "ready" | "done" }>;

/** A channel on the daemon side: the first reply settles `reply`; later messages go to hooks. */
class ClientChannel {
  onData: ((f: DataFrame) => void) | undefined;
  onEof: (() => void) | undefined;
  onExit: ((code: number) => void) | undefined;
  onCredit: ((n: number) => void) | undefined;
  onLost: ((e: Error) => void) | undefined;
  onDone: (() => void) | undefined;
  onError: ((e: Error) => void) | undefined;
  readonly reply: Promise<Reply>;
  private settle!: { resolve: (r: Reply) => void; reject: (e: Error) => void };
  private replied = false;
  constructor(
    readonly ch: number,
    readonly op: string,
  ) {
    this.reply = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.reply.catch(() => {});
  }
  message(m: Sequenced): void {
    switch (m.t) {
      case "ready":
      case "done":
        if (!this.replied) {
          this.replied = true;
          this.settle.resolve(m);
        } else if (m.t === "done") this.onDone?.();
        return;
      case "error": {
        const e =
          m.exitCode !== undefined
            ? new AgentExecError(m.message, m.exitCode, !!m.stdout)
            : new DockerError(m.status ?? 500, m.message);
        if (!this.replied) {
          this.replied = true;
          this.settle.reject(e);
        } else this.onError?.(e);
        return;
      }
      case "credit":
        this.onCredit?.(m.n);
        return;
      case "eof":
        this.onEof?.();
        return;
      case "exit":
        this.onExit?.(m.code);
        return;
    }
  }
  lost(e: Error): void {
    if (!this.replied) {
      this.replied = true;
      this.settle.reject(e);
    }
    this.onLost?.(e);
  }
}

/** Output delivered in order to listeners; credit is returned once they have taken it. */
class RemoteProcess implements AgentProcess {
  private listeners: ((stream: "stdout" | "stderr", data: Buffer) => void | Promise<void>)[] = [];
  private held: DataFrame[] = [];
  /** deliveries still waiting on a listener's promise; later frames queue behind them */
  private asyncPending = 0;
  private chain: Promise<void> = Promise.resolve();
  private stdinChain: Promise<void> = Promise.resolve();
  private stdinPending = 0;
  private drainWaiters: (() => void)[] = [];
  private readonly inbound: Inbound;
  readonly exited: Promise<number>;
  private exitCode!: { resolve: (c: number) => void; reject: (e: Error) => void };

  constructor(
    private readonly link: Link,
    private readonly chan: ClientChannel,
    private readonly stdin: Outbound,
    window: number,
  ) {
    this.inbound = new Inbound(link, chan.ch, window);
    this.exited = new Promise((resolve, reject) => (this.exitCode = { resolve, reject }));
    this.exited.catch(() => {});
    chan.onCredit = (n) => stdin.addCredit(n);
    chan.onData = (f) => {
      if (this.listeners.length === 0) this.held.push(f);
      else this.deliver(f);
    };
    chan.onExit = (code) => {
      // output frames precede the exit message: report the exit once they were delivered (held
      // frames are handed over synchronously when the first listener comes)
      if (this.asyncPending === 0) this.exitCode.resolve(code);
      else this.chain.then(() => this.exitCode.resolve(code));
    };
    chan.onLost = (e) => {
      stdin.abort(e);
      this.exitCode.reject(e);
    };
    chan.onError = (e) => this.exitCode.reject(e);
  }

  onOutput(listener: (stream: "stdout" | "stderr", data: Buffer) => void | Promise<void>): void {
    this.listeners.push(listener);
    const held = this.held;
    this.held = [];
    for (const f of held) this.deliver(f);
  }

  /**
   * Synchronous listeners get each frame at once, so whoever registers after the exit was
   * reported still sees all output before acting on the exit; a listener's promise holds back the
   * frames behind it.
   */
  private deliver(f: DataFrame): void {
    if (this.asyncPending === 0) {
      const waiting = this.callListeners(f);
      if (!waiting) return;
      this.asyncPending++;
      this.chain = waiting.finally(() => this.asyncPending--);
      return;
    }
    this.asyncPending++;
    this.chain = this.chain.then(() => this.callListeners(f)).finally(() => this.asyncPending--);
  }

  private callListeners(f: DataFrame): Promise<void> | undefined {
    const stream = f.kind === KIND.stderr ? "stderr" : "stdout";
    const pending: Promise<void>[] = [];
    for (const l of this.listeners) {
      const r = l(stream, f.payload);
      if (r) pending.push(r);
    }
    if (pending.length === 0) {
      this.inbound.consumed(f.payload.length);
      return undefined;
    }
    return Promise.allSettled(pending).then(() => this.inbound.consumed(f.payload.length));
  }

  writeStdin(data: Buffer): boolean {
    this.stdinPending += data.length;
    this.stdinChain = this.stdinChain
      .then(() => this.stdin.write(KIND.stdin, data))
      .catch(() => {})
      .finally(() => {
        this.stdinPending -= data.length;
        if (this.stdinPending < DEFAULT_WINDOW) {
          const w = this.drainWaiters;
          this.drainWaiters = [];
          for (const f of w) f();
        }
      });
    return this.stdinPending < DEFAULT_WINDOW;
  }

  /** Resolves when the stdin queue is below one window again. */
  onDrain(cb: () => void): void {
    if (this.stdinPending < DEFAULT_WINDOW) cb();
    else this.drainWaiters.push(cb);
  }

  endStdin(): void {
    this.stdinChain = this.stdinChain.then(() => {
      if (!this.link.closed) this.link.send({ t: "eof", ch: this.chan.ch });
    });
  }

  signal(sig: string): void {
    if (!this.link.closed) this.link.send({ t: "signal", ch: this.chan.ch, sig });
  }

  resize(rows: number, cols: number): void {
    if (!this.link.closed) this.link.send({ t: "resize", ch: this.chan.ch, rows, cols });
  }
}

export class Session implements AgentSession {
  private nextCh = 1;
  private readonly channels = new Map<number, ClientChannel>();
  readonly mainExited: Promise<number>;
  mainError: string | undefined;
  mainLogMark: string | undefined;
  mainUnknownUser = false;
  readonly closed: Promise<Error | undefined>;
  private readonly window: number;
  private onClose: (() => void) | undefined;

  constructor(
    readonly link: Link,
    opts: SessionOptions = {},
  ) {
    this.window = opts.window ?? DEFAULT_WINDOW;
    let exit!: { resolve: (c: number) => void; reject: (e: Error) => void };
    this.mainExited = new Promise((resolve, reject) => (exit = { resolve, reject }));
    this.mainExited.catch(() => {});
    this.closed = new Promise((r) => link.once("closed", (e?: Error) => r(e)));
    link.on("message", (m: Sequenced) => {
      if (m.t === "main-exit") {
        this.mainError = m.error;
        this.mainLogMark = m.logMark;
        this.mainUnknownUser = m.unknownUser === true;
        exit.resolve(m.code);
        return;
      }
      const c = this.channels.get(m.ch);
      if (!c) return;
      if (m.t === "done" || m.t === "error" || m.t === "exit") this.channels.delete(m.ch);
      c.message(m);
    });
    link.on("data", (f: DataFrame) => this.channels.get(f.ch)?.onData?.(f));
    link.once("closed", (e?: Error) => {
      const err = new Error(`agent connection lost: ${e ? e.message : "closed by the daemon"}`, { cause: e });
      exit.reject(err);
      for (const c of this.channels.values()) c.lost(err);
      this.channels.clear();
    });
  }

  /** True while an attach stream still waits for the main process's output (and its end). */
  get mainOutputPending(): boolean {
    return [...this.channels.values()].some((c) => c.op === "attach");
  }

  /** Called by whoever owns the transport (forward dialler, hub) when the session is closed. */
  setOnClose(f: () => void): void {
    this.onClose = f;
  }

  private open(m: Record<string, unknown> & { op: string }): ClientChannel {
    if (this.link.closed) throw new Error("agent connection is closed");
    const ch = this.nextCh++;
    const c = new ClientChannel(ch, m.op);
    this.channels.set(ch, c);
    this.link.send({ t: "open", ch, window: this.window, ...m } as Control);
    return c;
  }

  private async process(m: Record<string, unknown> & { op: string }): Promise<AgentProcess> {
    const c = this.open(m);
    const stdin = new Outbound(this.link, c.ch, 0);
    // output and the exit may arrive right behind the reply: the hooks must be in place first
    const proc = new RemoteProcess(this.link, c, stdin, this.window);
    const r = await c.reply;
    if (r.t !== "ready") throw new Error(`unexpected reply ${r.t}`);
    stdin.addCredit(r.window);
    return proc;
  }

  attachMain(): Promise<AgentProcess> {
    return this.process({ op: "attach" });
  }

  exec(spec: ExecRequest): Promise<AgentProcess> {
    const wire: ExecSpecWire = { ...spec };
    return this.process({ op: "exec", spec: wire });
  }

  async startMain(): Promise<void> {
    await this.open({ op: "start" }).reply;
  }

  async signalMain(sig: string): Promise<void> {
    await this.open({ op: "signal", sig }).reply;
  }

  async statPath(path: string): Promise<PathStat> {
    const r = await this.open({ op: "stat", path }).reply;
    if (!r.stat) throw new Error("agent answered stat without a result");
    return r.stat;
  }

  async usage(): Promise<UsageWire> {
    const r = await this.open({ op: "stats" }).reply;
    if (r.t !== "done" || !r.usage) throw new Error("agent answered stats without a result");
    return r.usage;
  }

  async getArchive(path: string): Promise<{ stat: PathStat; tar: Readable }> {
    const c = this.open({ op: "get", path });
    const tar = new InboundReadable(this.link, c.ch, this.window);
    c.onData = (f) => tar.feed(f.payload);
    c.onEof = () => tar.push(null);
    c.onLost = (e) => tar.destroy(e);
    c.onError = (e) => tar.destroy(e);
    tar.on("close", () => {
      if (tar.readableEnded || this.link.closed) return;
      this.link.send({ t: "close", ch: c.ch });
      this.channels.delete(c.ch);
    });
    const r = await c.reply;
    if (!r.stat) throw new Error("agent answered get without a stat");
    return { stat: r.stat, tar };
  }

  async putArchive(path: string, tar: Readable, opts: { noOverwriteDirNonDir: boolean }): Promise<void> {
    const c = this.open({ op: "put", path, noOverwriteDirNonDir: opts.noOverwriteDirNonDir });
    const out = new Outbound(this.link, c.ch, 0);
    c.onCredit = (n) => out.addCredit(n);
    // the result (or a refusal) may arrive right behind "ready": listen before awaiting it
    let agentFailed = false;
    const finished = new Promise<void>((resolve, reject) => {
      c.onDone = resolve;
      c.onError = c.onLost = (e) => {
        agentFailed = true;
        out.abort(e);
        reject(e);
      };
    });
    finished.catch(() => {});
    const first = await c.reply; // "ready" with a window, or an early error (destination missing)
    if (first.t !== "ready") throw new Error(`unexpected reply ${first.t}`);
    out.addCredit(first.window);
    try {
      for await (const chunk of tar) await out.write(KIND.data, chunk as Buffer);
      if (!this.link.closed) this.link.send({ t: "eof", ch: c.ch });
    } catch (e) {
      if (agentFailed) await finished; // rejects with the agent's reason (a refused entry, …)
      // our tar source failed: tell the agent to drop the half-written upload
      if (!this.link.closed) this.link.send({ t: "close", ch: c.ch });
      this.channels.delete(c.ch);
      throw e;
    }
    await finished;
  }

  close(): void {
    this.onClose?.();
    this.link.close();
  }
}

export interface ConnectOptions extends SessionOptions {
  /** keep trying to reach the agent this long (it may still be starting) */
  connectTimeoutMs?: number;
  /** after a drop, keep trying to resume this long before giving the session up */
  resumeTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function openWithRetry(
  url: string,
  token: string,
  deadline: number,
  cancelled: () => boolean = () => false,
): Promise<import("ws").WebSocket> {
  let delay = 100;
  for (;;) {
    try {
      return await openSocket(url, token);
    } catch (e) {
      if (e instanceof HandshakeRefused) throw e;
      if (cancelled()) throw new Error("connection attempt cancelled", { cause: e });
      if (Date.now() + delay > deadline)
        throw new Error(`cannot reach the agent at ${url}: ${(e as Error).message}`, {
          cause: e,
        });
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }
}

/** Forward mode: dial an agent listening at `url` (ws:// or http://). */
export async function connectAgent(
  url: string,
  token: string,
  opts: ConnectOptions = {},
): Promise<AgentSession> {
  const wsUrl = url.replace(/^http/, "ws");
  const connectTimeoutMs = opts.connectTimeoutMs ?? 30_000;
  const resumeTimeoutMs = opts.resumeTimeoutMs ?? 60_000;
  const ws = await openWithRetry(wsUrl, token, Date.now() + connectTimeoutMs);
  let session!: Session;
  const { link } = await dialLink(ws, undefined, opts, (l) => (session = new Session(l, opts)));
  let closing = false;
  session.setOnClose(() => (closing = true));
  let mainDone = false;
  session.mainExited.then(
    () => (mainDone = true),
    () => {},
  );
  link.on("detached", () => {
    if (closing || link.closed) return;
    // after reporting the main exit the agent goes away on purpose once it sent everything; a
    // stream still open (attach output behind "main-exit") means this was a drop: resume it
    if (mainDone && !session.mainOutputPending) {
      link.close(new Error("the agent exited after its main process"));
      return;
    }
    const deadline = Date.now() + resumeTimeoutMs;
    (async () => {
      while (!closing && !link.closed && !link.connected) {
        try {
          const s = await openWithRetry(wsUrl, token, deadline, () => closing || link.closed);
          await dialLink(s, link, opts);
          return;
        } catch (e) {
          if (e instanceof HandshakeRefused || Date.now() >= deadline) {
            link.close(new Error(`could not reconnect to the agent: ${(e as Error).message}`));
            return;
          }
          await sleep(200);
        }
      }
    })();
  });
  return session;
}
