import { createReadStream } from "node:fs";
import { DockerError, log, notFound, serverError } from "@sockerless/api";
import type { Descriptor } from "./docker-types.js";
import { shortId } from "./digest.js";
import { parseManifest } from "./manifest.js";
import { detailMessage, throttled, type ProgressFn } from "./progress.js";
import { nameOfStoredRef, parseNamed, validateTag } from "./reference.js";
import {
  EndpointError,
  RegistryClient,
  RegistryResponseError,
  registryEndpoints,
  type RequestBody,
} from "./registry-client.js";
import type {
  ImageRecord,
  ParsedReference,
  ProgressMessage,
  RegistryAuth,
  RegistryOptions,
} from "./types.js";

export interface PushOptions {
  auth?: RegistryAuth;
  onProgress?: (m: ProgressMessage) => void;
  signal?: AbortSignal;
  /** Blobs larger than this go up in PATCH chunks of this size; smaller ones in one PUT. */
  chunkSize?: number;
}

/** What a push needs from the image store. */
export interface PushStore {
  readonly registry: RegistryOptions;
  list(): ImageRecord[];
  resolve(refOrId: string): ImageRecord | undefined;
  blobPath(digest: string): string;
  hasBlob(digest: string): Promise<boolean>;
  tmpPath(prefix: string): string;
  pinBlobs(digests: string[]): () => void;
  manifestFor(refOrId: string): Promise<{ bytes: Buffer; digest: string; mediaType: string }>;
  commitPull(
    rec: ImageRecord,
    ref: ParsedReference,
    manifestDigest: string,
  ): Promise<{ updated: boolean; record: ImageRecord }>;
}

export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;
const UPLOAD_ATTEMPTS = 3;

/** One blob to push: where it is on disk, and the id shown in progress. */
interface PushBlob {
  desc: Descriptor;
  file: string;
  progressId?: string;
}

/** A manifest ready to PUT, and everything it references. */
interface PushPlan {
  manifest: Buffer;
  mediaType: string;
  config: PushBlob;
  layers: PushBlob[];
}

/**
 * docker push: uploads the image(s) behind `name` (one tag, or every tag of the repository when
 * `tag` is empty and `name` has none) with the OCI distribution protocol.
 */
export async function pushImage(
  store: PushStore,
  name: string,
  tag: string | undefined,
  opts: PushOptions = {},
): Promise<void> {
  const ref = parseNamed(name);
  if (ref.digest !== undefined) throw new DockerError(400, "cannot push a digest reference");
  if (tag) {
    validateTag(tag);
    ref.tag = tag;
  }
  const targets = imagesToPush(store, ref);
  const progress: ProgressFn = opts.onProgress ?? (() => undefined);
  progress({ status: `The push refers to repository [${ref.familiarName}]` });
  const endpoints = await registryEndpoints(ref.domain, store.registry);
  for (const [t, rec] of targets) {
    const plan = await planPush(store, rec);
    const unpin = store.pinBlobs([
      rec.id,
      ...rec.layers,
      ...(rec.manifestDigest ? [rec.manifestDigest] : []),
    ]);
    try {
      let lastErr: unknown;
      for (let i = 0; i < endpoints.length; i++) {
        const client = new RegistryClient(endpoints[i], ref.path, opts.auth, opts.signal, {
          push: true,
          mountFrom: mountSources(store, ref, plan.layers),
        });
        try {
          const digest = await pushPlan(
            client,
            store,
            ref,
            t,
            plan,
            progress,
            opts.chunkSize ?? DEFAULT_CHUNK_SIZE,
          );
          progress({ status: `${t}: digest: ${digest} size: ${plan.manifest.length}` });
          progress({ progressDetail: {}, aux: { Tag: t, Digest: digest, Size: plan.manifest.length } });
          await store.commitPull(rec, { ...ref, tag: undefined, digest }, digest);
          lastErr = undefined;
          break;
        } catch (err) {
          lastErr = err;
          // only a failure to reach this endpoint lets us try the next one (https → http)
          if (!(err instanceof EndpointError) || i === endpoints.length - 1) break;
          log.debug({ endpoint: endpoints[i].base, err: String(err) }, "push endpoint failed, trying next");
        }
      }
      if (lastErr) throw lastErr;
    } finally {
      unpin();
    }
  }
}

