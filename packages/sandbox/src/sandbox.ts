/**
 * spawnSandbox: run a container's process in an in-process bash interpreter (bashkit) with Docker semantics
 * for argv resolution, env, cwd, stdin/TTY, signals, limits and exit codes. See README.md for the limits.
 */
import { StringDecoder } from "node:string_decoder";
import type { Bash, ExecResult } from "@everruns/bashkit";
import { makeBuiltins } from "./builtins.js";
import {
  builtinCommands,
  DEFAULT_PATH,
  lookPath,
  parseEnv,
  parseShellArgs,
  resolveCommand,
  resolveUser,
  specView,
  type ShellInvocation,
  type StartError,
  type UserInfo,
} from "./command.js";
import { createInterp } from "./interp.js";
import {
  buildPrelude,
  preludeFunctionNames,
  preludeHeader,
  readShellScript,
  scanApplets,
  shQuote,
} from "./prelude.js";
import { isElf, normalizePath } from "./rootfs.js";
import { streamSafeArgv, streamSafeScript, type StreamSafetyEnv } from "./streamsafe.js";
import type { OutputStream, SandboxProcess, SandboxSpec } from "./types.js";

const SIGNALS: Record<string, number> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
  RTMIN: 34,
  RTMAX: 64,
};

/** Signals whose default action is not to terminate (ignore, stop, continue): they never end a process here. */
const NON_TERMINATING = new Set([17, 18, 19, 20, 21, 22, 23, 28]);

/** "SIGTERM" | "TERM" | "15" | "sigterm" | "SIGRTMIN+3" → number; undefined if unknown. */
export function parseSignal(sig: string): number | undefined {
  const s = String(sig).trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n >= 1 && n <= 64 ? n : undefined;
  }
  const name = s.startsWith("SIG") ? s.slice(3) : s;
  const rt = /^RTMIN\+(\d+)$/.exec(name) ?? /^RTMAX-(\d+)$/.exec(name);
  if (rt) {
    const n = name.startsWith("RTMIN") ? 34 + Number(rt[1]) : 64 - Number(rt[1]);
    return n >= 34 && n <= 64 ? n : undefined;
  }
  return Object.prototype.hasOwnProperty.call(SIGNALS, name) ? SIGNALS[name] : undefined;
}

/** Builtins that never read stdin: with `docker run -i` they start at once instead of waiting for EOF. */
const NO_STDIN = new Set(
  (
    "echo printf true false sleep ls pwd env printenv date mkdir rmdir touch rm cp mv ln chmod chown test [ uname hostname " +
    "id whoami seq yes kill basename dirname realpath readlink stat du df find tree which exit cd export set unset " +
    "local return shift type command : . source eval exec wait times umask trap alias unalias hash getopts let declare typeset"
  ).split(" "),
);

/**
 * Commands whose operands are all input files, with their options that take a value: given a file
 * (and no `-`), they never read stdin, so `docker exec -i c cat /etc/hosts` (or compose's exec,
 * which always opens stdin) need not wait for an EOF that may never come.
 */
const FILE_READERS: Record<string, string> = {
  cat: "",
  tac: "",
  wc: "",
  nl: "",
  md5sum: "",
  sha1sum: "",
  sha256sum: "",
  sha512sum: "",
  head: "nc",
  tail: "nc",
  sort: "kto",
  cut: "bcdf",
};

export function readsOnlyFiles(argv: string[]): boolean {
  const withValue = FILE_READERS[argv[0]];
  if (withValue === undefined) return false;
  let files = 0;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-") return false;
    if (a === "--") {
      const rest = argv.slice(i + 1);
      return !rest.includes("-") && files + rest.length > 0;
    }
    if (a.startsWith("-")) {
      if (a.length === 2 && withValue.includes(a[1])) i++; // the option's value is the next argument
      continue;
    }
    files++;
  }
  return files > 0;
}

const DEFAULT_MAX_MEMORY = 256 * 1024 * 1024;
const DEFAULT_MAX_OUTPUT = 256 * 1024 * 1024;

export function spawnSandbox(spec: SandboxSpec): SandboxProcess {
  return new Sandbox(spec);
}

