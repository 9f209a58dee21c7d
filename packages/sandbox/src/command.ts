/**
 * Command resolution with runc semantics: argv[0] is looked up in the container filesystem (PATH from the
 * container env), then mapped onto what the in-process interpreter can actually run.
 */
import * as path from "node:path";
import { Bash } from "@everruns/bashkit";
import {
  isElf,
  makeView,
  normalizePath,
  readGroups,
  readPasswd,
  readShebang,
  resolveFile,
  type FsView,
  type Resolved,
} from "./rootfs.js";
import type { SandboxSpec } from "./types.js";

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Why a command cannot be started; `exitCode` is what docker reports (126 cannot execute, 127 not found). */
export interface StartError {
  exitCode: number;
  message: string;
}

export type CommandResolution =
  /** An ELF program (or a bare name) the interpreter implements as a builtin; argv[0] is the builtin's name. */
  | { kind: "builtin"; path?: string; argv: string[]; error?: undefined }
  /**
   * A shell script; argv is what the interpreter runs: [shell, (shebang argument), scriptPath, ...args].
   * `error` is set when the shebang names an interpreter other than a shell (python, node, ...).
   */
  | { kind: "script"; path: string; argv: string[]; error?: StartError }
  /** An ELF binary that is not a builtin: cannot run (126). */
  | { kind: "elf"; path: string; argv: string[]; error: StartError }
  /** A directory or a file without execute permission (126). */
  | { kind: "denied"; path: string; argv: string[]; error: StartError }
  /** Not found (127). */
  | { kind: "missing"; name: string; argv: string[]; error: StartError };

let builtinNames: Set<string> | undefined;

/** Names of the interpreter's builtin commands (bashkit's, plus the sandbox's own). */
export function builtinCommands(): ReadonlySet<string> {
  if (!builtinNames) {
    const names = new Bash({ profile: "Interactive" }).capabilities().builtins;
    builtinNames = new Set([...names, "sleep", "tail", "id", "whoami", "env", "touch"]);
  }
  return builtinNames;
}

/** Program names that are not builtins themselves but behave as one. */
const ALIASES: Record<string, string[]> = {
  ash: ["sh"],
  dash: ["sh"],
  egrep: ["grep", "-E"],
  fgrep: ["grep", "-F"],
  gawk: ["awk"],
  mawk: ["awk"],
  nawk: ["awk"],
};

/** Map a program name to the builtin invocation that replaces it ("egrep" → ["grep", "-E"]). */
export function appletFor(name: string): string[] | undefined {
  if (Object.prototype.hasOwnProperty.call(ALIASES, name)) return ALIASES[name];
  if (!/^[A-Za-z0-9_.[][A-Za-z0-9_.+-]*$/.test(name) || name.startsWith("__sx_")) return undefined;
  return builtinCommands().has(name) ? [name] : undefined;
}

export function parseEnv(env: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of env) {
    const i = kv.indexOf("=");
    if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1));
    else if (i < 0 && kv) m.set(kv, "");
  }
  return m;
}

export function specView(spec: Pick<SandboxSpec, "rootfs" | "mounts" | "readOnlyRootfs">): FsView {
  return makeView(spec.rootfs, spec.mounts ?? [], spec.readOnlyRootfs);
}

function isExecutableFile(r: Resolved | undefined): r is Resolved {
  return !!r && r.stat.isFile() && (r.stat.mode & 0o111) !== 0;
}

/** Search PATH inside the container for an executable file. */
export function lookPath(
  view: FsView,
  name: string,
  pathVar: string,
  cwd: string,
): { path: string; resolved: Resolved } | undefined {
  for (const dir of pathVar.split(":")) {
    const cand = (dir || ".") + "/" + name;
    const r = resolveFile(view, cand, cwd);
    if (isExecutableFile(r)) return { path: cand, resolved: r };
  }
  return undefined;
}

/**
 * Resolve spec.argv[0] the way runc does (PATH search inside the container) and decide how the memory
 * backend runs it. Pure filesystem inspection: cheap enough to call from `docker start` to fail early.
 */
