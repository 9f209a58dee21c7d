import fs, { promises as fsp } from "node:fs";
import path from "node:path";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import dockerignore from "@balena/dockerignore";
import tar from "tar-stream";
import { badRequest, DockerError } from "@sockerless/api";
import { cleanEntryName, decompressedStream } from "@sockerless/images";

/** A build context unpacked into a private directory. */
export interface BuildContext {
  dir: string;
  /** The Dockerfile's text. */
  dockerfile: string;
  /** Name of the Dockerfile inside the context. */
  dockerfileName: string;
}

/** Upper bound of an (uncompressed) build context, overridable with SOCKERLESS_MAX_BUILD_CONTEXT. */
export const DEFAULT_MAX_CONTEXT = 2 * 1024 ** 3;

class Limit extends Transform {
  private n = 0;
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.n += chunk.length;
    if (this.n > this.max) {
      cb(badRequest(`build context is larger than the limit of ${this.max} bytes`));
      return;
    }
    cb(null, chunk);
  }
}

/**
 * Completes a tar that ends without its padding and end-of-archive blocks: the docker CLI sends
 * such a tar when it adds a Dockerfile from outside the context (Go's reader accepts it).
 */
class TarEnd extends Transform {
  private n = 0;
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.n += chunk.length;
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    cb(null, Buffer.alloc(((512 - (this.n % 512)) % 512) + 1024));
  }
}

function writeEntry(dir: string, header: tar.Header, rel: string, stream: Readable): Promise<void> {
  const abs = path.join(dir, rel);
  // parents are created plainly: the context is read by path, never executed
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  const mode = (header.mode ?? 0o644) & 0o7777;
  const mtime = header.mtime ?? new Date();
  switch (header.type) {
    case "directory":
      fs.mkdirSync(abs, { recursive: true });
      fs.chmodSync(abs, mode | 0o700);
      stream.resume();
      return Promise.resolve();
    case "file":
    case "contiguous-file":
      fs.rmSync(abs, { recursive: true, force: true });
      return pipeline(stream, fs.createWriteStream(abs, { mode, flags: "wx" })).then(() => {
        fs.chmodSync(abs, mode);
        fs.utimesSync(abs, mtime, mtime);
      });
    case "symlink":
      // kept as a link; COPY resolves links inside the context and never follows them out
      fs.rmSync(abs, { recursive: true, force: true });
      fs.symlinkSync(header.linkname ?? "", abs);
      stream.resume();
      return Promise.resolve();
    case "link": {
      const target = cleanEntryName(header.linkname ?? "");
      if (!target) throw badRequest(`invalid build context: hard link ${rel} points outside the context`);
      fs.rmSync(abs, { recursive: true, force: true });
      const st = fs.lstatSync(path.join(dir, target), { throwIfNoEntry: false });
      if (!st?.isFile()) throw badRequest(`invalid build context: hard link ${rel} to a missing file`);
      fs.copyFileSync(path.join(dir, target), abs);
      stream.resume();
      return Promise.resolve();
    }
    default:
      stream.resume(); // devices and fifos have no place in a build context
      return Promise.resolve();
  }
}

/**
 * Unpacks the request body (a tar, maybe gzip) into `dir`. Entries with absolute paths or `..`
 * components are refused (400) rather than silently dropped: a client sending them is broken or
 * hostile, and a build from a partial context would be wrong.
 */
export async function unpackContext(body: Readable, dir: string, maxBytes: number): Promise<void> {
  const input = await decompressedStream(body, maxBytes);
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const name = entry.header.name;
      if (path.posix.isAbsolute(name) || name.split("/").includes("..")) {
        entry.resume();
        throw badRequest(`invalid build context: entry ${JSON.stringify(name)} is outside the context`);
      }
      const rel = cleanEntryName(name);
      if (rel === undefined || rel === "") {
        entry.resume();
        continue;
      }
      await writeEntry(dir, entry.header, rel, entry as unknown as Readable);
    }
  })();
  try {
    await Promise.all([pipeline(input, new Limit(maxBytes), new TarEnd(), extract), done]);
  } catch (e) {
    extract.destroy();
    input.destroy();
    if (e instanceof DockerError) throw e;
    throw badRequest(`invalid build context: ${(e as Error).message}`);
  }
}

/**
 * Reads the Dockerfile and applies .dockerignore (or <Dockerfile>.dockerignore) by deleting the
 * excluded files, so no instruction can see them. The CLI filters before sending; API clients
 * that send everything get the same result.
 */
export async function prepareContext(dir: string, dockerfileName: string): Promise<BuildContext> {
  const name = dockerfileName || "Dockerfile";
  const rel = cleanEntryName(name.replace(/^\.\//, ""));
  if (rel === undefined || rel === "") throw badRequest(`Cannot locate specified Dockerfile: ${name}`);
  let text: string | undefined;
  for (const candidate of [rel, ...(name === "Dockerfile" ? ["dockerfile"] : [])]) {
    const st = await fsp.lstat(path.join(dir, candidate)).catch(() => undefined);
    if (st?.isFile()) {
      text = await fsp.readFile(path.join(dir, candidate), "utf8");
      break;
    }
  }
  if (text === undefined) throw badRequest(`Cannot locate specified Dockerfile: ${name}`);
  let ignoreText: string | undefined;
  for (const f of [`${rel}.dockerignore`, ".dockerignore"]) {
    const st = await fsp.lstat(path.join(dir, f)).catch(() => undefined);
    if (st?.isFile()) {
      ignoreText = await fsp.readFile(path.join(dir, f), "utf8");
      break;
    }
  }
  if (ignoreText !== undefined) {
    const ig = dockerignore.default().add(ignoreText.split(/\r?\n/));
    const walk = async (relDir: string): Promise<void> => {
      for (const e of await fsp.readdir(path.join(dir, relDir), { withFileTypes: true })) {
        const r = relDir ? `${relDir}/${e.name}` : e.name;
        if (e.isDirectory()) {
          await walk(r); // an excluded directory may hold re-included (!pattern) files
          if (ig.ignores(r) && (await fsp.readdir(path.join(dir, r))).length === 0)
            await fsp.rmdir(path.join(dir, r));
        } else if (ig.ignores(r)) await fsp.rm(path.join(dir, r), { force: true });
      }
    };
    await walk("");
  }
  return { dir, dockerfile: text, dockerfileName: rel };
}
