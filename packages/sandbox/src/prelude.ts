/**
 * The shell prelude evaluated before every top-level command and inside every nested `sh -c` / `sh script`:
 *  - functions named after absolute program paths (`function /bin/echo { echo "$@"; }`) for the ELF
 *    programs of the image that the interpreter implements as builtins, so `/bin/echo hi` works;
 *  - `sh`/`bash` wrappers that re-evaluate the prelude in the child shell (bashkit does not pass functions
 *    to `sh -c`, not even exported ones) and run script files with the right $0;
 *  - an `env` that runs commands (bashkit's `env CMD` refuses to execute anything);
 *  - UID/EUID of the container user (bashkit reports 1000).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { appletFor } from "./command.js";
import { isElf, resolveFile, type FsView } from "./rootfs.js";

export const APPLET_DIRS = ["/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"];

export interface Applet {
  /** Absolute path as found ("/bin/echo"). */
  path: string;
  /** Replacement invocation (["echo"], ["grep", "-E"]); [] for busybox itself (runs its arguments). */
  run: string[];
}

interface CacheEntry {
  stamps: string;
  applets: Applet[];
}

const cache = new Map<string, CacheEntry>();
const CACHE_MAX = 256;

function dirStamps(view: FsView, shared: boolean): { stamps: string; dirs: { dir: string; host: string }[] } {
  const dirs: { dir: string; host: string }[] = [];
  let stamps = "";
  for (const dir of APPLET_DIRS) {
    const r = resolveFile(view, dir);
    if (!r || !r.stat.isDirectory()) {
      stamps += "-;";
      continue;
    }
    dirs.push({ dir, host: r.host });
    // A shared key compares copies of one image: directory mtimes survive the copy, host paths differ.
    stamps += `${shared ? r.host.slice(view.rootfs.length) : r.host}:${r.stat.mtimeMs};`;
  }
  return { stamps, dirs };
}

const FUNC_NAME = /^[A-Za-z0-9_.+-]+$/;

/**
 * ELF programs in the usual bin directories that map onto interpreter builtins. Cached per rootfs,
 * or per `shareKey` (e.g. the image id) for copies of one image whose bin directories are unchanged.
 */
export function scanApplets(view: FsView, shareKey?: string): Applet[] {
  const key = (shareKey ?? view.rootfs) + "\0" + JSON.stringify(view.mounts.map((m) => m.containerPath));
  const { stamps, dirs } = dirStamps(view, !!shareKey);
  const hit = cache.get(key);
  if (hit && hit.stamps === stamps) return hit.applets;
  const applets: Applet[] = [];
  const elfByHost = new Map<string, boolean>();
  const listings = new Map<string, fs.Dirent[]>(); // merged-/usr images: /bin and /usr/bin are one directory
  for (const { dir, host } of dirs) {
    let entries = listings.get(host);
    if (!entries) {
      try {
        entries = fs
          .readdirSync(host, { withFileTypes: true })
          .filter((e) => FUNC_NAME.test(e.name) && (e.name === "busybox" || appletFor(e.name)))
          .sort((a, b) => (a.name < b.name ? -1 : 1));
      } catch {
        entries = [];
      }
      listings.set(host, entries);
    }
    for (const ent of entries) {
      const name = ent.name;
      const run = name === "busybox" ? [] : appletFor(name);
      if (!run) continue;
      let target: string;
      if (ent.isFile()) target = path.join(host, name);
      else if (ent.isSymbolicLink()) {
        const r = resolveFile(view, dir + "/" + name);
        if (!r || !r.stat.isFile()) continue;
        target = r.host;
      } else continue;
      let elf = elfByHost.get(target);
      if (elf === undefined) {
        elf = isElf(target);
        elfByHost.set(target, elf);
      }
      if (elf) applets.push({ path: dir + "/" + name, run });
    }
  }
  cache.delete(key);
  cache.set(key, { stamps, applets });
  if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value as string);
  return applets;
}

