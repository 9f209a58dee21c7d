/**
 * Builtins the sandbox adds to (or replaces in) the interpreter:
 *  - sleep: bashkit's sleep cannot be interrupted; ours waits on a JS timer that a kill rejects.
 *  - tail: bashkit's tail has no -f; `tail -f /dev/null` is the classic keep-alive command.
 *  - id, whoami: report the container user instead of bashkit's fixed uid 1000.
 *  - touch: bashkit's fails on host directories ("set_modified_time not supported") and lacks -c.
 * Custom builtins return their whole stdout at the end and cannot set an exit status other than 0/1
 * (a thrown error becomes "GenericFailure, <message>" on stderr and status 1).
 */
import * as fs from "node:fs";
import type { BuiltinCallback, BuiltinContext } from "@everruns/bashkit";
import type { UserInfo } from "./command.js";
import { hostPathFor, normalizePath, readGroups, readPasswd, resolveFile, type FsView } from "./rootfs.js";

export interface BuiltinHost {
  /** Resolves after ms milliseconds (Infinity: never); rejects when the process is killed or interrupted. */
  wait(ms: number): Promise<void>;
  /** Write straight to the process's stdout/stderr (bypasses redirections; used by tail -f). */
  emit(stream: "stdout" | "stderr", data: Buffer | string): void;
  view: FsView;
  user: UserInfo;
}

export function makeBuiltins(host: BuiltinHost): Record<string, BuiltinCallback> {
  return {
    sleep: async (ctx) => {
      await host.wait(parseSleep(ctx.argv));
      return "";
    },
    tail: (ctx) => tail(host, ctx),
    id: (ctx) => id(host, ctx.argv),
    touch: (ctx) => touch(host, ctx),
    whoami: (ctx) => {
      if (ctx.argv.length > 0) throw new Error(`whoami: extra operand '${ctx.argv[0]}'`);
      if (!host.user.name) throw new Error(`whoami: cannot find name for user ID ${host.user.uid}`);
      return host.user.name + "\n";
    },
  };
}

const UNITS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86400 };

/** GNU sleep: NUMBER[smhd]..., summed; "infinity". */
export function parseSleep(argv: string[]): number {
  if (argv.length === 0) throw new Error("sleep: missing operand");
  let total = 0;
  for (const a of argv) {
    if (/^\+?inf(inity)?$/i.test(a)) return Infinity;
    const m = /^\+?(\d+\.?\d*|\.\d+)(?:e([+-]?\d+))?([smhd]?)$/.exec(a);
    if (!m) throw new Error(`sleep: invalid time interval '${a}'`);
    total += Number(m[1]) * 10 ** Number(m[2] ?? 0) * UNITS[m[3]];
  }
  return total * 1000;
}

// ---------------------------------------------------------------- tail

interface TailOptions {
  count: number;
  bytes: boolean;
  fromStart: boolean;
  follow: boolean;
  retry: boolean;
  headers: boolean | undefined;
  intervalMs: number;
  files: string[];
}

function parseCount(v: string | undefined, opts: TailOptions, bytes: boolean): void {
  if (v === undefined) throw new Error(`tail: option requires an argument -- '${bytes ? "c" : "n"}'`);
  const m = /^([+-]?)(\d+)([bkKmMgG]?)(i?B?)$/.exec(v);
  if (!m) throw new Error(`tail: invalid number of ${bytes ? "bytes" : "lines"}: '${v}'`);
  const mult: Record<string, number> = {
    "": 1,
    b: 512,
    k: 1024,
    K: 1024,
    m: 1 << 20,
    M: 1 << 20,
    g: 1 << 30,
    G: 1 << 30,
  };
  opts.count = Number(m[2]) * mult[m[3]];
  opts.fromStart = m[1] === "+";
  opts.bytes = bytes;
}

