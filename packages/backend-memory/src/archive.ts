import { promises as fs } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { badRequest, notFound, DockerError, eachTarEntry, goFileMode, packTree } from "@sockerless/api";
import type { PathStat, ResolvedMount } from "@sockerless/engine";
import { relativeLinkTarget, resolveInContainer } from "./paths.js";

export interface FsView {
  rootfs: string;
  mounts: ResolvedMount[];
  containerId: string;
}

const missing = (v: FsView, p: string) =>
  notFound(`Could not find the file ${p} in container ${v.containerId}`);

export async function statPath(v: FsView, p: string): Promise<PathStat> {
  const loc = await resolveInContainer(v.rootfs, v.mounts, p, false);
  let st;
  try {
    st = await fs.lstat(loc.hostPath);
  } catch {
    throw missing(v, p);
  }
  return {
    name: path.posix.basename(loc.containerPath) || "/",
    size: st.size,
    mode: goFileMode(st),
    mtime: st.mtime.toISOString(),
    linkTarget: st.isSymbolicLink() ? await fs.readlink(loc.hostPath) : "",
  };
}

/** A tar of `p` rooted at its base name, as `docker cp` expects. */
export async function getArchive(v: FsView, p: string): Promise<{ stat: PathStat; tar: Readable }> {
  const stat = await statPath(v, p);
  const follow = p.endsWith("/") || p.endsWith("/.");
  const loc = await resolveInContainer(v.rootfs, v.mounts, p, follow);
  const pack = tar.pack();
  const name = p.endsWith("/.") ? "." : path.posix.basename(loc.containerPath) || ".";
  (async () => {
    await packTree(pack, loc.hostPath, name);
    pack.finalize();
  })().catch((e) => pack.destroy(e));
  return { stat, tar: pack as unknown as Readable };
}

/** Extract a tar under directory `p` of the container; no entry may land outside the container. */
export async function putArchive(
  v: FsView,
  p: string,
  input: Readable,
  opts: { noOverwriteDirNonDir: boolean },
): Promise<void> {
  const dest = await resolveInContainer(v.rootfs, v.mounts, p, true);
  let st;
  try {
    st = await fs.stat(dest.hostPath);
  } catch {
    throw missing(v, p);
  }
  if (!st.isDirectory()) throw badRequest(`extraction point is not a directory`);
  if (dest.readOnly) throw new DockerError(403, `container rootfs is marked read-only`);
  try {
    await eachTarEntry(input, (header, body) => extractEntry(v, dest.containerPath, header, body, opts));
  } catch (e) {
    if (e instanceof DockerError) throw e;
    throw badRequest(`failed to extract archive: ${(e as Error).message}`);
  }
}

async function extractEntry(
  v: FsView,
  destDir: string,
  h: tar.Header,
  stream: Readable,
  opts: { noOverwriteDirNonDir: boolean },
) {
  const rel = path.posix.normalize(h.name);
  if (path.posix.isAbsolute(h.name))
    throw badRequest(`invalid tar entry ${JSON.stringify(h.name)}: absolute paths are not allowed`);
  if (rel.startsWith("../") || rel === "..") {
    throw badRequest(`invalid tar entry ${JSON.stringify(h.name)}: path escapes the destination`);
  }
  const cpath = path.posix.join(destDir, rel.replace(/^\/+/, ""));
  if (!cpath.startsWith(destDir === "/" ? "/" : destDir + "/") && cpath !== destDir) {
    throw badRequest(`invalid tar entry ${JSON.stringify(h.name)}: path escapes the destination`);
  }
  const parent = await resolveInContainer(v.rootfs, v.mounts, path.posix.dirname(cpath), true);
  if (parent.readOnly)
    throw new DockerError(403, `cannot write to read-only mount at ${path.posix.dirname(cpath)}`);
  await fs.mkdir(parent.hostPath, { recursive: true });
  const target = path.join(parent.hostPath, path.posix.basename(cpath));
  const existing = await fs.lstat(target).catch(() => undefined);
  const mode = (h.mode ?? 0o644) & 0o7777;
  if (existing && opts.noOverwriteDirNonDir && existing.isDirectory() !== (h.type === "directory")) {
    throw badRequest(
      `cannot overwrite ${existing.isDirectory() ? "directory" : "non-directory"} ${cpath} with ${existing.isDirectory() ? "non-directory" : "directory"}`,
    );
  }
  switch (h.type) {
    case "directory":
      if (existing && !existing.isDirectory()) await fs.rm(target, { force: true });
      await fs.mkdir(target, { recursive: true });
      await fs.chmod(target, mode || 0o755);
      stream.resume();
      return;
    case "file":
    case "contiguous-file": {
      if (existing?.isDirectory()) await fs.rm(target, { recursive: true, force: true });
      else if (existing) await fs.rm(target, { force: true }); // never write through a symlink
      const fh = await fs.open(target, "wx", mode);
      await pipeline(stream, fh.createWriteStream());
      await fs.chmod(target, mode);
      if (h.mtime) await fs.utimes(target, h.mtime, h.mtime).catch(() => {});
      return;
    }
    case "symlink":
      if (existing) await fs.rm(target, { recursive: true, force: true });
      await fs.symlink(relativeLinkTarget(cpath, h.linkname ?? ""), target);
      stream.resume();
      return;
    case "link": {
      const linkRel = path.posix.normalize(h.linkname ?? "");
      if (path.posix.isAbsolute(linkRel) || linkRel.startsWith("../") || linkRel === "..") {
        throw badRequest(
          `invalid tar entry ${JSON.stringify(h.name)}: hard link target escapes the destination`,
        );
      }
      const src = await resolveInContainer(
        v.rootfs,
        v.mounts,
        path.posix.join(destDir, path.posix.normalize(h.linkname ?? "").replace(/^\/+/, "")),
        false,
      );
      if (existing) await fs.rm(target, { recursive: true, force: true });
      await fs.copyFile(src.hostPath, target);
      stream.resume();
      return;
    }
    default:
      stream.resume(); // devices, fifos: not representable in the sandbox
  }
}

/** The whole container filesystem (rootfs, without mounts) as a tar. */
export function exportTar(rootfs: string): Readable {
  const pack = tar.pack();
  (async () => {
    await packTree(pack, rootfs, ".");
    pack.finalize();
  })().catch((e) => pack.destroy(e));
  return pack as unknown as Readable;
}
