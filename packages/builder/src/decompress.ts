import { Readable, type Duplex } from "node:stream";
import * as zlib from "node:zlib";
import lzma from "@napi-rs/lzma";
import bz2 from "unbzip2-stream";
import { badRequest } from "@sockerless/api";

export type Compression = "gzip" | "bzip2" | "xz" | "none";

/** The compression of a stream or file by its first bytes (what dockerd's DetectCompression does). */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 3 && head.toString("latin1", 0, 3) === "BZh") return "bzip2";
  if (head.length >= 6 && head[0] === 0xfd && head.toString("latin1", 1, 6) === "7zXZ\0") return "xz";
  return "none";
}

/**
 * `input` decompressed. gzip and bzip2 stream; xz is decoded in one piece (the xz binding has no
 * streaming decoder on Node 20), so its compressed size is bounded by `maxBytes`.
 */
export async function decompress(kind: Compression, input: Readable, maxBytes: number): Promise<Readable> {
  if (kind === "gzip") return input.pipe(zlib.createGunzip());
  if (kind === "bzip2") {
    const out = bz2() as unknown as Duplex;
    input.on("error", (e) => out.destroy(e));
    return input.pipe(out);
  }
  if (kind === "xz") {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of input) {
      n += (c as Buffer).length;
      if (n > maxBytes) throw badRequest(`xz-compressed data is larger than the limit of ${maxBytes} bytes`);
      chunks.push(c as Buffer);
    }
    try {
      return Readable.from([await lzma.xz.decompress(Buffer.concat(chunks))]);
    } catch (e) {
      throw badRequest(`invalid xz data: ${(e as Error).message}`);
    }
  }
  return input;
}