export function parseTail(argv: string[]): TailOptions {
  const o: TailOptions = {
    count: 10,
    bytes: false,
    fromStart: false,
    follow: false,
    retry: false,
    headers: undefined,
    intervalMs: 250,
    files: [],
  };
  let i = 0;
  if (argv[0] !== undefined && /^[+-]\d+[bcl]?f?$/.test(argv[0])) {
    // obsolete forms: tail -20, tail +5, tail -5f
    const m = /^([+-])(\d+)([bcl]?)(f?)$/.exec(argv[0]) as RegExpExecArray;
    parseCount((m[1] === "+" ? "+" : "") + m[2], o, m[3] === "c");
    if (m[3] === "b") o.count *= 512;
    o.follow = m[4] === "f";
    i = 1;
  }
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      o.files.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const [k, v] = a.includes("=")
        ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
        : [a, undefined];
      if (k === "--lines") parseCount(v ?? argv[++i], o, false);
      else if (k === "--bytes") parseCount(v ?? argv[++i], o, true);
      else if (k === "--follow") o.follow = true;
      else if (k === "--retry") o.retry = true;
      else if (k === "--quiet" || k === "--silent") o.headers = false;
      else if (k === "--verbose") o.headers = true;
      else if (k === "--sleep-interval") o.intervalMs = Number(v ?? argv[++i]) * 1000 || 250;
      else if (k === "--pid" || k === "--max-unchanged-stats") {
        if (v === undefined) i++;
      } else throw new Error(`tail: unrecognized option '${a}'`);
      continue;
    }
    if (a.length > 1 && a.startsWith("-")) {
      for (let j = 1; j < a.length; j++) {
        const ch = a[j];
        if (ch === "f") o.follow = true;
        else if (ch === "F") {
          o.follow = true;
          o.retry = true;
        } else if (ch === "q") o.headers = false;
        else if (ch === "v") o.headers = true;
        else if (ch === "z") continue;
        else if (ch === "n" || ch === "c" || ch === "s") {
          const v = j + 1 < a.length ? a.slice(j + 1) : argv[++i];
          if (ch === "s") o.intervalMs = Number(v) * 1000 || 250;
          else parseCount(v, o, ch === "c");
          break;
        } else if (/\d/.test(ch)) {
          parseCount(a.slice(j).replace(/f$/, ""), o, false);
          if (a.endsWith("f")) o.follow = true;
          break;
        } else throw new Error(`tail: invalid option -- '${ch}'`);
      }
      continue;
    }
    o.files.push(a);
  }
  return o;
}

/** Select the tail of a buffer per options (lines or bytes, last N or from N). */
export function tailSelect(buf: Buffer, o: Pick<TailOptions, "count" | "bytes" | "fromStart">): Buffer {
  if (o.bytes) {
    if (o.fromStart) return buf.subarray(Math.max(0, o.count - 1));
    return o.count === 0 ? buf.subarray(buf.length) : buf.subarray(Math.max(0, buf.length - o.count));
  }
  if (o.fromStart) {
    let pos = 0;
    for (let n = 1; n < o.count && pos < buf.length; n++) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0) return buf.subarray(buf.length);
      pos = nl + 1;
    }
    return buf.subarray(pos);
  }
  if (o.count === 0) return buf.subarray(buf.length);
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 10) end--; // a trailing newline does not start another line
  let pos = end;
  for (let n = 0; n < o.count; n++) {
    if (pos <= 0) return buf;
    const nl = buf.lastIndexOf(10, pos - 1);
    if (nl < 0) return buf;
    pos = nl;
  }
  return buf.subarray(pos + 1);
}

function absPath(cwd: string, p: string): string {
  return normalizePath(p.startsWith("/") ? p : cwd + "/" + p);
}

function readVfs(ctx: BuiltinContext, p: string): Buffer {
  const abs = absPath(ctx.cwd, p);
  if (abs === "/dev/null") return Buffer.alloc(0);
  return Buffer.from(ctx.fs.readFile(abs), "utf8");
}

async function tail(host: BuiltinHost, ctx: BuiltinContext): Promise<string> {
  const o = parseTail(ctx.argv);
  const files = o.files.length > 0 ? o.files : ["-"];
  const headers = o.headers ?? files.length > 1;
  const header = (f: string, first: boolean) =>
    headers ? `${first ? "" : "\n"}==> ${f === "-" ? "standard input" : f} <==\n` : "";
  const stdinFollow = files.length === 1 && files[0] === "-" && ctx.stdin === null;
  if (!o.follow || (files.every((f) => f === "-") && !stdinFollow)) {
    // Plain tail (also `tail -f` on a pipe, which ends with the pipe).
    const out: Buffer[] = [];
    const errors: string[] = [];
    files.forEach((f) => {
      let data: Buffer;
      try {
        data = f === "-" ? Buffer.from(ctx.stdin ?? "", "utf8") : readVfs(ctx, f);
      } catch {
        errors.push(`tail: cannot open '${f}' for reading: No such file or directory`);
        return;
      }
      out.push(Buffer.from(header(f, out.length === 0), "utf8"), tailSelect(data, o));
    });
    if (errors.length > 0) throw new Error(errors.join("\n"));
    return Buffer.concat(out).toString("utf8");
  }
  await follow(host, ctx, o, files, header);
  return "";
}

interface Followed {
  name: string;
  host?: string;
  offset: number;
}

