import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import { DockerError, log, notFound, serverError } from "@sockerless/api";
import type { Descriptor, ImageConfigBlob, ImageManifest } from "./docker-types.js";
import { shortId, sha256 } from "./digest.js";
import { removeTree } from "./fsutil.js";
import { checkLayerMediaType, parseManifest } from "./manifest.js";
import { formatPlatform, hostPlatform, normalizePlatform, platformScore } from "./platform.js";
import { detailMessage, throttled, type ProgressFn } from "./progress.js";
import { familiarString, parseReference } from "./reference.js";
import { EndpointError, RegistryClient, registryEndpoints } from "./registry-client.js";
import { recordFromConfig, type BlobStore } from "./record.js";
import { unpackLayer } from "./unpack.js";
import type {
  ImageRecord,
  ParsedReference,
  Platform,
  ProgressMessage,
  RegistryAuth,
  RegistryOptions,
} from "./types.js";

export interface PullOptions {
  auth?: RegistryAuth;
  /** Wanted platform; defaults to linux + the host architecture. */
  platform?: Platform;
  onProgress?: (m: ProgressMessage) => void;
  signal?: AbortSignal;
}

/** What the pull needs from the image store. */
export interface PullStore extends BlobStore {
  readonly registry: RegistryOptions;
  commitPull(
    rec: ImageRecord,
    ref: ParsedReference,
    manifestDigest: string,
  ): Promise<{ updated: boolean; record: ImageRecord }>;
}

/** dockerd's max-concurrent-downloads default. */
const MAX_CONCURRENT_DOWNLOADS = 3;
const DOWNLOAD_ATTEMPTS = 3;

interface Resolved {
  client: RegistryClient;
  manifestDigest: string; // recorded digest: the list's when pulled through a list
  platformManifestDigest: string;
  platformManifestBody: Buffer;
  manifest: ImageManifest;
  configBytes: Buffer;
  config: ImageConfigBlob;
}

const isAttestation = (d: Descriptor) =>
  d.annotations?.["vnd.docker.reference.type"] === "attestation-manifest" ||
  d.platform?.os === "unknown" ||
  d.platform?.architecture === "unknown";

async function fetchSmallBlob(client: RegistryClient, desc: Descriptor): Promise<Buffer> {
  const res = await client.getBlob(desc.digest);
  const buf = Buffer.from(await res.arrayBuffer());
  if (sha256(buf) !== desc.digest || (desc.size > 0 && buf.length !== desc.size)) {
    throw serverError(`image config verification failed for digest ${desc.digest}`);
  }
  return buf;
}

async function resolveOn(
  client: RegistryClient,
  ref: ParsedReference,
  refString: string,
  platform: Platform,
  explicitPlatform: boolean,
  store: PullStore,
): Promise<Resolved> {
  const top = await client.getManifest(ref.digest ?? (ref.tag as string), refString);
  if (ref.digest && top.digest !== ref.digest) {
    throw serverError(`manifest verification failed for digest ${ref.digest}`);
  }
  let parsed = parseManifest(top.body, top.contentType, refString);
  let platformManifestDigest = top.digest;
  let platformManifestBody = top.body;
  if (parsed.kind === "index") {
    let best: Descriptor | undefined;
    let bestScore = -1;
    for (const d of parsed.index.manifests) {
      if (isAttestation(d)) continue;
      const score = platformScore(platform, d.platform);
      if (score > bestScore) {
        best = d;
        bestScore = score;
      }
    }
    if (!best)
      throw notFound(`no matching manifest for ${formatPlatform(platform)} in the manifest list entries`);
    const m = await client.getManifest(best.digest, refString);
    if (m.digest !== best.digest) throw serverError(`manifest verification failed for digest ${best.digest}`);
    parsed = parseManifest(m.body, m.contentType ?? best.mediaType, refString);
    if (parsed.kind !== "manifest") throw serverError(`unsupported nested manifest list for ${refString}`);
    platformManifestDigest = best.digest;
    platformManifestBody = m.body;
  }
  const manifest = parsed.manifest;
  const cfgDesc = manifest.config;
  let configBytes: Buffer;
  if (await store.hasBlob(cfgDesc.digest)) configBytes = await fsp.readFile(store.blobPath(cfgDesc.digest));
  else configBytes = await fetchSmallBlob(client, cfgDesc);
  let config: ImageConfigBlob;
  try {
    config = JSON.parse(configBytes.toString("utf8")) as ImageConfigBlob;
  } catch {
    throw serverError(`invalid image config ${cfgDesc.digest}`);
  }
  if (typeof config !== "object" || config === null) {
    throw serverError(`invalid image config ${cfgDesc.digest}`);
  }
  if (top.digest === platformManifestDigest && explicitPlatform) {
    const have: Platform = { os: config.os ?? "linux", architecture: config.architecture ?? "" };
    if (config.variant) have.variant = config.variant;
    if (platformScore(platform, have) < 0) {
      throw notFound(
        `image with reference ${refString} was found but does not match the specified platform: wanted ${formatPlatform(platform)}, actual: ${formatPlatform(normalizePlatform(have))}`,
      );
    }
  }
  return {
    client,
    manifestDigest: top.digest,
    platformManifestDigest,
    platformManifestBody,
    manifest,
    configBytes,
    config,
  };
}