/** Single-quote a word for the shell ('it'"'"'s': bashkit mis-parses the usual '\'' form in arguments). */
export function shQuote(s: string): string {
  return "'" + s.replace(/'/g, `'"'"'`) + "'";
}

/*
 * Written one statement per line, each line ending in a terminator, so that it can be joined into a single
 * line (the prelude shares the first line with the user's script, keeping parse-error line numbers right).
 * No comments (they would swallow the rest of the line). env -i/-u run the command in a child shell and
 * then restore the environment: bashkit's child shells share the exported environment with their parent.
 * No single quotes: bashkit mis-parses '\'' inside command words, and the prelude is re-quoted with @Q.
 */
const SHELL_WRAPPER = String.raw`__sx_sh() {
  local __sx_n=$1 __sx_c= __sx_s= __sx_f= __sx_g= __sx_set= __sx_i= __sx_ch= ;
  shift ;
  local __sx_all=("$@") ;
  while [ $# -gt 0 ]; do
    case $1 in
      --|-) shift; break ;;
      -o|+o) __sx_set="$__sx_set $1 $2"; shift; if [ $# -gt 0 ]; then shift; fi ;;
      --*) shift ;;
      [-+]*[!A-Za-z]*) break ;;
      [-+]?*)
        __sx_g= ; __sx_i=1 ;
        while [ $__sx_i -lt ${"$"}{#1} ]; do
          __sx_ch=${"$"}{1:$__sx_i:1} ;
          case $__sx_ch in c) __sx_c=1 ;; s) __sx_s=1 ;; l|i|r) ;; *) __sx_g=$__sx_g$__sx_ch ;; esac ;
          __sx_i=$((__sx_i+1)) ;
        done ;
        if [ -n "$__sx_g" ]; then __sx_set="$__sx_set ${"$"}{1:0:1}$__sx_g"; fi ;
        shift ;;
      *) break ;;
    esac ;
  done ;
  if [ -n "$__sx_c" ]; then
    if [ $# -eq 0 ]; then echo "$__sx_n: -c: option requires an argument" >&2; return 2; fi ;
    __sx_f=$1; shift ;
    command "$__sx_n" -c "__sx_p=${"$"}{__sx_p@Q}; eval \"\$__sx_p\";${"$"}{__sx_set:+ set$__sx_set;} $__sx_f" "$@" ;
  elif [ -z "$__sx_s" ] && [ $# -gt 0 ]; then
    if [ ! -f "$1" ]; then echo "$__sx_n: $1: No such file or directory" >&2; return 127; fi ;
    command "$__sx_n" -c "__sx_p=${"$"}{__sx_p@Q}; eval \"\$__sx_p\";${"$"}{__sx_set:+ set$__sx_set;} case \$0 in */*) . \"\$0\" ;; *) . \"./\$0\" ;; esac" "$@" ;
  else
    command "$__sx_n" "${"$"}{__sx_all[@]}" ;
  fi ;
} ;
sh() { __sx_sh sh "$@"; } ;
bash() { __sx_sh bash "$@"; } ;
env() {
  local __sx_i= __sx_v= __sx_n= __sx_s= __sx_x= __sx_u= ;
  while [ $# -gt 0 ]; do
    case $1 in
      -i|--ignore-environment|-) __sx_i=1 ;;
      -u) shift; __sx_u="$__sx_u $1" ;;
      -u?*) __sx_u="$__sx_u ${"$"}{1:2}" ;;
      --unset=*) __sx_u="$__sx_u ${"$"}{1#--unset=}" ;;
      --) shift; break ;;
      -*) command env "$@"; return ;;
      *=*) __sx_n=${"$"}{1%%=*}; __sx_v=${"$"}{1#*=}; __sx_s="$__sx_s $__sx_n=${"$"}{__sx_v@Q}" ;;
      *) break ;;
    esac ;
    shift ;
  done ;
  if [ -z "$__sx_i$__sx_u" ]; then
    if [ $# -eq 0 ]; then eval "$__sx_s command env"; return; fi ;
    __sx_x=$1; shift ;
    eval "$__sx_s \"\$__sx_x\" \"\$@\"" ;
    return ;
  fi ;
  __sx_x= ;
  if [ -n "$__sx_i" ]; then __sx_x="for __sx_v in \$(command env | sed -n \"s/=.*//p\"); do unset \"\$__sx_v\"; done;" ; fi ;
  if [ -n "$__sx_u" ]; then __sx_x="$__sx_x unset $__sx_u;" ; fi ;
  if [ -n "$__sx_s" ]; then __sx_x="$__sx_x export $__sx_s;" ; fi ;
  __sx_n=$(command env) ;
  command sh -c "__sx_p=${"$"}{__sx_p@Q}; eval \"\$__sx_p\"; $__sx_x if [ \$# -eq 0 ]; then command env; else __sx_x=\$1; shift; \"\$__sx_x\" \"\$@\"; fi" env "$@" ;
  __sx_i=$? ;
  for __sx_v in $(command env | sed -n "s/=.*//p"); do unset "$__sx_v"; done ;
  while IFS= read -r __sx_v; do case $__sx_v in *=*) export "$__sx_v" ;; esac; done <<< "$__sx_n" ;
  return $__sx_i ;
} ;`
  .split("\n")
  .map((l) => l.trim())
  .join(" ");

/** The prelude text (stored in the shell variable __sx_p and eval'ed). */
export function buildPrelude(applets: Applet[], uid: number, unsetUser = true): string {
  // bashkit exports USER=<username>; docker sets no USER.
  let s = `UID=${uid}; EUID=${uid}; ${unsetUser ? "unset USER; " : ""}` + SHELL_WRAPPER;
  const named = new Set<string>();
  for (const a of applets) {
    const base = path.posix.basename(a.path);
    // (bashkit does not split "$@" in command position, hence the detour through a variable)
    const body =
      a.run.length === 0
        ? `[ $# -gt 0 ] || return 0; local __sx_c=$1; shift; "$__sx_c" "$@"`
        : `${a.run.join(" ")} "$@"`;
    s += ` function ${a.path} { ${body}; } ;`;
    // Program names that are not builtins themselves (ash, egrep, busybox) also work by name.
    if ((a.run.length === 0 || a.run[0] !== base) && !named.has(base)) {
      named.add(base);
      s += ` function ${base} { ${body}; } ;`;
    }
  }
  return s;
}

/** Names of the shell functions the prelude defines (callers of these run nested command lists). */
export function preludeFunctionNames(applets: Applet[]): Set<string> {
  const names = new Set(["sh", "bash", "env", "__sx_sh"]);
  for (const a of applets) {
    names.add(a.path);
    const base = path.posix.basename(a.path);
    if (a.run.length === 0 || a.run[0] !== base) names.add(base);
  }
  return names;
}

const MAX_SCRIPT = 512 * 1024;

/** Text of a shell script (not ELF, not huge) at a container path, for the stream-safety scan. */
export function readShellScript(view: FsView, p: string, cwd: string): string | undefined {
  const r = resolveFile(view, p, cwd);
  if (!r || !r.stat.isFile() || r.stat.size > MAX_SCRIPT || isElf(r.host)) return undefined;
  try {
    return fs.readFileSync(r.host, "utf8");
  } catch {
    return undefined;
  }
}

/** Script header that defines the prelude in the current shell; the user's script follows on the same line. */
export function preludeHeader(prelude: string): string {
  return `__sx_p=${shQuote(prelude)}; eval "$__sx_p"; `;
}
