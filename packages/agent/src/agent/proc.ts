import { spawn } from "node:child_process";
import { constants as osConstants } from "node:os";
import { Readable, type Writable } from "node:stream";
import { checkWorkdir, resolveExecutable } from "./exe.js";
import type { Identity } from "./users.js";

export interface ProcessSpec {
  argv: string[];
  env: string[];
  cwd: string;
  user: Identity | undefined;
  tty: boolean;
  stdin: boolean;
  rows?: number;
  cols?: number;
}

/** A process the agent runs (the main process or an exec), with its output as Readables. */
export interface LocalProcess {
  readonly pid: number;
  /** terminal output with a TTY */
  readonly stdout: Readable;
  readonly stderr: Readable | undefined;
  writeStdin(data: Buffer, cb: (err?: Error | null) => void): void;
  endStdin(): void;
  kill(sig: string): void;
  resize(rows: number, cols: number): void;
  /** exit code (128+n for signal n), after the output streams ended */
  readonly exited: Promise<number>;
}

/** "TERM", "SIGTERM", "15" → what process.kill takes. */
export function normalizeSignal(sig: string): NodeJS.Signals | number {
  if (/^\d+$/.test(sig)) return Number(sig);
  const name = (
    sig.toUpperCase().startsWith("SIG") ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`
  ) as NodeJS.Signals;
  if (!(name in osConstants.signals)) throw new Error(`invalid signal: ${sig}`);
  return name;
}

function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
}

function envObject(env: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (const e of env) {
    const i = e.indexOf("=");
    if (i > 0) o[e.slice(0, i)] = e.slice(i + 1);
  }
  return o;
}

/**
 * After the process exits, its pipes may stay open in background children it left behind (as in
 * `sh -c 'sleep 99 & echo hi'`); dockerd stops waiting for those. Once the output went idle while
 * flowing (never while paused by back-pressure, so nothing unread is lost), stop reading.
 */
function settleAfterExit(streams: Readable[]): Promise<void> {
  const open = streams.filter((s) => !s.readableEnded && !s.destroyed);
  if (open.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    let last = Date.now();
    const onData = () => (last = Date.now());
    for (const s of open) s.on("data", onData);
    const done = () => {
      clearInterval(timer);
      for (const s of open) s.off("data", onData);
      resolve();
    };
    const timer = setInterval(() => {
      const live = open.filter((s) => !s.readableEnded && !s.destroyed);
      if (live.length === 0) return done();
      if (Date.now() - last < 500 || live.some((s) => s.isPaused() || s.readableLength > 0)) return;
      for (const s of live) s.destroy();
      done();
    }, 250);
    for (const s of open) s.once("close", () => open.every((x) => x.destroyed || x.readableEnded) && done());
  });
}

export async function startProcess(spec: ProcessSpec): Promise<LocalProcess> {
  checkWorkdir(spec.cwd);
  const file = resolveExecutable(spec.argv[0] ?? "", spec.env, spec.cwd);
  return spec.tty ? startPty(file, spec) : startPipes(file, spec);
}

function startPipes(file: string, spec: ProcessSpec): Promise<LocalProcess> {
  const child = spawn(file, spec.argv.slice(1), {
    argv0: spec.argv[0],
    cwd: spec.cwd,
    env: envObject(spec.env),
    uid: spec.user?.uid,
    gid: spec.user?.gid,
    stdio: [spec.stdin ? "pipe" : "ignore", "pipe", "pipe"],
    detached: true, // own process group, like a container process
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("spawn", () => {
      child.off("error", reject);
      child.on("error", () => {});
      const stdin = child.stdin as Writable | null;
      stdin?.on("error", () => {}); // EPIPE when the process exits before reading its input
      const exited = new Promise<number>((res) => {
        child.once("exit", (code, signal) => {
          settleAfterExit([child.stdout!, child.stderr!]).then(() => res(exitCode(code, signal)));
        });
      });
      resolve({
        pid: child.pid!,
        stdout: child.stdout!,
        stderr: child.stderr!,
        writeStdin: (data, cb) => {
          if (!stdin || stdin.destroyed || stdin.writableEnded) cb();
          else stdin.write(data, cb);
        },
        endStdin: () => stdin?.end(),
        kill: (sig) => {
          try {
            process.kill(child.pid!, normalizeSignal(sig));
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
          }
        },
        resize: () => {},
        exited,
      });
    });
  });
}

async function startPty(file: string, spec: ProcessSpec): Promise<LocalProcess> {
  const pty = await import("node-pty");
  const term = pty.spawn(file, spec.argv.slice(1), {
    name: envObject(spec.env).TERM ?? "xterm",
    cols: spec.cols || 80,
    rows: spec.rows || 24,
    cwd: spec.cwd,
    env: envObject(spec.env),
    uid: spec.user?.uid,
    gid: spec.user?.gid,
    encoding: null,
  });
  // node-pty has no Readable; this one pauses the terminal when its reader falls behind
  const out = new Readable({ read: () => term.resume() });
  term.onData((d: string | Buffer) => {
    if (!out.push(typeof d === "string" ? Buffer.from(d) : d)) term.pause();
  });
  const exited = new Promise<number>((res) => {
    term.onExit(({ exitCode: code, signal }) => {
      out.push(null);
      res(signal ? 128 + signal : code);
    });
  });
  return {
    pid: term.pid,
    stdout: out,
    stderr: undefined,
    writeStdin: (data, cb) => {
      term.write(data as unknown as string);
      cb();
    },
    endStdin: () => {}, // a terminal has no half-close; the program ends on its own or by signal
    kill: (sig) => {
      try {
        process.kill(term.pid, normalizeSignal(sig));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
      }
    },
    resize: (rows, cols) => {
      if (rows > 0 && cols > 0) term.resize(cols, rows);
    },
    exited,
  };
}
