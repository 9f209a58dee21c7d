import { createReadStream, promises as fs, type Stats } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";

/** Go's os.FileMode bits, which the docker CLI decodes from the archive stat header. */
export function goFileMode(st: Stats): number {
  let mode = st.mode & 0o777;
  if (st.mode & 0o4000) mode |= 1 << 23;
  if (st.mode & 0o2000) mode |= 1 << 22;
  if (st.mode & 0o1000) mode |= 1 << 20;
  if (st.isDirectory()) mode |= 2 ** 31;
  else if (st.isSymbolicLink()) mode |= 1 << 27;
  else if (st.isFIFO()) mode |= 1 << 25;
  else if (st.isSocket()) mode |= 1 << 24;
  else if (st.isCharacterDevice()) mode |= (1 << 26) | (1 << 21);
  else if (st.isBlockDevice()) mode |= 1 << 26;
  return mode >>> 0;
}

/**
 * Append `hostPath` to a tar as `name` (recursively for directories; symlinks as links), the
 * layout `docker cp` produces. `skip` leaves out host paths (e.g. mount points).
 */
export async function packTree(
  pack: tar.Pack,
  hostPath: string,
  name: string,
  skip?: (p: string) => boolean,
): Promise<void> {
  const st = await addEntry(pack, hostPath, name);
  if (st.isDirectory()) {
    for (const child of (await fs.readdir(hostPath)).sort()) {
      const hp = path.join(hostPath, child);
      if (skip?.(hp)) continue;
      await packTree(pack, hp, name === "." ? child : path.posix.join(name, child), skip);
    }
  }
}

/** Adds one file, symlink or directory (not its contents) to a tar; returns its lstat. */
export async function addEntry(pack: tar.Pack, hostPath: string, name: string): Promise<Stats> {
  const st = await fs.lstat(hostPath);
  const header = { name, mode: st.mode & 0o7777, mtime: st.mtime, uid: st.uid, gid: st.gid };
  if (st.isDirectory()) {
    if (name !== ".")
      await entry(pack, { ...header, name: name.endsWith("/") ? name : name + "/", type: "directory" });
  } else if (st.isSymbolicLink()) {
    await entry(pack, { ...header, type: "symlink", linkname: await fs.readlink(hostPath) });
  } else if (st.isFile()) {
    await new Promise<void>((resolve, reject) => {
      const w = pack.entry({ ...header, type: "file", size: st.size }, (err) =>
        err ? reject(err) : resolve(),
      );
      createReadStream(hostPath).on("error", reject).pipe(w);
    });
  }
  return st;
}

function entry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }): Promise<void> {
  return new Promise((resolve, reject) =>
    pack.entry(header as tar.Header, (err) => (err ? reject(err) : resolve())),
  );
}

/**
 * Run `each` on every entry of a tar, in order. The first entry `each` refuses ends the extraction
 * with its error; a broken tar fails with tar-stream's.
 */
export async function eachTarEntry(
  input: Readable,
  each: (header: tar.Header, body: Readable) => Promise<void>,
): Promise<void> {
  const extract = tar.extract();
  extract.on("entry", (header, stream, next) => {
    stream.on("error", () => {}); // a refused entry destroys the extraction, and its stream with it
    each(header, stream as unknown as Readable).then(
      () => next(),
      (e) => {
        stream.resume();
        next(e);
      },
    );
  });
  await pipeline(input, extract);
}