/** Downloads one blob to the store, verifying its digest and size, with dockerd-like progress. */
async function downloadLayer(
  store: PullStore,
  client: RegistryClient,
  desc: Descriptor,
  progress: ProgressFn,
  signal: AbortSignal,
): Promise<void> {
  const id = shortId(desc.digest);
  for (let attempt = 1; ; attempt++) {
    const tmp = store.tmpPath("blob-");
    try {
      const res = await client.getBlob(desc.digest);
      const total = desc.size;
      const emit = throttled((cur) => progress(detailMessage("Downloading", id, cur, total)), total);
      const hash = createHash("sha256");
      let current = 0;
      const fh = await fsp.open(tmp, "wx", 0o644);
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          signal.throwIfAborted();
          current += chunk.length;
          if (current > total) break;
          hash.update(chunk);
          let off = 0;
          while (off < chunk.length) {
            const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
            off += bytesWritten;
          }
          emit(current);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      progress({ status: "Verifying Checksum", progressDetail: {}, id });
      if (current !== total || "sha256:" + hash.digest("hex") !== desc.digest) {
        throw new DockerError(500, `filesystem layer verification failed for digest ${desc.digest}`);
      }
      await store.commitBlobFile(tmp, desc.digest);
      progress({ status: "Download complete", progressDetail: {}, id });
      return;
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      const retryable =
        !signal.aborted &&
        attempt < DOWNLOAD_ATTEMPTS &&
        (!(err instanceof DockerError) || err instanceof EndpointError);
      if (!retryable) throw err;
      log.warn({ digest: desc.digest, attempt, err: String(err) }, "layer download failed, retrying");
      const secs = attempt;
      progress({ status: `Retrying in ${secs} second${secs > 1 ? "s" : ""}`, progressDetail: {}, id });
      await new Promise((r) => setTimeout(r, secs * 1000));
    }
  }
}

/** Runs tasks with a concurrency limit; returns one promise per task (in order). */
function limited<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T>[] {
  let next = 0;
  const starters: ((v: void) => void)[] = [];
  const promises = tasks.map((task, i) =>
    new Promise<void>((resolve) => {
      starters[i] = resolve;
    }).then(task),
  );
  const startNext = () => {
    if (next < tasks.length) starters[next++]();
  };
  for (let i = 0; i < Math.min(limit, tasks.length); i++) startNext();
  for (const p of promises) p.then(startNext, startNext);
  return promises;
}

/**
 * Pulls an image with the OCI distribution protocol into the store and returns its record.
 * Errors are thrown as DockerError with dockerd's wording.
 */
export async function pullImage(
  store: PullStore,
  refStr: string,
  opts: PullOptions = {},
): Promise<ImageRecord> {
  const ref = parseReference(refStr);
  const refString = familiarString(ref);
  const progress: ProgressFn = opts.onProgress ?? (() => undefined);
  const explicitPlatform = opts.platform !== undefined && !!opts.platform.architecture;
  const platform = normalizePlatform(
    explicitPlatform ? (opts.platform as Platform) : { ...hostPlatform(), os: opts.platform?.os || "linux" },
  );
  const abort = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, abort.signal]) : abort.signal;

  progress({ status: `Pulling from ${ref.path}`, id: ref.digest ?? ref.tag });

  const endpoints = await registryEndpoints(ref.domain, store.registry);
  let resolved: Resolved | undefined;
  let firstErr: unknown;
  for (let i = 0; i < endpoints.length && !resolved; i++) {
    const ep = endpoints[i];
    const client = new RegistryClient(ep, ref.path, opts.auth, signal);
    try {
      resolved = await resolveOn(client, ref, refString, platform, explicitPlatform, store);
    } catch (err) {
      if (signal.aborted) throw err;
      const last = i === endpoints.length - 1;
      if (ep.mirror) {
        log.info({ mirror: ep.base, err: String(err) }, "registry mirror failed, falling back");
        continue;
      }
      if (err instanceof EndpointError && !last) {
        firstErr ??= err;
        continue;
      }
      throw firstErr && err instanceof EndpointError ? firstErr : err;
    }
  }
  if (!resolved) throw firstErr ?? serverError(`no registry endpoint available for ${ref.domain}`);

  const { client, manifest, config } = resolved;
  const id = manifest.config.digest;
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw serverError("layers from manifest don't match image configuration");
  }
  for (const l of manifest.layers) checkLayerMediaType(l.mediaType);

  const record = recordFromConfig(
    id,
    config,
    manifest.layers.map((l) => l.digest),
  );
  record.manifestDigest = resolved.platformManifestDigest;

  const unpin = store.pinBlobs([id, resolved.platformManifestDigest, ...record.layers]);
  let result: { updated: boolean; record: ImageRecord };
  try {
    const existing = store.get(id);
    if (existing) {
      record.size = existing.size;
      record.layerSizes = existing.layerSizes;
    } else {
      await fetchLayersAndUnpack(store, client, manifest, diffIds, record, progress, signal, abort);
      await store.putBlob(id, resolved.configBytes);
      await store.putBlob(resolved.platformManifestDigest, resolved.platformManifestBody);
    }
    result = await store.commitPull(record, ref, resolved.manifestDigest);
  } finally {
    unpin();
  }
  const { updated, record: stored } = result;
  progress({ status: `Digest: ${resolved.manifestDigest}` });
  progress({
    status: updated
      ? `Status: Downloaded newer image for ${refString}`
      : `Status: Image is up to date for ${refString}`,
  });
  return stored;
}

