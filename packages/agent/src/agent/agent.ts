import { randomBytes } from "node:crypto";
import { appendFile } from "node:fs/promises";
import { hostname } from "node:os";
import type { Readable, Writable } from "node:stream";
import { Inbound, InboundReadable, Outbound, DEFAULT_WINDOW } from "../flow.js";
import type { Link } from "../link.js";
import {
  KIND,
  LINK_CHANNEL,
  type Control,
  type DataFrame,
  type OpenMsg,
  type PathStatWire,
  type Sequenced,
  type MainExitWire,
  type UsageWire,
  logMarkLine,
} from "../protocol.js";
import { StatusError, getArchive, putArchive, statPath } from "./archive.js";
import { StartError } from "./exe.js";
import { startProcess, type LocalProcess } from "./proc.js";
import { reachesAsPid1 } from "./pid1.js";
import { readUsage } from "./usage.js";
import { resolveUser, UserError } from "./users.js";

export interface AgentOptions {
  argv: string[];
  tty: boolean;
  stdin: boolean;
  /** environment of the main process (the agent's own, without its SOCKERLESS_* settings) */
  env: string[];
  /** after the main process exits, how long to wait for a daemon to read the exit code */
  graceMs: number;
  /** run the main process as this Docker `User` (where the platform cannot set one itself) */
  user?: string;
  /** `NAME:IP` entries for /etc/hosts (`--add-host`), written before the main process starts */
  hosts?: string[];
  /**
   * After the main process's output, write a marker line to stdout and to stderr and name it in
   * "main-exit": the daemon waits for both in the platform's log store before it calls the
   * container exited, so `docker logs` right after `docker wait` has every line.
   */
  logMark?: boolean;
  log: (msg: string) => void;
}

/** Fans one output stream out to its sinks, pausing the source while any sink is full. */
class Fanout {
  readonly sinks = new Set<Writable>();
  readonly ended: Promise<void>;
  /** the last byte the source gave (a marker written after it must start on a line of its own) */
  lastByte: number | undefined;
  constructor(src: Readable) {
    src.on("data", (chunk: Buffer) => {
      if (chunk.length) this.lastByte = chunk[chunk.length - 1];
      const full = [...this.sinks].filter((s) => !s.write(chunk));
      if (full.length === 0) return;
      src.pause();
      Promise.all(
        full.map(
          (s) =>
            new Promise<void>((r) => {
              const done = () => {
                s.off("drain", done).off("close", done).off("error", done);
                r();
              };
              s.on("drain", done).on("close", done).on("error", done);
            }),
        ),
      ).then(() => src.resume());
    });
    this.ended = new Promise((r) => {
      src.once("end", r);
      src.once("close", r);
    });
  }
}

/**
 * The end-of-output marker on the agent's stdout and stderr (the workload's log streams), after
 * a newline when the main process left a line unfinished there. Returns the marker's id.
 */
function writeLogMarks([out, err]: (number | undefined)[]): string {
  const id = randomBytes(8).toString("hex");
  const line = (last: number | undefined) =>
    `${last === undefined || last === NEWLINE ? "" : "\n"}${logMarkLine(id)}\n`;
  process.stdout.write(line(out));
  process.stderr.write(line(err));
  return id;
}

const NEWLINE = 0x0a;

interface Sinks {
  stdout: Writable;
  stderr: Writable;
}

/** Runs the main process and serves daemon links: exec, attach, archive, signals. */
export class Agent {
  private main: LocalProcess | undefined;
  private mainExit: MainExitWire | undefined;
  private readonly attachSinks = new Set<Sinks>();
  private readonly exitWaiters = new Set<(code: number) => void>();
  private readonly links = new Set<Link>();
  private readonly exitSeq = new Map<Link, number>();
  /** attach channels per link still delivering the main process's output */
  private readonly attachesFlushing = new Map<Link, number>();
  /** per link, the sequence number of the last attach channel's final message */
  private readonly attachEndSeq = new Map<Link, number>();
  private startPromise: Promise<void> | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  /** resolves with the exit code when the agent should exit */
  readonly finished: Promise<number>;
  private finish!: (code: number) => void;

  constructor(private readonly opts: AgentOptions) {
    this.finished = new Promise((r) => (this.finish = r));
  }

  get mainStarted(): boolean {
    return this.startPromise !== undefined;
  }

  /** why the main process could not start, once that is known */
  get mainError(): string | undefined {
    return this.mainExit?.error;
  }

  /** Deliver a signal to the main process as if it were the container's PID 1 (see pid1.ts). */
  signalMain(sig: string): void {
    if (!this.main || this.mainExit) return;
    if (reachesAsPid1(this.main.pid, sig)) this.main.kill(sig);
    else this.opts.log(`${sig} not delivered: the main process has no handler for it (PID 1 semantics)`);
  }