export function resolveCommand(
  spec: Pick<SandboxSpec, "rootfs" | "mounts" | "argv" | "env" | "cwd">,
): CommandResolution {
  const argv = spec.argv ?? [];
  const name = argv[0] ?? "";
  const view = specView(spec);
  const env = parseEnv(spec.env ?? []);
  const cwd = normalizePath(spec.cwd || "/");
  if (!name) {
    return {
      kind: "missing",
      name,
      argv,
      error: { exitCode: 127, message: `exec: "": executable file not found in $PATH` },
    };
  }
  if (name.includes("/")) {
    const r = resolveFile(view, name, cwd);
    if (!r) {
      return {
        kind: "missing",
        name,
        argv,
        error: { exitCode: 127, message: `exec: "${name}": stat ${name}: no such file or directory` },
      };
    }
    if (r.stat.isDirectory()) {
      return {
        kind: "denied",
        path: name,
        argv,
        error: { exitCode: 126, message: `exec: "${name}": is a directory` },
      };
    }
    if (!isExecutableFile(r)) {
      return {
        kind: "denied",
        path: name,
        argv,
        error: { exitCode: 126, message: `exec: "${name}": permission denied` },
      };
    }
    return classify(view, r, name, argv, env.get("PATH") ?? DEFAULT_PATH, cwd);
  }
  const found = lookPath(view, name, env.get("PATH") ?? DEFAULT_PATH, cwd);
  if (!found) {
    return {
      kind: "missing",
      name,
      argv,
      error: { exitCode: 127, message: `exec: "${name}": executable file not found in $PATH` },
    };
  }
  return classify(view, found.resolved, found.path, argv, env.get("PATH") ?? DEFAULT_PATH, cwd);
}

export function elfError(p: string): StartError {
  return {
    exitCode: 126,
    message: `sandbox: cannot run ELF binary "${p}": the memory backend runs shell scripts and built-in commands only`,
  };
}

function classify(
  view: FsView,
  r: Resolved,
  invoked: string,
  argv: string[],
  pathVar: string,
  cwd: string,
): CommandResolution {
  const args = argv.slice(1);
  if (isElf(r.host)) {
    // The applet name is the name it was invoked as (busybox applet symlinks), else a symlink hop's name
    // (/usr/bin/awk -> /etc/alternatives/awk -> /usr/bin/mawk).
    const names = [path.posix.basename(invoked), ...r.chain.slice(1).map((p) => path.posix.basename(p))];
    for (const n of names) {
      const applet = appletFor(n);
      if (applet) return { kind: "builtin", path: invoked, argv: [...applet, ...args] };
    }
    if (names.includes("busybox") && args.length > 0) {
      const applet = appletFor(path.posix.basename(args[0]));
      if (applet) return { kind: "builtin", path: invoked, argv: [...applet, ...args.slice(1)] };
    }
    return { kind: "elf", path: invoked, argv, error: elfError(invoked) };
  }
  const sb = readShebang(r.host);
  if (!sb) return { kind: "script", path: invoked, argv: ["sh", invoked, ...args] };
  let interp = sb.interpreter;
  let extra = sb.arg;
  if (path.posix.basename(interp) === "env" && extra) {
    const words = extra.split(/\s+/).filter((w) => w !== "-S");
    interp = words[0] ?? "";
    extra = words.slice(1).join(" ") || undefined;
    if (!interp.includes("/") && !lookPath(view, interp, pathVar, cwd)) {
      return {
        kind: "missing",
        name: invoked,
        argv,
        error: { exitCode: 127, message: `exec ${invoked}: no such file or directory` },
      };
    }
  }
  if (interp.includes("/") && !resolveFile(view, interp, cwd)) {
    return {
      kind: "missing",
      name: invoked,
      argv,
      error: { exitCode: 127, message: `exec ${invoked}: no such file or directory` },
    };
  }
  const shell = appletFor(path.posix.basename(interp))?.[0];
  if (shell !== "sh" && shell !== "bash") {
    return {
      kind: "script",
      path: invoked,
      argv,
      error: {
        exitCode: 126,
        message: `sandbox: cannot run "${invoked}": interpreter "${sb.interpreter}" is not supported by the memory backend (shell scripts only)`,
      },
    };
  }
  return { kind: "script", path: invoked, argv: [shell, ...(extra ? [extra] : []), invoked, ...args] };
}

