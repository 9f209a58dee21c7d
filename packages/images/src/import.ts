import { createWriteStream, promises as fsp } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DockerError, badRequest } from "@sockerless/api";
import { detailMessage, throttled } from "./progress.js";
import { decompressedStream } from "./compression.js";
import type { ImageConfig, ImageRecord, Platform, ProgressMessage } from "./types.js";

/** What `docker import` needs from the image store (createImage lands the layer). */
export interface ImportStore {
  tmpPath(prefix: string): string;
  createImage(input: {
    layers: { tarPath: string }[];
    config: ImageConfig;
    history?: { created?: string; comment?: string; created_by?: string }[];
    comment?: string;
    created?: string;
    os?: string;
    architecture?: string;
    variant?: string;
  }): Promise<ImageRecord>;
}

export interface ImportOptions {
  /** The image config (`-c` changes already applied to an empty one). */
  config: ImageConfig;
  /** Commit message; dockerd's default is "Imported from <src>". */
  message?: string;
  platform?: Platform;
  onProgress?: (m: ProgressMessage) => void;
}

/**
 * docker import: a filesystem tarball (plain, gzip or zstd) as a one-layer image. `src` is "-"
 * for the request body or an http(s) URL (fetched here).
 */
export async function importImage(
  store: ImportStore,
  src: string,
  body: Readable,
  opts: ImportOptions,
): Promise<ImageRecord> {
  let input = body;
  if (src !== "-") {
    const url = parseSourceUrl(src);
    let res: Response;
    try {
      res = await fetch(url);
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new DockerError(500, `Get "${url}": ${cause}`);
    }
    if (!res.ok || !res.body) {
      const text = (await res.text().catch(() => "")).trim().slice(0, 512);
      throw new DockerError(500, `failed to GET ${url} with status ${res.status} ${res.statusText}: ${text}`);
    }
    opts.onProgress?.({ status: `Downloading from ${url}` });
    const total = Number(res.headers.get("content-length") ?? "0");
    let current = 0;
    const emit = throttled((cur) => opts.onProgress?.(detailMessage("Importing", "", cur, total)), total);
    input = Readable.from(
      (async function* () {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          current += chunk.length;
          emit(current);
          yield chunk;
        }
      })(),
    );
  }
  const tarPath = store.tmpPath("import-");
  try {
    await pipeline(await decompressedStream(input), createWriteStream(tarPath, { flags: "wx", mode: 0o600 }));
    const message = opts.message || `Imported from ${src}`;
    const created = new Date().toISOString();
    return await store.createImage({
      layers: [{ tarPath }],
      config: opts.config,
      comment: message,
      created,
      history: [{ created, comment: message }],
      ...(opts.platform?.os ? { os: opts.platform.os } : {}),
      ...(opts.platform?.architecture ? { architecture: opts.platform.architecture } : {}),
      ...(opts.platform?.variant ? { variant: opts.platform.variant } : {}),
    });
  } finally {
    await fsp.rm(tarPath, { force: true });
  }
}

/** dockerd takes "host/path" as http://host/path; only http and https are fetched. */
function parseSourceUrl(src: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(src) ? src : `http://${src}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw badRequest(`invalid import source: ${src}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw badRequest(`unsupported import source scheme ${u.protocol} (http and https only)`);
  }
  return u.toString();
}
