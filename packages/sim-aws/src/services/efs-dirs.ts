import { chmodSync, chownSync, mkdirSync, mkdtempSync, promises as fsp, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Simulator } from "../sim.js";
import type { AccessPoint } from "./efs-store.js";

const roots = new WeakMap<Simulator, string>();

/**
 * Where file systems live on the host: <data-dir>/efs, or a temporary directory (removed at
 * shutdown) when the simulator keeps no state.
 */
export function efsRoot(sim: Simulator): string {
  let root = roots.get(sim);
  if (!root) {
    // absolute: the path is handed to Docker as a bind-mount source
    if (sim.opts.dataDir) root = path.resolve(sim.opts.dataDir, "efs");
    else {
      const tmp = mkdtempSync(path.join(os.tmpdir(), "sim-aws-efs-"));
      sim.onShutdown(() => rmSync(tmp, { recursive: true, force: true }));
      root = tmp;
    }
    mkdirSync(root, { recursive: true });
    roots.set(sim, root);
  }
  return root;
}

export function fileSystemDir(sim: Simulator, fileSystemId: string): string {
  return path.join(efsRoot(sim), fileSystemId);
}

/** The access point's root directory, made (with its CreationInfo owner and mode) when missing. */
export function accessPointDir(sim: Simulator, ap: AccessPoint): string {
  const base = fileSystemDir(sim, ap.fileSystemId);
  const dir = path.join(base, ap.rootDirectory.Path);
  // the Path pattern rules out "..", but never hand out anything outside the file system
  if (dir !== base && !dir.startsWith(base + path.sep)) throw new Error(`access point path escapes ${base}`);
  const created = mkdirSync(dir, { recursive: true });
  const info = ap.rootDirectory.CreationInfo;
  if (created && info) {
    chmodSync(dir, parseInt(info.Permissions, 8));
    // ownership can only be given away with privileges, as EFS itself does as root
    if (process.getuid?.() === 0) chownSync(dir, info.OwnerUid, info.OwnerGid);
  }
  return dir;
}

/** Bytes stored under a directory (EFS meters this; here it is measured on each describe). */
export async function directorySize(dir: string): Promise<number> {
  let total = 0;
  const pending = [dir];
  while (pending.length) {
    const d = pending.pop()!;
    let entries;
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch {
      continue; // removed meanwhile, or unreadable
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) pending.push(p);
      else {
        try {
          total += (await fsp.lstat(p)).size;
        } catch {
          // removed meanwhile
        }
      }
    }
  }
  return total;
}