/** tail -f: output goes straight to the process's stdout, polling host files for appended data. */
async function follow(
  host: BuiltinHost,
  ctx: BuiltinContext,
  o: TailOptions,
  files: string[],
  header: (f: string, first: boolean) => string,
): Promise<void> {
  const followed: Followed[] = [];
  let last: Followed | undefined;
  const errors: string[] = [];
  let first = true;
  for (const f of files) {
    const entry: Followed = { name: f, offset: 0 };
    const cpath = absPath(ctx.cwd, f);
    const r = f === "-" || cpath.startsWith("/dev/") ? undefined : resolveFile(host.view, cpath);
    if (cpath === "/dev/null" || cpath === "/dev/zero") {
      first = false;
      last = entry;
      continue; // nothing to print, never grows
    }
    if (r && r.stat.isFile()) {
      entry.host = r.host;
      const data = readHost(r.host, 0);
      entry.offset = data.length;
      host.emit("stdout", Buffer.concat([Buffer.from(header(f, first), "utf8"), tailSelect(data, o)]));
      first = false;
      last = entry;
    } else if (f !== "-" && ctx.fs.exists(cpath)) {
      // Only in the interpreter's VFS (/dev/null, ...): print what is there, never grows.
      host.emit(
        "stdout",
        Buffer.concat([Buffer.from(header(f, first), "utf8"), tailSelect(readVfs(ctx, f), o)]),
      );
      first = false;
      last = entry;
      continue;
    } else if (f !== "-") {
      errors.push(`tail: cannot open '${f}' for reading: No such file or directory`);
      if (!o.retry) continue;
    }
    followed.push(entry);
  }
  if (errors.length > 0) host.emit("stderr", errors.join("\n") + "\n");
  const pollable = followed.filter((e) => e.name !== "-");
  if (pollable.length === 0 && followed.length === 0 && errors.length > 0) {
    throw new Error("tail: no files remaining");
  }
  if (pollable.length === 0) {
    await host.wait(Infinity);
    return;
  }
  for (;;) {
    await host.wait(o.intervalMs);
    for (const e of pollable) {
      if (!e.host) {
        const r = resolveFile(host.view, absPath(ctx.cwd, e.name));
        if (!r || !r.stat.isFile()) continue;
        e.host = r.host;
        e.offset = 0;
        host.emit("stderr", `tail: '${e.name}' has appeared;  following new file\n`);
      }
      let size: number;
      try {
        size = fs.statSync(e.host).size;
      } catch {
        if (o.retry) {
          host.emit("stderr", `tail: '${e.name}' has become inaccessible: No such file or directory\n`);
          e.host = undefined;
        }
        continue;
      }
      if (size < e.offset) {
        host.emit("stderr", `tail: ${e.name}: file truncated\n`);
        e.offset = 0;
      }
      if (size === e.offset) continue;
      const data = readHost(e.host, e.offset);
      e.offset += data.length;
      const h = last !== e && pollable.length > 1 ? header(e.name, false) : "";
      last = e;
      host.emit("stdout", Buffer.concat([Buffer.from(h, "utf8"), data]));
    }
  }
}