export interface UserInfo {
  uid: number;
  gid: number;
  /** passwd name; undefined for a numeric user without a passwd entry. */
  name?: string;
  groupName?: string;
  /** Supplementary groups (from /etc/group), including the primary one first. */
  groups: { gid: number; name?: string }[];
  home: string;
  error?: StartError;
}

/** Resolve spec.user ("", "root", "1000", "app:app", "1000:1000") against the rootfs's /etc/passwd and /etc/group. */
export function resolveUser(spec: Pick<SandboxSpec, "rootfs" | "mounts" | "user">): UserInfo {
  const view = specView(spec);
  const [u = "", g] = (spec.user ?? "").split(":", 2);
  const passwd = readPasswd(view);
  const groupsFile = readGroups(view);
  let uid = 0;
  let gid = 0;
  let name: string | undefined;
  let home = "/";
  let error: StartError | undefined;
  const entry = !u
    ? passwd.find((e) => e.uid === 0)
    : /^\d+$/.test(u)
      ? passwd.find((e) => e.uid === Number(u))
      : passwd.find((e) => e.name === u);
  if (entry) {
    ({ uid, gid, name, home } = entry);
  } else if (!u) {
    name = "root";
    home = "/root";
  } else if (/^\d+$/.test(u)) {
    uid = Number(u);
  } else {
    error = { exitCode: 126, message: `unable to find user ${u}: no matching entries in passwd file` };
    name = u;
  }
  if (uid === 0 && !home) home = "/root";
  if (g) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const ge = groupsFile.find((e) => e.name === g);
      if (ge) gid = ge.gid;
      else
        error ??= { exitCode: 126, message: `unable to find group ${g}: no matching entries in group file` };
    }
  }
  const groupName = groupsFile.find((e) => e.gid === gid)?.name;
  const groups = [{ gid, name: groupName }];
  if (name) {
    for (const ge of groupsFile) {
      if (ge.members.includes(name) && !groups.some((x) => x.gid === ge.gid))
        groups.push({ gid: ge.gid, name: ge.name });
    }
  }
  return { uid, gid, name, groupName, groups, home: home || "/", error };
}

export type ShellInvocation =
  | { mode: "c"; script: string; options: string[]; params: string[] }
  | { mode: "file"; file: string; options: string[]; params: string[] }
  | { mode: "stdin"; options: string[]; params: string[] };

/**
 * Parse a shell's arguments (after argv[0]) the way sh does: options, then `-c script [$0 args...]`,
 * a script file, or (no operand / -s) commands from stdin. `options` are `set` flags (-e, -x, -o pipefail).
 */
export function parseShellArgs(args: string[]): ShellInvocation {
  const options: string[] = [];
  let c = false;
  let s = false;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === "--" || a === "-") {
      i++;
      break;
    }
    if (a === "-o" || a === "+o") {
      if (i + 1 < args.length) options.push(a, args[++i]);
      continue;
    }
    if (a.startsWith("--")) continue; // --login, --norc, --noprofile, --posix
    if (!/^[-+][A-Za-z]+$/.test(a)) break;
    let flags = a.slice(1);
    if (flags.includes("c")) c = true;
    if (flags.includes("s")) s = true;
    flags = flags.replace(/[cslir]/g, "");
    if (flags) options.push(a[0] + flags);
  }
  const rest = args.slice(i);
  if (c) return { mode: "c", script: rest[0] ?? "", options, params: rest.slice(1) };
  if (!s && rest.length > 0) return { mode: "file", file: rest[0], options, params: rest };
  return { mode: "stdin", options, params: rest };
}
