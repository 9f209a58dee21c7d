import { promises as fs, type Stats } from "node:fs";
import path from "node:path";

export interface Change {
  Path: string;
  Kind: 0 | 1 | 2; // modified, added, deleted
}

async function walk(dir: string, rel = ""): Promise<Map<string, Stats>> {
  const out = new Map<string, Stats>();
  let names: string[];
  try {
    names = await fs.readdir(path.join(dir, rel));
  } catch {
    return out;
  }
  for (const n of names) {
    const r = path.posix.join(rel || "/", n);
    const st = await fs.lstat(path.join(dir, r));
    out.set(r, st);
    if (st.isDirectory()) for (const [k, v] of await walk(dir, r)) out.set(k, v);
  }
  return out;
}

// as dockerd's statDifferent: directories by mode and owner only (their sizes depend on the
// filesystem: the image is on disk, the container on a tmpfs), other entries also by size and mtime
const differs = (a: Stats, b: Stats) =>
  (a.mode & 0o177777) !== (b.mode & 0o177777) ||
  a.uid !== b.uid ||
  a.gid !== b.gid ||
  (!a.isDirectory() && (a.size !== b.size || a.mtimeMs !== b.mtimeMs));

/** Changes of the container's filesystem against its image, like `docker diff`. */
export async function diffTrees(
  imageRoot: string,
  containerRoot: string,
  ignore: Set<string>,
): Promise<Change[]> {
  const [base, cur] = await Promise.all([walk(imageRoot), walk(containerRoot)]);
  const out: Change[] = [];
  const parentsChanged = new Set<string>();
  for (const [p, st] of cur) {
    if (ignore.has(p)) continue;
    const b = base.get(p);
    if (!b) out.push({ Path: p, Kind: 1 });
    else if (differs(b, st)) out.push({ Path: p, Kind: 0 });
    else continue;
    parentsChanged.add(path.posix.dirname(p));
  }
  for (const p of base.keys()) {
    if (!cur.has(p) && !ignore.has(p)) {
      out.push({ Path: p, Kind: 2 });
      parentsChanged.add(path.posix.dirname(p));
    }
  }
  // dockerd reports a directory as changed when something inside it changed
  for (const d of parentsChanged) {
    if (d !== "/" && !out.some((c) => c.Path === d) && base.has(d)) out.push({ Path: d, Kind: 0 });
  }
  return out.sort((a, b) => (a.Path < b.Path ? -1 : 1));
}