  /** Start the main process; resolves once it was spawned (or failed to start). */
  startMain(): Promise<void> {
    if (!this.startPromise) {
      let spawned!: () => void;
      this.startPromise = new Promise((r) => (spawned = r));
      void this.runMain(spawned);
    }
    return this.startPromise;
  }

  private async runMain(spawned: () => void): Promise<void> {
    let proc: LocalProcess;
    try {
      if (this.opts.hosts?.length) await addHosts(this.opts.hosts);
      proc = await startProcess({
        argv: this.opts.argv,
        env: this.opts.env,
        cwd: process.cwd(),
        // usually the platform already runs the agent as the image's user
        user: this.opts.user ? resolveUser(this.opts.user) : undefined,
        tty: this.opts.tty,
        stdin: this.opts.stdin,
      });
    } catch (e) {
      const msg = (e as Error).message;
      this.opts.log(`cannot start the main process: ${msg}`);
      // dockerd: 127 when the program is missing, 126 when it cannot be executed
      const code = /not found|no such file/.test(msg) ? 127 : 126;
      this.onMainExit({ code, error: msg, ...(e instanceof UserError ? { unknownUser: true } : {}) });
      spawned();
      return;
    }
    this.main = proc;
    const outs = new Fanout(proc.stdout);
    outs.sinks.add(process.stdout);
    const errs = proc.stderr ? new Fanout(proc.stderr) : undefined;
    errs?.sinks.add(process.stderr);
    const attach = (s: Sinks) => {
      outs.sinks.add(s.stdout);
      errs?.sinks.add(s.stderr);
    };
    for (const s of this.attachSinks) attach(s);
    this.onAttach = attach;
    this.onDetach = (s) => {
      outs.sinks.delete(s.stdout);
      errs?.sinks.delete(s.stderr);
    };
    spawned();
    const code = await proc.exited;
    await Promise.all([outs.ended, errs?.ended]);
    this.onMainExit({ code }, [outs.lastByte, errs?.lastByte]);
  }

  private onAttach: ((s: Sinks) => void) | undefined;
  private onDetach: ((s: Sinks) => void) | undefined;

  private onMainExit(exit: Omit<MainExitWire, "logMark">, lastBytes: (number | undefined)[] = []): void {
    const { code } = exit;
    this.mainExit = { ...exit, ...(this.opts.logMark ? { logMark: writeLogMarks(lastBytes) } : {}) };
    for (const w of this.exitWaiters) w(code);
    this.exitWaiters.clear();
    for (const link of this.links) this.announceExit(link);
    this.graceTimer = setTimeout(() => this.finish(code), this.opts.graceMs);
    this.graceTimer.unref();
  }

  private announceExit(link: Link): void {
    if (!this.mainExit || link.closed || this.exitSeq.has(link)) return;
    this.exitSeq.set(link, link.send({ t: "main-exit", ch: LINK_CHANNEL, ...this.mainExit }));
    link.on("acked", () => this.maybeFinish());
  }

  /**
   * Exit early once every connected daemon has read the exit code and all of the main process's
   * output: attach data still waiting for credit is sent after "main-exit", so its acknowledgement
   * alone does not mean the output arrived.
   */
  private maybeFinish(): void {
    if (!this.mainExit) return;
    const live = [...this.links].filter((l) => !l.closed);
    const settled = (l: Link) =>
      l.acknowledged(this.exitSeq.get(l) ?? Infinity) &&
      !this.attachesFlushing.get(l) &&
      l.acknowledged(this.attachEndSeq.get(l) ?? 0);
    if (live.length > 0 && live.every(settled)) {
      clearTimeout(this.graceTimer);
      this.finish(this.mainExit.code);
    }
  }

  private whenMainExits(): Promise<number> {
    if (this.mainExit) return Promise.resolve(this.mainExit.code);
    return new Promise((r) => this.exitWaiters.add(r));
  }

  /** Serve one daemon link until it closes. */
  serve(link: Link): void {
    this.links.add(link);
    const channels = new Map<number, Channel>();
    link.on("message", (m: Sequenced) => {
      if (m.t === "open") {
        if (channels.has(m.ch)) return;
        const c = new Channel(link, m.ch, () => channels.delete(m.ch));
        channels.set(m.ch, c);
        this.open(c, m).catch((e) => c.fail(e as Error));
        return;
      }
      channels.get(m.ch)?.control(m);
    });
    link.on("data", (f: DataFrame) => channels.get(f.ch)?.data(f));
    link.once("closed", () => {
      this.links.delete(link);
      this.attachesFlushing.delete(link);
      this.attachEndSeq.delete(link);
      for (const c of channels.values()) c.abandon();
      this.maybeFinish();
    });
    this.announceExit(link);
  }