class Killed extends Error {}

interface LineResult {
  exited: boolean;
  status: number;
}

class Sandbox implements SandboxProcess {
  readonly exited: Promise<number>;
  private resolveExit!: (code: number) => void;
  private readonly listeners: ((stream: OutputStream, data: Buffer) => void)[] = [];
  private done = false;
  private bash: Bash | undefined;
  private running = false;
  private interrupting = false;
  private readonly waits = new Set<(e: Error) => void>();
  private timeoutTimer: NodeJS.Timeout | undefined;

  // stdin
  private readonly decoder = new StringDecoder("utf8");
  private partial = ""; // current (unfinished) input line
  private readonly lines: string[] = [];
  private stdinEof = false;
  private lineWaiter: (() => void) | undefined;
  private mode: "starting" | "collect" | "repl" | "run" = "starting";

  // REPL marker state
  private marked: { status: number; cwd: string } | undefined;
  private cwd = "/";
  private user: UserInfo | undefined;
  private outputCap = DEFAULT_MAX_OUTPUT;
  private capNoticed = false;
  /** Output of a command run without live streaming (see streamsafe.ts), kept in case it gets killed. */
  private buffering = false;
  private provisional: { stream: OutputStream; data: string | Buffer }[] = [];
  private safety: StreamSafetyEnv | undefined;
  /** Length of what precedes the user's text on line 1 (prelude, $? carry-over). */
  private columnOffset = 0;
  private lastStatus = 0;

  constructor(private readonly spec: SandboxSpec) {
    this.exited = new Promise<number>((resolve) => (this.resolveExit = resolve));
    const t = spec.limits?.timeoutMs;
    if (t !== undefined && t > 0 && Number.isFinite(t)) {
      this.timeoutTimer = setTimeout(() => this.kill(137), Math.min(t, 2 ** 31 - 1));
    }
    // Start on a later tick: the caller attaches its output listener synchronously after spawn.
    setImmediate(() => {
      this.start().catch((e: unknown) =>
        this.fail({ exitCode: 1, message: `sandbox: internal error: ${(e as Error)?.message ?? e}` }),
      );
    });
  }

  // ------------------------------------------------------------ public API

  onOutput(listener: (stream: OutputStream, data: Buffer) => void): void {
    this.listeners.push(listener);
  }

  writeStdin(data: Buffer): void {
    if (this.done || this.stdinEof || !this.spec.openStdin) return;
    const s = this.decoder.write(data);
    if (this.spec.tty) this.discipline(s);
    else this.addInput(s);
  }

  endStdin(): void {
    if (this.stdinEof) return;
    const rest = this.decoder.end();
    if (rest && !this.spec.tty) this.addInput(rest);
    if (this.partial) this.lines.push(this.partial);
    this.partial = "";
    this.stdinEof = true;
    this.wakeReader();
  }

  signal(sig: string): void {
    const n = parseSignal(sig);
    if (n === undefined || this.done) return;
    if (n === 9) return this.kill(137);
    if (NON_TERMINATING.has(n)) return;
    if (this.spec.isInit) return; // PID 1 without a handler ignores it; the engine escalates to SIGKILL
    this.kill(128 + n);
  }

  resize(rows: number, cols: number): void {
    void rows;
    void cols; // the interpreter has no terminal; nothing depends on the window size
  }

  // ------------------------------------------------------------ lifecycle

  private kill(code: number): void {
    if (this.done) return;
    this.flushProvisional();
    const bash = this.bash;
    this.finish(code);
    try {
      bash?.cancel();
    } catch {
      // already finished
    }
  }

  private abortRunning(): void {
    const err = new Killed("killed");
    for (const reject of [...this.waits]) reject(err);
  }

  private finish(code: number): void {
    if (this.done) return;
    this.done = true;
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.wakeReader();
    this.resolveExit(code);
    this.abortRunning(); // timers of builtins abandoned by bashkit (e.g. `timeout 1 sleep 60`)
    if (!this.running) this.bash = undefined;
  }

