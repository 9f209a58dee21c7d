import path from "node:path";
import { badRequest } from "@sockerless/api";
import { normalizeSignal } from "@sockerless/engine";
import { parseGoDuration, type ImageConfig } from "@sockerless/images";
import { parseLine, type Flag, type Instruction } from "./dockerfile.js";
import { envMap, processWord, processWords, splitRawWords, type Env } from "./words.js";

/** The image config a build or commit edits (the `config` member of an image config). */
export type RunConfig = ImageConfig & { ArgsEscaped?: boolean };

/** What config instructions read and write while a stage (or a commit) is dispatched. */
export interface ConfigState {
  config: RunConfig;
  /** CMD was set in this stage: ENTRYPOINT then keeps it. */
  cmdSet: boolean;
  escape: string;
  /** MAINTAINER sets the image's author. */
  author?: string;
}

export const DEFAULT_SHELL = ["/bin/sh", "-c"];

export const shellOf = (c: RunConfig): string[] => (c.Shell?.length ? c.Shell : DEFAULT_SHELL);

/** Go's %q of a []string, as dockerd writes instructions into history ("[\"a\" \"b\"]"). */
export const goQuoteList = (xs: string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(" ")}]`;

/** Instructions that only change the config (no filesystem change). */
export const CONFIG_INSTRUCTIONS = new Set([
  "CMD",
  "ENTRYPOINT",
  "ENV",
  "LABEL",
  "EXPOSE",
  "USER",
  "VOLUME",
  "WORKDIR",
  "STOPSIGNAL",
  "HEALTHCHECK",
  "ONBUILD",
  "SHELL",
  "MAINTAINER",
]);

/** What `docker commit --change` accepts (dockerd's validCommitCommands). */
export const COMMIT_INSTRUCTIONS = new Set([
  "CMD",
  "ENTRYPOINT",
  "ENV",
  "EXPOSE",
  "HEALTHCHECK",
  "LABEL",
  "ONBUILD",
  "STOPSIGNAL",
  "USER",
  "VOLUME",
  "WORKDIR",
]);

function checkFlags(inst: Instruction, allowed: string[]): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const f of inst.flags) {
    if (!allowed.includes(f.name)) throw badRequest(`Unknown flag: ${f.name}`);
    out.set(f.name, f.value);
  }
  return out;
}

/** KEY=VALUE pairs of ENV/LABEL (and the legacy "KEY value" form), values processed. */
export function nameValues(
  inst: Instruction,
  vars: Env,
  escape: string,
  legacyOk = true,
): [string, string][] {
  const words = splitRawWords(inst.args, escape);
  if (words.length === 0) throw badRequest(`${inst.keyword} requires at least one argument`);
  if (!words[0].includes("=")) {
    if (!legacyOk) throw badRequest(`${inst.keyword} names can not be blank`);
    const m = /^(\S+)\s+([\s\S]+)$/.exec(inst.args.trim());
    if (!m) throw badRequest(`${inst.keyword} must have two arguments`);
    return [[processWord(m[1], vars, escape), processWord(m[2].trim(), vars, escape)]];
  }
  return words.map((w) => {
    const i = w.indexOf("=");
    if (i < 0) throw badRequest(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    const key = processWord(w.slice(0, i), vars, escape);
    if (!key) throw badRequest(`${inst.keyword} names can not be blank`);
    return [key, processWord(w.slice(i + 1), vars, escape)] as [string, string];
  });
}

/** Exec form as given, or the shell form run by the config's shell. */
function commandLine(inst: Instruction, c: RunConfig): string[] {
  return inst.json ?? [...shellOf(c), inst.args];
}

/** The list form of VOLUME/EXPOSE-like arguments: JSON array or whitespace separated words. */
function listArgs(inst: Instruction, vars: Env, escape: string): string[] {
  if (inst.json) return inst.json.map((w) => processWord(w, vars, escape));
  return processWords(inst.args, vars, escape);
}

const PORT_RE = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i;

/** Port specs as nat.ParsePortSpecs: "80", "80/udp", "8000-8002/tcp". */
function exposedPorts(words: string[]): string[] {
  const out: string[] = [];
  for (const w of words) {
    const m = PORT_RE.exec(w);
    if (!m) throw badRequest(`Invalid containerPort: ${w.split("/")[0]}`);
    const from = Number(m[1]);
    const to = m[2] ? Number(m[2]) : from;
    const proto = (m[3] ?? "tcp").toLowerCase();
    if (from > 65535 || to > 65535) throw badRequest(`Invalid containerPort: ${w.split("/")[0]}`);
    if (to < from) throw badRequest(`Invalid range specified for the Port: ${w.split("/")[0]}`);
    for (let p = from; p <= to; p++) out.push(`${p}/${proto}`);
  }
  return out;
}

function duration(flags: Map<string, string | undefined>, name: string): number | undefined {
  const v = flags.get(name);
  if (v === undefined || v === "") return undefined;
  const ms = parseGoDuration(v);
  if (ms === undefined) throw badRequest(`time: invalid duration "${v}"`);
  if (ms !== 0 && ms < 1) throw badRequest(`Interval "${name}" cannot be less than 1ms`);
  if (ms < 0) throw badRequest(`Interval "${name}" cannot be negative`);
  return Math.round(ms * 1_000_000);
}

/** WORKDIR: relative paths are relative to the current working directory. */
export function normalizeWorkdir(current: string | undefined, requested: string): string {
  if (!requested) throw badRequest("WORKDIR cannot be empty");
  return path.posix.isAbsolute(requested)
    ? path.posix.normalize(requested)
    : path.posix.join(current || "/", requested);
}

/**
 * Applies a config-only instruction to `s.config`. `vars` is what ${VAR} sees (the config's Env
 * plus build args). Returns the text dockerd writes after "#(nop) " in the history.
 */
export function applyConfigInstruction(s: ConfigState, inst: Instruction, vars: Env): string {
  const c = s.config;
  const esc = s.escape;
  const noFlags = () => checkFlags(inst, []);
  switch (inst.keyword) {
    case "CMD": {
      noFlags();
      c.Cmd = commandLine(inst, c);
      s.cmdSet = true;
      return `CMD ${goQuoteList(c.Cmd)}`;
    }
    case "ENTRYPOINT": {
      noFlags();
      c.Entrypoint = inst.json ?? (inst.args.trim() === "" ? null : [...shellOf(c), inst.args]);
      if (!s.cmdSet) c.Cmd = null;
      return `ENTRYPOINT ${goQuoteList(c.Entrypoint ?? [])}`;
    }
    case "ENV": {
      noFlags();
      const pairs = nameValues(inst, vars, esc);
      const env = [...(c.Env ?? [])];
      for (const [k, v] of pairs) {
        const i = env.findIndex((e) => e === k || e.startsWith(`${k}=`));
        if (i >= 0) env[i] = `${k}=${v}`;
        else env.push(`${k}=${v}`);
      }
      c.Env = env;
      return `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(" ")}`;
    }
    case "LABEL": {
      noFlags();
      const pairs = nameValues(inst, vars, esc);
      c.Labels = { ...(c.Labels ?? {}) };
      for (const [k, v] of pairs) c.Labels[k] = v;
      return `LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(" ")}`;
    }
    case "EXPOSE": {
      noFlags();
      const words = processWords(inst.args, vars, esc);
      if (words.length === 0) throw badRequest("EXPOSE requires at least one argument");
      const ports = exposedPorts(words);
      c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
      for (const p of ports) c.ExposedPorts[p] = {};
      return `EXPOSE ${ports.join(" ")}`;
    }
    case "USER": {
      noFlags();
      const user = processWord(inst.args, vars, esc);
      if (!user) throw badRequest("USER requires exactly one argument");
      c.User = user;
      return `USER ${user}`;
    }
    case "VOLUME": {
      noFlags();
      const vols = listArgs(inst, vars, esc);
      if (vols.length === 0) throw badRequest("VOLUME requires at least one argument");
      c.Volumes = { ...(c.Volumes ?? {}) };
      for (const v of vols) {
        if (!v.trim()) throw badRequest("VOLUME specified can not be an empty string");
        c.Volumes[v] = {};
      }
      return `VOLUME ${goQuoteList(vols).replace(/"/g, "")}`;
    }
    case "WORKDIR": {
      noFlags();
      c.WorkingDir = normalizeWorkdir(c.WorkingDir, processWord(inst.args, vars, esc));
      return `WORKDIR ${c.WorkingDir}`;
    }
    case "STOPSIGNAL": {
      noFlags();
      const sig = processWord(inst.args, vars, esc);
      normalizeSignal(sig); // throws "Invalid signal"
      c.StopSignal = sig;
      return `STOPSIGNAL ${sig}`;
    }
    case "HEALTHCHECK":
      return healthcheck(c, inst);
    case "ONBUILD": {
      noFlags();
      const trigger = parseLine(inst.args, inst.line, esc);
      if (trigger.keyword === "ONBUILD")
        throw badRequest("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger.keyword === "FROM" || trigger.keyword === "MAINTAINER") {
        throw badRequest(`${trigger.keyword} isn't allowed as an ONBUILD trigger`);
      }
      c.OnBuild = [...(c.OnBuild ?? []), inst.args.trim()];
      return `ONBUILD ${inst.args.trim()}`;
    }
    case "SHELL": {
      noFlags();
      if (!inst.json) throw badRequest("SHELL requires the arguments to be in JSON form");
      if (inst.json.length === 0) throw badRequest("SHELL requires at least one argument");
      c.Shell = inst.json;
      return `SHELL ${goQuoteList(inst.json)}`;
    }
    case "MAINTAINER": {
      noFlags();
      s.author = inst.args.trim();
      return `MAINTAINER ${s.author}`;
    }
    default:
      throw badRequest(`unknown instruction: ${inst.keyword}`);
  }
}

