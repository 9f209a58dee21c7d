import { promises as fs } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { eachTarEntry, goFileMode, packTree } from "@sockerless/api/archive";
import type { PathStatWire } from "../protocol.js";

/** An archive request that fails the way dockerd answers it (`status`). */
export class StatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const missing = (p: string) => new StatusError(404, `Could not find the file ${p} in container`);

export async function statPath(p: string): Promise<PathStatWire> {
  const abs = path.posix.resolve("/", p);
  let st;
  try {
    st = await fs.lstat(abs);
  } catch {
    throw missing(p);
  }
  return {
    name: path.posix.basename(abs) || "/",
    size: st.size,
    mode: goFileMode(st),
    mtime: st.mtime.toISOString(),
    linkTarget: st.isSymbolicLink() ? await fs.readlink(abs) : "",
  };
}

/** A tar of `p` rooted at its base name (a trailing `/` or `/.` follows a symlink), like `docker cp`. */
export async function getArchive(p: string): Promise<{ stat: PathStatWire; tar: Readable }> {
  const stat = await statPath(p);
  const follow = p.endsWith("/") || p.endsWith("/.");
  const abs = path.posix.resolve("/", p);
  const src = follow ? await fs.realpath(abs) : abs;
  const name = p.endsWith("/.") ? "." : path.posix.basename(abs) || ".";
  const pack = tar.pack();
  packTree(pack, src, name).then(
    () => pack.finalize(),
    (e) => pack.destroy(e),
  );
  return { stat, tar: pack as unknown as Readable };
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root === "/" ? "/" : root + "/");
}

/**
 * Extract a tar into directory `p`. Hostile entries are refused, not skipped: absolute names,
 * `..` components, hard links to outside the destination, and writes through a symlink that
 * leads out of it (checked on the real path of each entry's parent).
 */
export async function putArchive(
  p: string,
  input: Readable,
  opts: { noOverwriteDirNonDir: boolean },
): Promise<void> {
  const abs = path.posix.resolve("/", p);
  let st;
  try {
    st = await fs.stat(abs);
  } catch {
    throw missing(p);
  }
  if (!st.isDirectory()) throw new StatusError(400, "extraction point is not a directory");
  const root = await fs.realpath(abs);
  try {
    await eachTarEntry(input, (header, body) => extractEntry(root, header, body, opts));
  } catch (e) {
    if (e instanceof StatusError) throw e;
    throw new StatusError(400, `failed to extract archive: ${(e as Error).message}`);
  }
}

function entryPath(root: string, name: string, what = "path", entry = name): string {
  if (path.posix.isAbsolute(name))
    throw new StatusError(
      400,
      `invalid tar entry ${JSON.stringify(entry)}: absolute ${what}s are not allowed`,
    );
  if (name.split("/").includes(".."))
    throw new StatusError(400, `invalid tar entry ${JSON.stringify(entry)}: ${what} escapes the destination`);
  // "./" and "dir/" name the directory itself: no trailing slash, so "./" is the destination
  return path.posix.join(root, name).replace(/(?<=.)\/+$/, "");
}

async function extractEntry(
  root: string,
  h: tar.Header,
  stream: Readable,
  opts: { noOverwriteDirNonDir: boolean },
): Promise<void> {
  const target = entryPath(root, h.name);
  if (target === root) {
    stream.resume();
    return;
  }
  const parent = path.posix.dirname(target);
  await fs.mkdir(parent, { recursive: true });
  if (!inside(root, await fs.realpath(parent)))
    throw new StatusError(
      400,
      `invalid tar entry ${JSON.stringify(h.name)}: path leads out of the destination through a symlink`,
    );
  const existing = await fs.lstat(target).catch(() => undefined);
  if (existing && opts.noOverwriteDirNonDir && existing.isDirectory() !== (h.type === "directory")) {
    throw new StatusError(
      400,
      `cannot overwrite ${existing.isDirectory() ? "directory" : "non-directory"} ${target} with ${existing.isDirectory() ? "non-directory" : "directory"}`,
    );
  }
  const mode = (h.mode ?? 0o644) & 0o7777;
  const owner = async () => {
    if (process.getuid?.() === 0 && h.uid !== undefined && h.gid !== undefined)
      await fs.lchown(target, h.uid, h.gid);
  };
  switch (h.type) {
    case "directory":
      if (existing && !existing.isDirectory()) await fs.rm(target, { force: true });
      await fs.mkdir(target, { recursive: true });
      await fs.chmod(target, mode || 0o755);
      await owner();
      stream.resume();
      return;
    case "file":
    case "contiguous-file": {
      if (existing) await fs.rm(target, { recursive: true, force: true }); // never write through a link
      const fh = await fs.open(target, "wx", mode);
      await pipeline(stream, fh.createWriteStream());
      await fs.chmod(target, mode);
      await owner();
      if (h.mtime) await fs.utimes(target, h.mtime, h.mtime);
      return;
    }
    case "symlink":
      if (existing) await fs.rm(target, { recursive: true, force: true });
      await fs.symlink(h.linkname ?? "", target);
      await owner();
      stream.resume();
      return;
    case "link": {
      const src = entryPath(root, h.linkname ?? "", "hard link target", h.name);
      if (!inside(root, await fs.realpath(path.posix.dirname(src))))
        throw new StatusError(
          400,
          `invalid tar entry ${JSON.stringify(h.name)}: hard link target leads out of the destination`,
        );
      if (existing) await fs.rm(target, { recursive: true, force: true });
      await fs.link(src, target);
      stream.resume();
      return;
    }
    default:
      throw new StatusError(400, `tar entry ${JSON.stringify(h.name)}: unsupported type ${h.type}`);
  }
}