  private fail(err: StartError, stream: OutputStream = "stderr"): void {
    if (this.done) return;
    this.emit(stream, err.message.endsWith("\n") ? err.message : err.message + "\n");
    this.finish(err.exitCode);
  }

  /** A timer the custom builtins wait on; rejected by kill and by a REPL interrupt (^C). */
  private wait(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.done || this.interrupting) return reject(new Killed("killed"));
      let timer: NodeJS.Timeout | undefined;
      const rej = (e: Error) => {
        if (timer) clearTimeout(timer);
        this.waits.delete(rej);
        reject(e);
      };
      this.waits.add(rej);
      if (ms < 2 ** 31 - 1) {
        timer = setTimeout(
          () => {
            this.waits.delete(rej);
            resolve();
          },
          Math.max(0, ms),
        );
      }
    });
  }

  // ------------------------------------------------------------ output

  /** Process output produced outside the interpreter's result (tail -f): held back while buffering. */
  private out(stream: OutputStream, data: string | Buffer): void {
    if (this.buffering) this.provisional.push({ stream, data });
    else this.emit(stream, data);
  }

  /** Best effort when a buffered command is killed or interrupted: what the live stream saw. */
  private flushProvisional(): void {
    const p = this.provisional;
    this.provisional = [];
    this.buffering = false;
    for (const { stream, data } of p) this.emit(stream, data);
  }

  private emit(stream: OutputStream, data: string | Buffer): void {
    if (this.done) return;
    let buf: Buffer;
    if (this.spec.tty) {
      const s = typeof data === "string" ? data : data.toString("latin1");
      buf = Buffer.from(s.replace(/\n/g, "\r\n"), typeof data === "string" ? "utf8" : "latin1");
      stream = "stdout";
    } else {
      buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    }
    if (buf.length === 0) return;
    for (const l of this.listeners) {
      try {
        l(stream, buf);
      } catch {
        // a failing listener must not break the process
      }
    }
  }

  /** bashkit prints some errors without a trailing newline, and "command not found" with a hint. */
  private fixStderr(s: string): string {
    return this.fixColumn(s)
      .replace(/: command not found(\.[^\n]*?)?(?=\n|bash: |$)\n?/g, ": command not found\n")
      .replace(
        /(bash: [^\n]*?: (?:No such file or directory|Permission denied|Is a directory))(?=bash: |$)/g,
        "$1\n",
      );
  }

  /** Line 1 of a script carries the prelude: report parse-error columns relative to the user's text. */
  private fixColumn(s: string): string {
    if (!s.includes("parse error at line 1, column ")) return s;
    return s.replace(/parse error at line 1, column (\d+)/g, (m, col: string) =>
      Number(col) > this.columnOffset
        ? `parse error at line 1, column ${Number(col) - this.columnOffset}`
        : m,
    );
  }

  // ------------------------------------------------------------ start

  private async start(): Promise<void> {
    if (this.done) return;
    const spec = this.spec;
    const view = specView(spec);
    const user = resolveUser(spec);
    this.user = user;
    // runc's exec writes this failure into the exec's own output (stdout, a terminal's CRLF)
    if (user.error && !spec.isInit)
      return this.fail({ ...user.error, message: user.error.message + "\r\n" }, "stdout");
    if (user.error) return this.fail(user.error);
    const res = resolveCommand(spec);
    if (res.error) return this.fail(res.error);

    const env = parseEnv(spec.env ?? []);
    if (!env.has("PATH")) env.set("PATH", DEFAULT_PATH);
    if (!env.has("HOSTNAME")) env.set("HOSTNAME", spec.hostname);
    if (!env.has("HOME")) env.set("HOME", user.home);
    if (spec.tty && !env.has("TERM")) env.set("TERM", "xterm");
    const cwd = normalizePath(spec.cwd || "/");
    this.cwd = cwd;
    this.outputCap = spec.limits?.outputBytes ?? DEFAULT_MAX_OUTPUT;

    const applets = scanApplets(view, spec.shareKey);
    const prelude = buildPrelude(applets, user.uid, !env.has("USER"));
    const host = {
      wait: (ms: number) => this.wait(ms),
      emit: (stream: OutputStream, data: Buffer | string) => this.out(stream, data),
      view,
      user,
    };
    const { bash, warnings } = createInterp({
      env: Object.fromEntries(env),
      cwd,
      username: user.name,
      hostname: spec.hostname,
      maxMemory: spec.limits?.memoryBytes ?? DEFAULT_MAX_MEMORY,
      maxOutputBytes: this.outputCap,
      mounts: [
        { containerPath: "/", hostPath: spec.rootfs, readOnly: !!spec.readOnlyRootfs },
        ...(spec.mounts ?? []),
      ],
      builtins: {
        ...makeBuiltins(host),
        __sx_stdin: () => this.lines.join(""),
        __sx_mark: (ctx) => {
          this.marked = { status: Number(ctx.argv[0]) || 0, cwd: ctx.cwd };
          return "";
        },
      },
    });
    this.bash = bash;
    this.safety = {
      isBuiltin: (n) => builtinCommands().has(n),
      preludeFunctions: preludeFunctionNames(applets),
      readScript: (p) => readShellScript(view, p, this.cwd),
      findScript: (n) => {
        const f = lookPath(view, n, env.get("PATH") ?? DEFAULT_PATH, this.cwd);
        return f && !isElf(f.resolved.host) ? f.path : undefined;
      },
    };
    if (this.done) return;
    try {
      bash.mkdir(cwd, true); // docker creates the WorkingDir
    } catch {
      // exists as a file, or read-only: bash reports it when used
    }
    for (const w of warnings) this.emit("stderr", w + "\n");

    const argv = res.argv;
    const inv =
      res.kind === "builtin" && (argv[0] === "sh" || argv[0] === "bash")
        ? parseShellArgs(argv.slice(1))
        : undefined;
    const header = preludeHeader(prelude);
    this.columnOffset = header.length;

    if (inv?.mode === "stdin") {
      if (spec.openStdin) return this.repl(header, inv);
      if (spec.tty) {
        // `docker run -t image sh`: a shell on a terminal nobody types into waits forever.
        this.emit("stdout", this.prompt());
        await this.wait(Infinity).catch(() => undefined);
        return;
      }
      return this.finish(0); // stdin is empty: the shell reads EOF and exits
    }

    let command = argv.map(shQuote).join(" ");
    if (spec.openStdin && this.needsStdin(argv, inv)) {
      this.mode = "collect";
      while (!this.stdinEof && !this.done) await this.nextInput();
      if (this.done) return;
      command = `__sx_stdin | ${command}`;
    }
    this.mode = "run";
    const r = await this.exec(header + command + "\n", streamSafeArgv(argv, this.safety).safe);
    if (r) this.finish(r.exitCode);
  }

  private needsStdin(argv: string[], inv: ShellInvocation | undefined): boolean {
    if (!inv) return !NO_STDIN.has(argv[0]) && !readsOnlyFiles(argv);
    if (inv.mode !== "c") return true;
    try {
      const a = this.bash!.analyze(inv.script);
      if (a.isOpaque || a.hasDynamicCommands || a.truncated) return true;
      return !a.commandNames.every((n) => NO_STDIN.has(n));
    } catch {
      return true;
    }
  }

  /**
   * Run a script, streaming its output. Returns undefined if the process was killed meanwhile.
   * Output that the interpreter reports only in the final result (parse errors, limit errors) is emitted too.
   */
  private async exec(
    script: string,
    stream: boolean,
  ): Promise<{ exitCode: number; error?: string } | undefined> {
    const bash = this.bash!;
    let outLen = 0;
    let errLen = 0;
    this.running = true;
    this.buffering = !stream;
    this.provisional = [];
    let result: ExecResult;
    try {
      result = await bash.execute(script, {
        onOutput: ({ stdout, stderr }) => {
          if (stdout) {
            outLen += stdout.length;
            if (!this.interrupting) this.out("stdout", stdout);
          }
          if (stderr) {
            errLen += stderr.length;
            if (!this.interrupting) this.out("stderr", this.fixStderr(stderr));
          }
          if (!this.capNoticed && (outLen >= this.outputCap || errLen >= this.outputCap)) {
            this.capNoticed = true;
            this.emit(
              "stderr",
              `sandbox: output limit of ${this.outputCap} bytes reached; further output of this command is discarded\n`,
            );
          }
        },
      });
    } catch (e) {
      this.running = false;
      this.buffering = false;
      if (this.done) return undefined;
      this.emit("stderr", `sandbox: ${(e as Error)?.message ?? e}\n`);
      return { exitCode: 1 };
    }
    this.running = false;
    if (this.done) {
      this.bash = undefined;
      return undefined;
    }
    if (this.interrupting) {
      this.flushProvisional();
      return { exitCode: 130, error: result.error };
    }
    if (!stream) {
      // The final result is authoritative; the live stream may have been wrong.
      this.provisional = [];
      this.buffering = false;
      outLen = 0;
      errLen = 0;
    }
    if (result.stdout.length > outLen) this.emit("stdout", result.stdout.slice(outLen));
    let errRest = result.stderr.length > errLen ? result.stderr.slice(errLen) : "";
    let exitCode = result.exitCode;
    if (result.error) {
      errRest = errRest.replace(result.error, "");
      if (/parse error/.test(result.error)) {
        // Line 1 of a script carries the prelude: report columns relative to the user's text.
        errRest += `sh: ${this.fixColumn(result.error)}\n`;
        exitCode = 2; // bash's status for a syntax error
      } else if (result.error !== "execution cancelled") {
        errRest += `sandbox: ${result.error}\n`;
        exitCode ||= 1;
      }
    }
    if (errRest) this.emit("stderr", this.fixStderr(errRest));
    return { exitCode, error: result.error };
  }

  // ------------------------------------------------------------ stdin / REPL

  private prompt(): string {
    return this.user?.uid === 0 ? `${this.cwd} # ` : "$ ";
  }

  private wakeReader(): void {
    const w = this.lineWaiter;
    this.lineWaiter = undefined;
    w?.();
  }

  private nextInput(): Promise<void> {
    return new Promise((resolve) => (this.lineWaiter = resolve));
  }

  private async nextLine(): Promise<string | undefined> {
    while (this.lines.length === 0 && !this.stdinEof && !this.done) await this.nextInput();
    return this.lines.shift();
  }

  private addInput(s: string): void {
    this.partial += s;
    let nl: number;
    while ((nl = this.partial.indexOf("\n")) >= 0) {
      this.lines.push(this.partial.slice(0, nl + 1));
      this.partial = this.partial.slice(nl + 1);
    }
    this.wakeReader();
  }

  /** Terminal line discipline (canonical mode): ICRNL, ECHO, erase/kill, ^C, ^D. */
  private discipline(s: string): void {
    for (const ch of s) {
      if (this.stdinEof || this.done) return;
      if (ch === "\r" || ch === "\n") {
        this.emit("stdout", "\n");
        this.lines.push(this.partial + "\n");
        this.partial = "";
        this.wakeReader();
      } else if (ch === "\x7f" || ch === "\b") {
        if (this.partial) {
          this.partial = [...this.partial].slice(0, -1).join("");
          this.emit("stdout", "\b \b");
        }
      } else if (ch === "\x15") {
        this.emit("stdout", "\b \b".repeat([...this.partial].length));
        this.partial = "";
      } else if (ch === "\x03") {
        this.emit("stdout", "^C\n");
        this.partial = "";
        this.ctrlC();
      } else if (ch === "\x04") {
        if (!this.partial) this.endStdin();
      } else if (ch === "\x1c") {
        this.emit("stdout", "^\\");
      } else {
        this.emit("stdout", ch < " " && ch !== "\t" ? "^" + String.fromCharCode(ch.charCodeAt(0) + 64) : ch);
        this.partial += ch;
      }
    }
  }

  private replBuffer = "";

  private ctrlC(): void {
    if (this.mode !== "repl") return this.signal("SIGINT");
    if (this.running) {
      this.interrupting = true;
      this.abortRunning();
      try {
        this.bash?.cancel();
      } catch {
        // not running
      }
    } else {
      this.replBuffer = "";
      this.emit("stdout", this.prompt());
    }
  }

  private async repl(header: string, inv: ShellInvocation): Promise<void> {
    this.mode = "repl";
    let init = header;
    if (inv.options.length > 0) init += `set ${inv.options.map(shQuote).join(" ")}\n`;
    if (inv.params.length > 0) init += `set -- ${inv.params.map(shQuote).join(" ")}\n`;
    if (!(await this.exec(init, true))) return;
    const tty = this.spec.tty;
    let status = 0;
    if (tty) this.emit("stdout", this.prompt());
    for (;;) {
      const line = await this.nextLine();
      if (this.done) return;
      if (line === undefined) {
        if (this.replBuffer.trim()) {
          const r = await this.runLine(this.replBuffer);
          if (!r) return;
          status = r.status;
        }
        return this.finish(status);
      }
      this.replBuffer += line;
      if (incomplete(this.replBuffer, this.bash!)) {
        if (tty) this.emit("stdout", "> ");
        continue;
      }
      const script = this.replBuffer;
      this.replBuffer = "";
      if (!script.trim()) {
        if (tty) this.emit("stdout", this.prompt());
        continue;
      }
      const r = await this.runLine(script);
      if (!r) return;
      if (r.exited) return this.finish(r.status);
      status = r.status;
      if (tty) this.emit("stdout", this.prompt());
    }
  }

  /** Run one complete command line of the REPL; tells whether the shell exited (exit, exec, set -e). */
  private async runLine(script: string): Promise<LineResult | undefined> {
    this.marked = undefined;
    const safe = streamSafeScript(script, undefined, this.safety!).safe;
    // $? does not survive between executions: carry it over ("&& :" keeps set -e from firing).
    const carry = `(exit ${this.lastStatus}) && :; `;
    this.columnOffset = carry.length;
    const text = `${carry}${script}${script.endsWith("\n") ? "" : "\n"}__sx_mark $?\n`;
    const r = await this.exec(text, safe);
    if (!r) return undefined;
    let res: LineResult;
    const marked = this.marked as { status: number; cwd: string } | undefined;
    if (this.interrupting) {
      this.interrupting = false;
      try {
        this.bash!.clearCancel();
      } catch {
        // nothing to clear
      }
      res = { exited: false, status: 130 };
    } else if (marked) {
      this.cwd = marked.cwd;
      res = { exited: false, status: marked.status };
    } else if (r.exitCode === 2 && (r.error === undefined || /parse error/.test(r.error))) {
      res = { exited: false, status: 2 }; // syntax error: the shell goes on
    } else res = { exited: true, status: r.exitCode };
    this.lastStatus = res.status;
    return res;
  }
}