  private async open(c: Channel, m: OpenMsg): Promise<void> {
    switch (m.op) {
      case "start":
        await this.startMain();
        c.done();
        return;
      case "signal": {
        if (!this.main || this.mainExit) throw new StatusError(409, "the main process is not running");
        this.signalMain(m.sig);
        c.done();
        return;
      }
      case "stat":
        c.done({ stat: await statPath(m.path) });
        return;
      case "stats":
        c.done({ usage: await readUsage() });
        return;
      case "get": {
        const { stat, tar } = await getArchive(m.path);
        const out = new Outbound(c.link, c.ch, m.window);
        c.onCredit = (n) => out.addCredit(n);
        c.onAbandon = () => {
          out.abort();
          tar.destroy();
        };
        c.ready(0, stat);
        tar.on("error", (e) => c.fail(e));
        tar.pipe(out.writable(KIND.data, () => c.send({ t: "eof", ch: c.ch })));
        return;
      }
      case "put": {
        const input = new InboundReadable(c.link, c.ch, DEFAULT_WINDOW);
        c.onData = (f) => input.feed(f.payload);
        c.onEof = () => input.push(null);
        c.onAbandon = () => input.destroy();
        c.ready(DEFAULT_WINDOW);
        await putArchive(m.path, input, { noOverwriteDirNonDir: m.noOverwriteDirNonDir });
        c.done();
        return;
      }
      case "attach":
        return this.attachMain(c, m.window);
      case "exec":
        return this.exec(c, m);
    }
  }

  private async attachMain(c: Channel, window: number): Promise<void> {
    const link = c.link;
    this.attachesFlushing.set(link, (this.attachesFlushing.get(link) ?? 0) + 1);
    try {
      const endSeq = await this.serveAttach(c, window);
      if (endSeq !== undefined)
        this.attachEndSeq.set(link, Math.max(endSeq, this.attachEndSeq.get(link) ?? 0));
    } finally {
      if (!link.closed) this.attachesFlushing.set(link, (this.attachesFlushing.get(link) ?? 1) - 1);
      this.maybeFinish();
    }
  }

  /** Streams the main process's stdio over `c`; returns the sequence number of its exit message. */
  private async serveAttach(c: Channel, window: number): Promise<number | undefined> {
    const out = new Outbound(c.link, c.ch, window);
    const sinks: Sinks = { stdout: out.writable(KIND.stdout), stderr: out.writable(KIND.stderr) };
    const stdinFlow = new Inbound(c.link, c.ch, DEFAULT_WINDOW);
    c.onCredit = (n) => out.addCredit(n);
    c.onData = (f) => {
      if (f.kind !== KIND.stdin) return;
      const n = f.payload.length;
      if (this.main && !this.mainExit) this.main.writeStdin(f.payload, () => stdinFlow.consumed(n));
      else stdinFlow.consumed(n);
    };
    c.onEof = () => this.main?.endStdin();
    c.onSignal = (sig) => this.signalMain(sig);
    c.onResize = (rows, cols) => this.main?.resize(rows, cols);
    const detach = () => {
      this.attachSinks.delete(sinks);
      this.onDetach?.(sinks);
    };
    c.onAbandon = () => {
      detach();
      out.abort();
    };
    c.ready(DEFAULT_WINDOW);
    if (!this.mainExit) {
      this.attachSinks.add(sinks);
      this.onAttach?.(sinks);
    }
    const code = await this.whenMainExits();
    detach();
    // everything the main process wrote was handed to this channel before the exit was known
    await Promise.all([endWritable(sinks.stdout), endWritable(sinks.stderr)]);
    return c.exit(code);
  }

