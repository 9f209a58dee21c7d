import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";

export const sha256 = (data: Buffer | string): string =>
  "sha256:" + createHash("sha256").update(data).digest("hex");

/** The hex part of "sha256:<hex>". */
export const hexOf = (digest: string): string => digest.slice(digest.indexOf(":") + 1);

/** dockerd's stringid.TruncateID: 12 hex chars without the algorithm. */
export const shortId = (id: string): string => hexOf(id).slice(0, 12);

/** True for "sha256:<64 hex>". */
export const isSha256Digest = (d: string): boolean => /^sha256:[a-f0-9]{64}$/.test(d);

/** Layer chain ids as the docker layer store computes them from diff ids. */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  }
  return out;
}

/** A pass-through stream that hashes (sha256) and counts what flows through it. */
export class HashingStream extends Transform {
  private readonly hash = createHash("sha256");
  bytes = 0;
  private result: string | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.digest();
    cb();
  }

  /** The digest; only valid after the stream has flushed. */
  digest(): string {
    if (this.result === undefined) this.result = "sha256:" + this.hash.digest("hex");
    return this.result;
  }
}