/** The (tag, image) pairs to push; dockerd's 404 when there is none. */
function imagesToPush(store: PushStore, ref: ParsedReference): [string, ImageRecord][] {
  const missing = () => notFound(`An image does not exist locally with the tag: ${ref.familiarName}`);
  if (ref.tag !== undefined) {
    const rec = store.resolve(`${ref.familiarName}:${ref.tag}`);
    if (!rec) throw missing();
    return [[ref.tag, rec]];
  }
  const out: [string, ImageRecord][] = [];
  for (const rec of store.list()) {
    for (const t of rec.repoTags) {
      if (nameOfStoredRef(t) === ref.familiarName) out.push([t.slice(ref.familiarName.length + 1), rec]);
    }
  }
  if (out.length === 0) throw missing();
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** Other repositories of the same registry that hold a layer (from what was pulled or pushed before). */
function mountSources(store: PushStore, target: ParsedReference, layers: PushBlob[]): string[] {
  return [...new Set(layers.flatMap((l) => sourcesOf(store, target, l.desc.digest)))];
}

function sourcesOf(store: PushStore, target: ParsedReference, digest: string): string[] {
  const out: string[] = [];
  for (const rec of store.list()) {
    if (!rec.layers.includes(digest)) continue;
    for (const r of [...rec.repoDigests, ...rec.repoTags]) {
      let p: ParsedReference;
      try {
        p = parseNamed(r);
      } catch {
        continue;
      }
      if (p.domain === target.domain && p.path !== target.path && !out.includes(p.path)) out.push(p.path);
    }
  }
  return out;
}

/**
 * The manifest to push: the one pulled or created with the image, byte for byte (so the digest
 * stays the same), else one the store makes from the config and layer blobs.
 */
async function planPush(store: PushStore, rec: ImageRecord): Promise<PushPlan> {
  const { bytes, mediaType } = await store.manifestFor(rec.id);
  const parsed = parseManifest(bytes, mediaType || null, rec.id);
  if (parsed.kind !== "manifest" || parsed.manifest.config.digest !== rec.id) {
    throw serverError(`stored manifest of ${rec.id} does not describe it`);
  }
  const m = parsed.manifest;
  const progressIds = rec.diffIds.map((d) => shortId(d));
  return {
    manifest: bytes,
    mediaType: parsed.mediaType,
    config: { desc: m.config, file: store.blobPath(rec.id) },
    layers: m.layers.map((d, i) => ({ desc: d, file: store.blobPath(d.digest), progressId: progressIds[i] })),
  };
}

async function pushPlan(
  client: RegistryClient,
  store: PushStore,
  ref: ParsedReference,
  tag: string,
  plan: PushPlan,
  progress: ProgressFn,
  chunkSize: number,
): Promise<string> {
  const seen = new Set<string>();
  const layers = plan.layers.filter((l) => !seen.has(l.desc.digest) && seen.add(l.desc.digest));
  for (const l of [...layers].reverse())
    progress({ status: "Preparing", progressDetail: {}, id: l.progressId });
  if (await client.lacksBasicCredentials()) throw serverError("no basic auth credentials");
  for (const l of layers) {
    const id = l.progressId as string;
    if (await client.hasBlob(l.desc.digest)) {
      progress({ status: "Layer already exists", progressDetail: {}, id });
      continue;
    }
    // cross-repository mount from a repository of this registry that has the blob
    const from = sourcesOf(store, ref, l.desc.digest)[0];
    let session: URL | undefined;
    if (from !== undefined) {
      const r = await client.mountBlob(l.desc.digest, from);
      if (r === "mounted") {
        progress({ status: `Mounted from ${from}`, progressDetail: {}, id });
        continue;
      }
      session = r; // the registry could not mount and opened a normal upload instead
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await uploadBlob(client, l, session ?? (await client.startUpload()), chunkSize, (cur) =>
          progress(detailMessage("Pushing", id, cur, l.desc.size)),
        );
        break;
      } catch (err) {
        // like dockerd's upload manager: a network failure or a 5xx is retried, in a new session
        const transient =
          err instanceof EndpointError || (err instanceof RegistryResponseError && err.httpStatus >= 500);
        if (!transient || attempt >= UPLOAD_ATTEMPTS) throw err;
        session = undefined;
        log.warn({ digest: l.desc.digest, attempt, err: String(err) }, "layer upload failed, retrying");
        progress({
          status: `Retrying in ${attempt} second${attempt > 1 ? "s" : ""}`,
          progressDetail: {},
          id,
        });
        await new Promise((r) => setTimeout(r, attempt * 1000));
      }
    }
    progress({ status: "Pushed", progressDetail: {}, id });
  }
  if (!(await client.hasBlob(plan.config.desc.digest))) {
    await uploadBlob(client, plan.config, await client.startUpload(), chunkSize);
  }
  return client.putManifest(tag, plan.manifest, plan.mediaType);
}

/** A re-readable stream of bytes [start, start+length) of a file, reporting bytes sent. */
function fileRange(file: string, start: number, length: number, onBytes?: (n: number) => void): RequestBody {
  return async function* () {
    if (length === 0) return;
    let sent = 0;
    for await (const chunk of createReadStream(file, { start, end: start + length - 1 })) {
      sent += (chunk as Buffer).length;
      onBytes?.(sent);
      yield chunk as Uint8Array;
    }
  };
}

/** Monolithic PUT for a blob up to `chunkSize`, PATCH chunks then PUT for larger ones. */
async function uploadBlob(
  client: RegistryClient,
  blob: PushBlob,
  session: URL,
  chunkSize: number,
  onProgress?: (current: number) => void,
): Promise<void> {
  const size = blob.desc.size;
  const emit = onProgress ? throttled(onProgress, size) : undefined;
  if (size <= chunkSize) {
    await client.finishUpload(session, blob.desc.digest, {
      data: fileRange(blob.file, 0, size, emit),
      length: size,
    });
    return;
  }
  let url = session;
  for (let start = 0; start < size; start += chunkSize) {
    const len = Math.min(chunkSize, size - start);
    url = await client.uploadChunk(
      url,
      fileRange(blob.file, start, len, (n) => emit?.(start + n)),
      start,
      len,
    );
  }
  await client.finishUpload(url, blob.desc.digest);
}