function healthcheck(c: RunConfig, inst: Instruction): string {
  const flags = checkFlags(inst, ["interval", "timeout", "start-period", "start-interval", "retries"]);
  const words = inst.args.trim();
  const m = /^(\S+)\s*([\s\S]*)$/.exec(words);
  if (!m) throw badRequest("HEALTHCHECK requires an argument");
  const type = m[1].toUpperCase();
  if (type === "NONE") {
    if (m[2].trim() || inst.flags.length) throw badRequest("HEALTHCHECK NONE takes no arguments");
    c.Healthcheck = { Test: ["NONE"] };
    return "HEALTHCHECK NONE";
  }
  if (type !== "CMD") throw badRequest(`Unknown type "${type}" in HEALTHCHECK (try CMD)`);
  const cmd: Instruction = { ...inst, flags: [] as Flag[], args: m[2].trim() };
  const json = /^\[/.test(cmd.args) ? parseLine(`CMD ${cmd.args}`, inst.line).json : undefined;
  const test = json ? ["CMD", ...json] : ["CMD-SHELL", cmd.args];
  if (!json && !cmd.args) throw badRequest("Missing command after HEALTHCHECK CMD");
  const retriesRaw = flags.get("retries");
  let retries: number | undefined;
  if (retriesRaw !== undefined && retriesRaw !== "") {
    retries = Number(retriesRaw);
    if (!Number.isInteger(retries))
      throw badRequest(`strconv.ParseInt: parsing "${retriesRaw}": invalid syntax`);
    if (retries < 0) throw badRequest("--retries cannot be negative");
  }
  const hc: NonNullable<RunConfig["Healthcheck"]> = { Test: test };
  const interval = duration(flags, "interval");
  const timeout = duration(flags, "timeout");
  const startPeriod = duration(flags, "start-period");
  const startInterval = duration(flags, "start-interval");
  if (interval !== undefined) hc.Interval = interval;
  if (timeout !== undefined) hc.Timeout = timeout;
  if (startPeriod !== undefined) hc.StartPeriod = startPeriod;
  if (startInterval !== undefined) hc.StartInterval = startInterval;
  if (retries !== undefined) hc.Retries = retries;
  c.Healthcheck = hc;
  return `HEALTHCHECK &{${goQuoteList(test)} ${fmtDur(interval)} ${fmtDur(timeout)} ${fmtDur(startPeriod)} ${fmtDur(startInterval)} ${retries ?? 0}}`;
}

/** Go's time.Duration String for whole units, enough for history lines. */
function fmtDur(ns: number | undefined): string {
  if (!ns) return "0s";
  const s = ns / 1e9;
  if (s >= 60 && Number.isInteger(s / 60)) return `${s / 60}m0s`;
  return `${s}s`;
}

/**
 * `docker commit --change`: each change is a Dockerfile line limited to COMMIT_INSTRUCTIONS,
 * applied to `base` (the container's config) with the config's Env for substitution.
 */
export function applyCommitChanges<T extends object>(base: T, changes: string[]): T {
  const s: ConfigState = { config: structuredClone(base) as RunConfig, cmdSet: false, escape: "\\" };
  for (const [i, raw] of changes.entries()) {
    for (const text of raw.split(/\r?\n/)) {
      if (!text.trim() || text.trim().startsWith("#")) continue;
      const inst = parseLine(text, i + 1);
      if (!COMMIT_INSTRUCTIONS.has(inst.keyword)) {
        throw badRequest(`${inst.keyword.toLowerCase()} is not a valid change command`);
      }
      applyConfigInstruction(s, inst, envMap(s.config.Env));
    }
  }
  return s.config as T;
}
