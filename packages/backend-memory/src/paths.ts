import { promises as fs } from "node:fs";
import path from "node:path";
import type { ResolvedMount } from "@sockerless/engine";

/** Where a container path lives on the host: the rootfs, or a volume/bind mounted over it. */
export interface HostLocation {
  hostPath: string;
  /** host directory that acts as "/" for symlink resolution below this location */
  base: string;
  readOnly: boolean;
}

function mountFor(rootfs: string, mounts: ResolvedMount[], cpath: string): HostLocation {
  let best: ResolvedMount | undefined;
  for (const m of mounts) {
    const t = m.containerPath.replace(/\/+$/, "");
    if (
      (cpath === t || cpath.startsWith(t + "/")) &&
      (!best || t.length > best.containerPath.replace(/\/+$/, "").length)
    )
      best = m;
  }
  if (!best) return { hostPath: path.join(rootfs, cpath), base: rootfs, readOnly: false };
  const t = best.containerPath.replace(/\/+$/, "");
  return {
    hostPath: path.join(best.hostPath, cpath.slice(t.length)),
    base: best.hostPath,
    readOnly: best.readOnly,
  };
}

/**
 * Resolve a path inside the container to a host path with chroot semantics: symlinks are followed
 * inside the container (an absolute target restarts at the container's "/"), so nothing resolves
 * outside the rootfs or a mount. The last component is followed only when `followLast`.
 */
export async function resolveInContainer(
  rootfs: string,
  mounts: ResolvedMount[],
  containerPath: string,
  followLast: boolean,
): Promise<HostLocation & { containerPath: string }> {
  let parts = path.posix
    .normalize("/" + containerPath)
    .split("/")
    .filter(Boolean);
  let resolved = "/";
  let hops = 0;
  for (let i = 0; i < parts.length; i++) {
    const candidate = path.posix.join(resolved, parts[i]);
    if (parts[i] === "..") {
      resolved = path.posix.dirname(resolved);
      continue;
    }
    const last = i === parts.length - 1;
    const loc = mountFor(rootfs, mounts, candidate);
    let st;
    try {
      st = await fs.lstat(loc.hostPath);
    } catch {
      resolved = candidate;
      continue;
    }
    if (st.isSymbolicLink() && (!last || followLast)) {
      if (++hops > 40) throw Object.assign(new Error("too many levels of symbolic links"), { code: "ELOOP" });
      const target = await fs.readlink(loc.hostPath);
      const next = target.startsWith("/") ? target : path.posix.join(resolved, target);
      parts = [...path.posix.normalize(next).split("/").filter(Boolean), ...parts.slice(i + 1)];
      resolved = "/";
      i = -1;
      continue;
    }
    resolved = candidate;
  }
  return { ...mountFor(rootfs, mounts, resolved), containerPath: resolved };
}

/** A symlink target as the sandbox accepts it: absolute targets rewritten relative to the link's directory. */
export function relativeLinkTarget(linkContainerPath: string, target: string): string {
  if (!target.startsWith("/")) return target;
  const rel = path.posix.relative(path.posix.dirname(linkContainerPath), target);
  return rel || ".";
}