function readHost(hostPath: string, offset: number): Buffer {
  let fd: number | undefined;
  try {
    fd = fs.openSync(hostPath, "r");
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - offset));
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, offset + got);
      if (n <= 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } catch {
    return Buffer.alloc(0);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------- id

function id(host: BuiltinHost, argv: string[]): string {
  let mode: "all" | "u" | "g" | "G" = "all";
  let names = false;
  const operands: string[] = [];
  for (const a of argv) {
    if (a.startsWith("-") && a.length > 1) {
      for (const ch of a.slice(1)) {
        if (ch === "u" || ch === "g" || ch === "G") mode = ch;
        else if (ch === "n") names = true;
        else if (ch === "r" || ch === "z") continue;
        else throw new Error(`id: invalid option -- '${ch}'`);
      }
    } else operands.push(a);
  }
  let u: Pick<UserInfo, "uid" | "gid" | "name" | "groups"> = host.user;
  if (operands.length > 0) {
    const q = operands[0];
    const pw = readPasswd(host.view).find((e) => e.name === q || (/^\d+$/.test(q) && e.uid === Number(q)));
    if (!pw) throw new Error(`id: '${q}': no such user`);
    const groups = readGroups(host.view);
    const list = [{ gid: pw.gid, name: groups.find((g) => g.gid === pw.gid)?.name }];
    for (const g of groups)
      if (g.members.includes(pw.name) && !list.some((x) => x.gid === g.gid))
        list.push({ gid: g.gid, name: g.name });
    u = { uid: pw.uid, gid: pw.gid, name: pw.name, groups: list };
  }
  const gname = u.groups.find((g) => g.gid === u.gid)?.name;
  const fmt = (n: number, name?: string) => (name ? `${n}(${name})` : `${n}`);
  if (mode === "u") return (names ? (u.name ?? String(u.uid)) : String(u.uid)) + "\n";
  if (mode === "g") return (names ? (gname ?? String(u.gid)) : String(u.gid)) + "\n";
  if (mode === "G")
    return u.groups.map((g) => (names ? (g.name ?? String(g.gid)) : String(g.gid))).join(" ") + "\n";
  return `uid=${fmt(u.uid, u.name)} gid=${fmt(u.gid, gname)} groups=${u.groups.map((g) => fmt(g.gid, g.name)).join(",")}\n`;
}

// ---------------------------------------------------------------- touch

function touchTime(argv: string[], i: number, opt: string, view: FsView, cwd: string): Date {
  const v = argv[i];
  if (v === undefined) throw new Error(`touch: option requires an argument -- '${opt}'`);
  if (opt === "r") {
    const r = resolveFile(view, absPath(cwd, v));
    if (!r) throw new Error(`touch: failed to get attributes of '${v}': No such file or directory`);
    return r.stat.mtime;
  }
  if (opt === "t") {
    const m = /^(\d{2}|\d{4})?(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{2}))?$/.exec(v);
    if (!m) throw new Error(`touch: invalid date format '${v}'`);
    const year =
      m[1] === undefined ? new Date().getFullYear() : m[1].length === 2 ? 2000 + Number(m[1]) : Number(m[1]);
    return new Date(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  }
  const d = v.startsWith("@") ? new Date(Number(v.slice(1)) * 1000) : new Date(v);
  if (Number.isNaN(d.getTime())) throw new Error(`touch: invalid date format '${v}'`);
  return d;
}

function touch(host: BuiltinHost, ctx: BuiltinContext): string {
  let noCreate = false;
  let onlyA = false;
  let onlyM = false;
  let when: Date | undefined;
  const files: string[] = [];
  const argv = ctx.argv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      files.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const [k, v] = a.includes("=")
        ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
        : [a, undefined];
      if (k === "--no-create") noCreate = true;
      else if (k === "--date")
        when = touchTime(v !== undefined ? [v] : argv, v !== undefined ? 0 : ++i, "d", host.view, ctx.cwd);
      else if (k === "--reference")
        when = touchTime(v !== undefined ? [v] : argv, v !== undefined ? 0 : ++i, "r", host.view, ctx.cwd);
      else if (k !== "--no-dereference") throw new Error(`touch: unrecognized option '${a}'`);
      continue;
    }
    if (a.length > 1 && a.startsWith("-")) {
      for (let j = 1; j < a.length; j++) {
        const ch = a[j];
        if (ch === "c") noCreate = true;
        else if (ch === "a") onlyA = true;
        else if (ch === "m") onlyM = true;
        else if (ch === "f" || ch === "h") continue;
        else if (ch === "d" || ch === "t" || ch === "r") {
          if (j + 1 < a.length) when = touchTime([a.slice(j + 1)], 0, ch, host.view, ctx.cwd);
          else when = touchTime(argv, ++i, ch, host.view, ctx.cwd);
          break;
        } else throw new Error(`touch: invalid option -- '${ch}'`);
      }
      continue;
    }
    files.push(a);
  }
  if (files.length === 0) throw new Error("touch: missing file operand");
  const t = when ?? new Date();
  const errors: string[] = [];
  for (const f of files) {
    const abs = absPath(ctx.cwd, f);
    if (abs === "/dev/null") continue;
    let r = resolveFile(host.view, abs);
    if (!r) {
      if (noCreate) continue;
      try {
        ctx.fs.writeFile(abs, "");
      } catch (e) {
        const msg = String((e as Error).message ?? e);
        errors.push(
          `touch: cannot touch '${f}': ${/read-?only/i.test(msg) ? "Read-only file system" : "No such file or directory"}`,
        );
        continue;
      }
      if (!when) continue;
      r = resolveFile(host.view, abs);
      if (!r) continue;
    }
    if (hostPathFor(host.view, r.path).readOnly) {
      errors.push(`touch: cannot touch '${f}': Read-only file system`);
      continue;
    }
    try {
      fs.utimesSync(r.host, onlyM ? r.stat.atime : t, onlyA ? r.stat.mtime : t);
    } catch (e) {
      errors.push(`touch: cannot touch '${f}': ${(e as Error).message}`);
    }
  }
  if (errors.length > 0) throw new Error(errors.join("\n"));
  return "";
}