async function fetchLayersAndUnpack(
  store: PullStore,
  client: RegistryClient,
  manifest: ImageManifest,
  diffIds: string[],
  record: ImageRecord,
  progress: ProgressFn,
  signal: AbortSignal,
  abort: AbortController,
): Promise<void> {
  const layers = manifest.layers;
  const present = await Promise.all(layers.map((l) => store.hasBlob(l.digest)));
  const seen = new Set<string>();
  for (let i = 0; i < layers.length; i++) {
    const sid = shortId(layers[i].digest);
    if (seen.has(sid)) continue;
    seen.add(sid);
    progress({ status: present[i] ? "Already exists" : "Pulling fs layer", progressDetail: {}, id: sid });
  }
  // one download per distinct digest
  const downloads = new Map<string, Promise<void>>();
  const tasks: { digest: string; run: () => Promise<void> }[] = [];
  for (let i = 0; i < layers.length; i++) {
    if (present[i] || tasks.some((t) => t.digest === layers[i].digest)) continue;
    const desc = layers[i];
    tasks.push({ digest: desc.digest, run: () => downloadLayer(store, client, desc, progress, signal) });
  }
  if (tasks.length > MAX_CONCURRENT_DOWNLOADS) {
    for (const t of tasks.slice(MAX_CONCURRENT_DOWNLOADS)) {
      progress({ status: "Waiting", progressDetail: {}, id: shortId(t.digest) });
    }
  }
  const started = limited(
    tasks.map((t) => t.run),
    MAX_CONCURRENT_DOWNLOADS,
  );
  tasks.forEach((t, i) => downloads.set(t.digest, started[i]));
  // make sure a failing download aborts the others and nothing is left unhandled
  let downloadError: unknown;
  const all = Promise.all(started);
  all.catch((err: unknown) => {
    downloadError = err;
    abort.abort();
  });

  const staging = await store.makeStagingDir();
  try {
    const sizes: number[] = [];
    for (let i = 0; i < layers.length; i++) {
      const desc = layers[i];
      const sid = shortId(desc.digest);
      await downloads.get(desc.digest);
      const fresh = downloads.has(desc.digest);
      const emit = fresh
        ? throttled((cur) => progress(detailMessage("Extracting", sid, cur, desc.size)), desc.size)
        : undefined;
      const res = await unpackLayer(staging, store.blobPath(desc.digest), { onProgress: emit, signal });
      if (res.diffId !== diffIds[i]) {
        throw serverError("layers from manifest don't match image configuration");
      }
      sizes.push(res.size);
      if (fresh && !layers.slice(i + 1).some((l) => l.digest === desc.digest)) {
        progress({ status: "Pull complete", progressDetail: {}, id: sid });
      }
    }
    await all;
    record.layerSizes = sizes;
    record.size = sizes.reduce((a, b) => a + b, 0);
    await store.installRootfs(record.id, staging);
  } catch (err) {
    abort.abort();
    // every download has stopped (Promise.all settles at the first failure): nothing is still
    // writing into the store when the pull reports its error
    await Promise.allSettled(started);
    await removeTree(staging).catch(() => undefined);
    // an extraction aborted because a download failed: report the download's error
    throw downloadError ?? err;
  }
}