/** Whether a REPL buffer needs more lines (open quote/block/heredoc, trailing backslash or operator). */
export function incomplete(script: string, bash: Pick<Bash, "analyze">): boolean {
  if (/(^|[^\\])(\\\\)*\\\n$/.test(script)) return true; // line continuation
  if (/(&&|\|\||\|)[ \t]*\n$/.test(script)) return true; // a list or pipeline continues
  if (pendingHeredoc(script)) return true;
  try {
    bash.analyze(script);
    return false;
  } catch (e) {
    const msg = String((e as Error)?.message ?? e);
    return /unterminated|expected '(fi|done|esac|do|then|in|\}|\))'|to close|expected command after|empty [a-z ]+ (body|clause)|unexpected end of input/i.test(
      msg,
    );
  }
}

function pendingHeredoc(script: string): boolean {
  const lines = script.split("\n");
  const pending: { delim: string; strip: boolean }[] = [];
  for (const line of lines) {
    if (pending.length > 0) {
      const p = pending[0];
      if ((p.strip ? line.replace(/^\t+/, "") : line) === p.delim) pending.shift();
      continue;
    }
    const re = /<<(-?)\s*(?:'([^']*)'|"([^"]*)"|\\?([A-Za-z0-9_]+))/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(line))) {
      if (line[m.index + 2] === "<" || line[m.index - 1] === "<") continue; // <<< here-string
      pending.push({ delim: m[2] ?? m[3] ?? m[4], strip: m[1] === "-" });
    }
  }
  return pending.length > 0;
}
