import { promises as fsp } from "node:fs";
import { Readable, type Duplex, type Transform } from "node:stream";
import * as zlib from "node:zlib";
import lzma from "@napi-rs/lzma";
import bz2 from "unbzip2-stream";
import { badRequest, serverError } from "@sockerless/api";

/** What dockerd's DetectCompression recognises (plus zstd, which newer engines write). */
export type Compression = "gzip" | "zstd" | "bzip2" | "xz" | "none";

/** Upper bound for xz input, which is decoded in one piece (see `decompress`). */
export const DEFAULT_MAX_XZ_BYTES = 2 * 1024 * 1024 * 1024;

/** The compression of data by its first bytes (6 are enough). */
export function compressionOf(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head.readUInt32BE(0) === 0x28b52ffd) return "zstd";
  if (head.length >= 3 && head.toString("latin1", 0, 3) === "BZh") return "bzip2";
  if (head.length >= 6 && head[0] === 0xfd && head.toString("latin1", 1, 6) === "7zXZ\0") return "xz";
  return "none";
}

/** The compression of a file by its first bytes. */
export async function fileCompression(file: string): Promise<Compression> {
  const fh = await fsp.open(file, "r");
  try {
    const buf = Buffer.alloc(6);
    const { bytesRead } = await fh.read(buf, 0, 6, 0);
    return compressionOf(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** A streaming decompressor for the kinds that have one (gzip, zstd, bzip2); none for plain data. */
export function decompressor(kind: Compression): Transform | Duplex | undefined {
  if (kind === "gzip") return zlib.createGunzip({ chunkSize: 64 * 1024 });
  if (kind === "zstd") {
    const z = zlib as unknown as { createZstdDecompress?: () => Transform };
    if (typeof z.createZstdDecompress === "function") return z.createZstdDecompress();
    throw serverError("unsupported compression: zstd (needs Node.js >= 22.15)");
  }
  if (kind === "bzip2") return bz2() as unknown as Duplex;
  if (kind === "xz") throw serverError("xz has no streaming decompressor here; use decompress()");
  return undefined;
}

/**
 * `input` decompressed. gzip, zstd and bzip2 stream; xz is decoded in one piece (the xz binding
 * has no streaming decoder on Node 20), so its compressed size is bounded by `maxXzBytes`.
 */
export async function decompress(
  kind: Compression,
  input: Readable,
  maxXzBytes = DEFAULT_MAX_XZ_BYTES,
): Promise<Readable> {
  if (kind === "xz") {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of input) {
      n += (c as Buffer).length;
      if (n > maxXzBytes)
        throw badRequest(`xz-compressed data is larger than the limit of ${maxXzBytes} bytes`);
      chunks.push(c as Buffer);
    }
    try {
      return Readable.from([await lzma.xz.decompress(Buffer.concat(chunks))]);
    } catch (e) {
      throw badRequest(`invalid xz data: ${(e as Error).message}`);
    }
  }
  const dec = decompressor(kind);
  if (!dec) return input;
  input.on("error", (e) => dec.destroy(e));
  return input.pipe(dec);
}

/** A stream decompressed by its first bytes (dockerd's DecompressStream), e.g. a request body. */
export async function decompressedStream(
  input: Readable,
  maxXzBytes = DEFAULT_MAX_XZ_BYTES,
): Promise<Readable> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < 6 && !ended) {
    const r = await it.next();
    if (r.done) ended = true;
    else head = Buffer.concat([head, r.value]);
  }
  const rest = Readable.from(
    (async function* () {
      if (head.length) yield head;
      if (ended) return;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    })(),
    { objectMode: false },
  );
  return decompress(compressionOf(head), rest, maxXzBytes);
}
