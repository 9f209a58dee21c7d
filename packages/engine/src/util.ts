import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { badRequest } from "@sockerless/api";

export const newId = () => randomBytes(32).toString("hex");

export const ZERO_TIME = "0001-01-01T00:00:00Z";

/** RFC3339 with nanoseconds, as Go's time.RFC3339Nano prints (millisecond precision here). */
export const nowIso = () => new Date().toISOString();

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function validateName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw badRequest(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return name.startsWith("/") ? name : "/" + name;
}

/**
 * Write a file so that a daemon crash (kill -9) leaves either the old or the new content, never a
 * torn one: write a temporary file, then rename. No fsync: that guards against power loss, costs
 * milliseconds per state change on slow disks, and a crashed process's writes survive in the page cache.
 */
export async function writeAtomic(file: string, data: string | Buffer): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, file);
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, "utf8")) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** Parse Docker's `filters` query value: {"k":["v"]} or the legacy {"k":{"v":true}}. */
export type Filters = Map<string, string[]>;

export function parseFilters(raw: string | undefined): Filters {
  const out: Filters = new Map();
  if (!raw) return out;
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch {
    throw badRequest(`invalid filter '${raw}'`);
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj))
    throw badRequest(`invalid filter '${raw}'`);
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (Array.isArray(v)) out.set(k, v.map(String));
    else if (v && typeof v === "object")
      out.set(
        k,
        Object.keys(v).filter((x) => (v as any)[x]),
      );
    else throw badRequest(`invalid filter '${raw}'`);
  }
  return out;
}

export function checkFilterKeys(filters: Filters, allowed: string[]): void {
  for (const k of filters.keys()) {
    if (!allowed.includes(k)) throw badRequest(`invalid filter '${k}'`);
  }
}

/** label filter: every entry "k" or "k=v" must match. */
export function matchLabels(labels: Record<string, string> | null | undefined, wanted: string[] | undefined) {
  if (!wanted) return true;
  const l = labels ?? {};
  return wanted.every((w) => {
    const i = w.indexOf("=");
    if (i < 0) return w in l;
    return l[w.slice(0, i)] === w.slice(i + 1);
  });
}

/** Docker's duration-or-timestamp for since/until/until filters: unix seconds (may be fractional), RFC3339, or a Go duration ago. */
export function parseTimeArg(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const dur = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(v);
  if (dur) {
    const mult: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
    return now - Number(dur[1]) * mult[dur[2]];
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw badRequest(`invalid time value: ${v}`);
  return t;
}

/** Linux signal numbers, for kill/stop and exit codes 128+n. */
export const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

/** Normalise "TERM", "sigterm", "15" to "SIGTERM"; 400 for unknown signals, as dockerd. */
export function normalizeSignal(sig: string | undefined, fallback = "SIGKILL"): string {
  if (!sig) return fallback;
  if (/^\d+$/.test(sig)) {
    const n = Number(sig);
    const name = Object.keys(SIGNALS).find((k) => SIGNALS[k] === n);
    if (!name) throw badRequest(`Invalid signal: ${sig}`);
    return name;
  }
  const up = sig.toUpperCase();
  const name = up.startsWith("SIG") ? up : "SIG" + up;
  if (!(name in SIGNALS)) throw badRequest(`Invalid signal: ${sig}`);
  return name;
}

/**
 * An `--add-host` value (`NAME:IP`, or `NAME=IP` as newer CLIs take it) as [name, address]; the
 * first separator splits, so an IPv6 address keeps its colons. Undefined when it has no name.
 */
export function parseExtraHost(entry: string): [name: string, address: string] | undefined {
  const eq = entry.indexOf("=");
  const colon = entry.indexOf(":");
  const sep = eq >= 0 && (colon < 0 || eq < colon) ? eq : colon;
  return sep > 0 ? [entry.slice(0, sep), entry.slice(sep + 1)] : undefined;
}
