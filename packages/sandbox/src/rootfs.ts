/**
 * Host-side view of a container filesystem: the rootfs directory plus bind mounts. Every lookup walks the
 * path one component at a time in the *container* namespace (symlinks are resolved against the container
 * root, never against the host), so nothing here can be tricked into reading outside the rootfs/mounts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { SandboxMount } from "./types.js";

export interface FsView {
  rootfs: string;
  /** Sorted by containerPath length, longest first. */
  mounts: SandboxMount[];
  /** The rootfs itself refuses writes (docker run --read-only). */
  readOnlyRoot?: boolean;
}

export function makeView(rootfs: string, mounts: SandboxMount[], readOnlyRoot = false): FsView {
  const sorted = mounts
    .map((m) => ({ ...m, containerPath: normalizePath(m.containerPath) }))
    .sort((a, b) => b.containerPath.length - a.containerPath.length);
  return { rootfs, mounts: sorted, readOnlyRoot };
}

/** Normalize an absolute container path ("/a/./b/../c/" → "/a/c"). Relative paths are taken from "/". */
export function normalizePath(p: string): string {
  const n = path.posix.normalize("/" + p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

/** Host path that backs a (normalized) container path, and whether it lies in a read-only mount. */
export function hostPathFor(view: FsView, cpath: string): { host: string; readOnly: boolean } {
  for (const m of view.mounts) {
    const mp = m.containerPath;
    if (cpath === mp || mp === "/" || cpath.startsWith(mp + "/")) {
      const rel = mp === "/" ? cpath.slice(1) : cpath.slice(mp.length + 1);
      return { host: rel ? path.join(m.hostPath, rel) : m.hostPath, readOnly: m.readOnly };
    }
  }
  return {
    host: cpath === "/" ? view.rootfs : path.join(view.rootfs, cpath.slice(1)),
    readOnly: !!view.readOnlyRoot,
  };
}

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR, EACCES, ...
  }
}

const MAX_LINKS = 40;

export interface Resolved {
  /** Final container path (all symlinks resolved). */
  path: string;
  host: string;
  stat: fs.Stats;
  /** Container paths visited while following symlinks in the last component, starting with the input. */
  chain: string[];
}

/** Resolve a container path, following symlinks (including in the last component). undefined if missing. */
export function resolveFile(view: FsView, p: string, cwd = "/"): Resolved | undefined {
  let cur = normalizePath(p.startsWith("/") ? p : cwd + "/" + p);
  const chain = [cur];
  for (let links = 0; links <= MAX_LINKS; links++) {
    if (cur === "/") {
      const host = hostPathFor(view, "/").host;
      const st = statSafe(host);
      return st ? { path: "/", host, stat: st, chain } : undefined;
    }
    const dir = resolveDir(view, path.posix.dirname(cur));
    if (dir === undefined) return undefined;
    const cp = dir === "/" ? "/" + path.posix.basename(cur) : dir + "/" + path.posix.basename(cur);
    const host = hostPathFor(view, cp).host;
    const st = lstat(host);
    if (!st) return undefined;
    if (!st.isSymbolicLink()) return { path: cp, host, stat: st, chain };
    const target = readlinkSafe(host);
    if (target === undefined) return undefined;
    cur = normalizePath(target.startsWith("/") ? target : dir + "/" + target);
    chain.push(cur);
  }
  return undefined; // ELOOP
}

/** Resolve a directory path component by component; returns the symlink-free container path. */
function resolveDir(view: FsView, p: string): string | undefined {
  const queue = normalizePath(p).split("/").filter(Boolean);
  let cur = "/";
  let links = 0;
  while (queue.length > 0) {
    const name = queue.shift() as string;
    if (name === ".") continue;
    if (name === "..") {
      cur = path.posix.dirname(cur);
      continue;
    }
    const next = cur === "/" ? "/" + name : cur + "/" + name;
    const host = hostPathFor(view, next).host;
    const st = lstat(host);
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) return undefined;
      const target = readlinkSafe(host);
      if (target === undefined) return undefined;
      queue.unshift(...target.split("/").filter(Boolean));
      if (target.startsWith("/")) cur = "/";
      continue;
    }
    if (!st.isDirectory()) return undefined;
    cur = next;
  }
  return cur;
}

function statSafe(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function readlinkSafe(p: string): string | undefined {
  try {
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
}

/** Read up to n bytes from the start of a host file. */
export function readHead(hostPath: string, n: number): Buffer {
  let fd: number | undefined;
  try {
    fd = fs.openSync(hostPath, "r");
    const buf = Buffer.alloc(n);
    const got = fs.readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } catch {
    return Buffer.alloc(0);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** True if the host file starts with the ELF magic (0x7f 'E' 'L' 'F'). Follows host symlinks. */
export function isElf(hostPath: string): boolean {
  const h = readHead(hostPath, 4);
  return h.length === 4 && h[0] === 0x7f && h[1] === 0x45 && h[2] === 0x4c && h[3] === 0x46;
}

/** Parse a "#!interpreter [arg]" line; undefined if the file has no shebang. */
export function readShebang(hostPath: string): { interpreter: string; arg?: string } | undefined {
  const h = readHead(hostPath, 256).toString("latin1");
  if (!h.startsWith("#!")) return undefined;
  const line = h.slice(2).split("\n")[0].trim();
  const m = /^(\S+)(?:\s+(.*))?$/.exec(line);
  if (!m) return undefined;
  return { interpreter: m[1], arg: m[2]?.trim() || undefined };
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export function readPasswd(view: FsView): PasswdEntry[] {
  return readColonFile(view, "/etc/passwd").map((f) => ({
    name: f[0],
    uid: Number(f[2]),
    gid: Number(f[3]),
    home: f[5] ?? "",
    shell: f[6] ?? "",
  }));
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function readGroups(view: FsView): GroupEntry[] {
  return readColonFile(view, "/etc/group").map((f) => ({
    name: f[0],
    gid: Number(f[2]),
    members: (f[3] ?? "").split(",").filter(Boolean),
  }));
}

function readColonFile(view: FsView, cpath: string): string[][] {
  const r = resolveFile(view, cpath);
  if (!r || !r.stat.isFile()) return [];
  let text: string;
  try {
    text = fs.readFileSync(r.host, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 3 && /^\d+$/.test(f[2]));
}
