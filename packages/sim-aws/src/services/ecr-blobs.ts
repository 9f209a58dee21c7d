import { createHash, randomUUID, type Hash } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  promises as fs,
  rmSync,
  statSync,
  type ReadStream,
} from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import { digestInvalid } from "./ecr-errors.js";

/** An upload session: bytes appended to a temp file, hashed as they arrive. */
export interface Upload {
  id: string;
  repository: string;
  file: string;
  size: number;
  hash: Hash;
}

/**
 * Content-addressed files under <root>/blobs/sha256/<hex>: layers, configs and manifests. Files
 * are written to <root>/uploads first and renamed in, so a blob is either whole or absent.
 */
export class BlobStore {
  private readonly uploads = new Map<string, Upload>();

  constructor(readonly root: string) {
    mkdirSync(path.join(root, "blobs", "sha256"), { recursive: true });
    // upload sessions live in memory: their files from an earlier process are orphans
    rmSync(path.join(root, "uploads"), { recursive: true, force: true });
    mkdirSync(path.join(root, "uploads"), { recursive: true });
  }

  path(digest: string): string {
    return path.join(this.root, "blobs", "sha256", digest.slice("sha256:".length));
  }

  /** Size of a stored blob, undefined when absent. */
  size(digest: string): number | undefined {
    try {
      return statSync(this.path(digest)).size;
    } catch {
      return undefined;
    }
  }

  read(digest: string): ReadStream {
    return createReadStream(this.path(digest));
  }

  async readAll(digest: string): Promise<Buffer> {
    return fs.readFile(this.path(digest));
  }

  /** Store a small blob (a manifest) whose digest is known to match. */
  async write(digest: string, data: Buffer): Promise<void> {
    if (this.size(digest) !== undefined) return;
    const tmp = path.join(this.root, "uploads", randomUUID());
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, this.path(digest));
  }

  async remove(digest: string): Promise<void> {
    await fs.rm(this.path(digest), { force: true });
  }

  /** Every stored digest (for garbage collection). */
  async list(): Promise<string[]> {
    const names = await fs.readdir(path.join(this.root, "blobs", "sha256"));
    return names.map((n) => `sha256:${n}`);
  }

  startUpload(repository: string): Upload {
    const id = randomUUID();
    const u = {
      id,
      repository,
      file: path.join(this.root, "uploads", id),
      size: 0,
      hash: createHash("sha256"),
    };
    this.uploads.set(id, u);
    return u;
  }

  upload(id: string): Upload | undefined {
    return this.uploads.get(id);
  }

  /** Append a request body to an upload, hashing it on the way. */
  async append(u: Upload, body: Readable): Promise<void> {
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        u.hash.update(chunk);
        u.size += chunk.length;
        cb(null, chunk);
      },
    });
    await pipeline(body, hasher, createWriteStream(u.file, { flags: "a" }));
  }

  /** Finish an upload: the content must hash to `digest`; then it becomes a blob. */
  async commit(u: Upload, digest: string): Promise<number> {
    const actual = "sha256:" + u.hash.copy().digest("hex");
    if (actual !== digest) {
      await this.cancel(u);
      throw digestInvalid(`provided digest ${digest} does not match uploaded content ${actual}`);
    }
    if (u.size === 0) await fs.writeFile(u.file, ""); // an empty blob has no appended file yet
    await fs.rename(u.file, this.path(digest));
    this.uploads.delete(u.id);
    return u.size;
  }

  async cancel(u: Upload): Promise<void> {
    this.uploads.delete(u.id);
    await fs.rm(u.file, { force: true });
  }
}