  private async exec(c: Channel, m: Extract<OpenMsg, { op: "exec" }>): Promise<void> {
    const spec = m.spec;
    let proc: LocalProcess;
    try {
      const user = resolveUser(spec.user);
      const env = [...spec.env];
      const has = (k: string) => env.some((e) => e.startsWith(k + "="));
      if (!has("PATH")) env.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
      if (!has("HOSTNAME")) env.push(`HOSTNAME=${hostname()}`);
      if (!has("HOME")) env.push(`HOME=${user?.home ?? "/root"}`);
      if (spec.tty && !has("TERM")) env.push("TERM=xterm");
      proc = await startProcess({
        argv: spec.cmd,
        env,
        cwd: spec.workdir || "/",
        user,
        tty: spec.tty,
        stdin: spec.stdin,
        rows: spec.rows,
        cols: spec.cols,
      });
    } catch (e) {
      // runc reports an unknown user on the exec's stdout, with exit code 126
      if (e instanceof UserError) throw Object.assign(new Error(e.message), { exitCode: 126, stdout: true });
      if (e instanceof StartError)
        throw Object.assign(new Error(`exec failed: unable to start container process: ${e.message}`), {
          exitCode: 126,
        });
      throw e;
    }
    const out = new Outbound(c.link, c.ch, m.window);
    const stdinFlow = new Inbound(c.link, c.ch, DEFAULT_WINDOW);
    c.onCredit = (n) => out.addCredit(n);
    c.onData = (f) => {
      const n = f.payload.length;
      if (f.kind === KIND.stdin) proc.writeStdin(f.payload, () => stdinFlow.consumed(n));
    };
    c.onEof = () => proc.endStdin();
    c.onSignal = (sig) => proc.kill(sig);
    c.onResize = (rows, cols) => proc.resize(rows, cols);
    const streams: [Readable, Writable][] = [[proc.stdout, out.writable(KIND.stdout)]];
    if (proc.stderr) streams.push([proc.stderr, out.writable(KIND.stderr)]);
    c.onAbandon = () => {
      // nobody reads any more: keep the process running (as dockerd does) and discard its output
      out.abort();
      proc.endStdin();
      for (const [src, dst] of streams) {
        src.unpipe(dst);
        src.resume();
      }
    };
    c.ready(DEFAULT_WINDOW);
    const flushed = streams.map(
      ([src, dst]) =>
        new Promise<void>((r) => {
          dst.once("finish", r).once("close", r).once("error", r);
          src.pipe(dst);
        }),
    );
    const code = await proc.exited;
    await Promise.all(flushed);
    c.exit(code);
  }
}

/** Append `--add-host` entries (NAME:IP, the address may be IPv6) to /etc/hosts, as dockerd writes them. */
async function addHosts(hosts: string[], file = "/etc/hosts"): Promise<void> {
  const lines = hosts.map((h) => {
    const i = h.indexOf(":");
    return `${h.slice(i + 1)}\t${h.slice(0, i)}\n`;
  });
  try {
    await appendFile(file, lines.join(""));
  } catch (e) {
    throw new Error(`cannot add --add-host entries to ${file}: ${(e as Error).message}`, { cause: e });
  }
}

function endWritable(w: Writable): Promise<void> {
  return new Promise((r) => {
    if (w.destroyed) return r();
    w.once("close", r).once("error", r);
    w.end(r);
  });
}

/** One channel of a link on the agent side: routes its messages to the operation serving it. */
class Channel {
  onCredit: ((n: number) => void) | undefined;
  onData: ((f: DataFrame) => void) | undefined;
  onEof: (() => void) | undefined;
  onSignal: ((sig: string) => void) | undefined;
  onResize: ((rows: number, cols: number) => void) | undefined;
  onAbandon: (() => void) | undefined;
  private finished = false;

  constructor(
    readonly link: Link,
    readonly ch: number,
    private readonly remove: () => void,
  ) {}

  /** the message's sequence number, or undefined when it was not sent */
  send(m: Control): number | undefined {
    if (!this.finished && !this.link.closed) return this.link.send(m);
    return undefined;
  }
  ready(window: number, stat?: PathStatWire): void {
    this.send({ t: "ready", ch: this.ch, window, ...(stat ? { stat } : {}) });
  }
  done(result: { stat?: PathStatWire; usage?: UsageWire } = {}): void {
    this.send({ t: "done", ch: this.ch, ...result });
    this.end();
  }
  exit(code: number): number | undefined {
    const seq = this.send({ t: "exit", ch: this.ch, code });
    this.end();
    return seq;
  }
  fail(e: Error): void {
    const status = e instanceof StatusError ? e.status : undefined;
    const { exitCode, stdout } = e as { exitCode?: number; stdout?: boolean };
    this.send({ t: "error", ch: this.ch, message: e.message, status, exitCode, stdout });
    this.onAbandon?.();
    this.end();
  }
  control(m: Sequenced): void {
    switch (m.t) {
      case "credit":
        this.onCredit?.(m.n);
        return;
      case "eof":
        this.onEof?.();
        return;
      case "signal":
        try {
          this.onSignal?.(m.sig);
        } catch {
          // an invalid signal name: the daemon validates before sending, nothing to deliver
        }
        return;
      case "resize":
        this.onResize?.(m.rows, m.cols);
        return;
      case "close":
        this.abandon();
        return;
    }
  }
  data(f: DataFrame): void {
    this.onData?.(f);
  }
  /** The daemon went away or closed the channel. */
  abandon(): void {
    this.onAbandon?.();
    this.end();
  }
  private end(): void {
    this.finished = true;
    this.remove();
  }
}
