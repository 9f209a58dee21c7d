import { createReadStream, createWriteStream, promises as fsp } from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar-stream";
import { badRequest, DockerError, log } from "@sockerless/api";
import type { Descriptor, ImageConfigBlob, ImageIndex, ImageManifest } from "./docker-types.js";
import { HashingStream, isSha256Digest, sha256, shortId } from "./digest.js";
import { removeTree } from "./fsutil.js";
import { MEDIA_TYPES } from "./manifest.js";
import { hostPlatform, platformScore } from "./platform.js";
import { detailMessage, throttled } from "./progress.js";
import { familiarString, parseNamed } from "./reference.js";
import { cleanEntryName, unpackLayer } from "./unpack.js";
import { decompressedStream } from "./compression.js";
import { recordFromConfig, type BlobStore } from "./record.js";
import type { ImageRecord, ProgressMessage } from "./types.js";

/** What `docker load` needs from the image store. */
export interface LoadStore extends BlobStore {
  resolve(refOrId: string): ImageRecord | undefined;
  recordCreated(rec: ImageRecord): Promise<ImageRecord>;
  tag(refOrId: string, repo: string, tag?: string): Promise<void>;
}

export interface LoadOptions {
  /** Progress ("Loading layer") for each layer unpacked; none when quiet. */
  onProgress?: (m: ProgressMessage) => void;
}

/** One image of an archive: its config file, layer files (bottom first) and tags. */
interface ArchiveImage {
  config: string;
  layers: string[];
  tags: string[];
}

const invalid = (msg: string) => badRequest(`invalid archive: ${msg}`);
const MAX_LINK_HOPS = 40;

/** An archive unpacked to a directory; symlinks and hard links are kept as a map, never on disk. */
class ExtractedArchive {
  readonly files = new Set<string>();
  readonly links = new Map<string, { target: string; hard: boolean }>();
  constructor(readonly dir: string) {}

  /** The on-disk file for an archive path, following the archive's links inside the archive. */
  resolve(name: string): string {
    let pending = (cleanEntryName(name.replace(/^\/+/, "")) ?? "").split("/").filter(Boolean);
    let done: string[] = [];
    for (let hops = 0; pending.length > 0;) {
      const next = [...done, pending[0]].join("/");
      const link = this.links.get(next);
      if (!link) {
        done.push(pending.shift() as string);
        continue;
      }
      if (++hops > MAX_LINK_HOPS) throw invalid(`too many links resolving ${name}`);
      const target =
        link.hard || link.target.startsWith("/") ? link.target : [...done, link.target].join("/");
      const cleaned = path.posix.normalize("/" + target).slice(1); // clamps ".." at the archive root
      pending = [...cleaned.split("/").filter(Boolean), ...pending.slice(1)];
      done = [];
    }
    const rel = done.join("/");
    if (!this.files.has(rel)) throw invalid(`${name}: no such file in the archive`);
    return path.join(this.dir, rel);
  }

  has(name: string): boolean {
    try {
      this.resolve(name);
      return true;
    } catch {
      return false;
    }
  }
}

async function extract(input: Readable, dir: string): Promise<ExtractedArchive> {
  const archive = new ExtractedArchive(dir);
  const ex = tar.extract();
  const src = await decompressedStream(input);
  src.on("error", (e) => ex.destroy(e));
  src.pipe(ex);
  let entries = 0;
  try {
    for await (const entry of ex) {
      entries++;
      const h = entry.header;
      const name = cleanEntryName(h.name);
      if (name === undefined) throw invalid(`entry ${JSON.stringify(h.name)} points outside the archive`);
      if (name === "") {
        entry.resume();
        continue;
      }
      const abs = path.join(dir, name);
      if (h.type === "directory") {
        await fsp.mkdir(abs, { recursive: true });
        entry.resume();
      } else if (h.type === "file" || h.type === "contiguous-file") {
        await fsp.mkdir(path.dirname(abs), { recursive: true });
        await pipeline(entry, createWriteStream(abs, { mode: 0o600 }));
        archive.files.add(name);
      } else if (h.type === "symlink" || h.type === "link") {
        archive.links.set(name, { target: h.linkname ?? "", hard: h.type === "link" });
        entry.resume();
      } else entry.resume();
    }
  } catch (err) {
    if (err instanceof DockerError) throw err;
    throw invalid((err as Error).message || String(err));
  }
  if (entries === 0) throw invalid("empty tar archive");
  return archive;
}

async function readJson<T>(archive: ExtractedArchive, name: string): Promise<T> {
  const raw = await fsp.readFile(archive.resolve(name), "utf8");
  try {
    return JSON.parse(raw) as T;
  } catch {
    throw invalid(`${name} is not valid JSON`);
  }
}

const isStringArray = (x: unknown): x is string[] =>
  Array.isArray(x) && x.every((s) => typeof s === "string");

/** manifest.json (every docker save), or else index.json of an OCI image layout. */
async function imagesOf(archive: ExtractedArchive): Promise<ArchiveImage[]> {
  if (archive.has("manifest.json")) {
    const m = await readJson<unknown>(archive, "manifest.json");
    if (!Array.isArray(m)) throw invalid("manifest.json is not a list");
    return m.map((e: { Config?: unknown; Layers?: unknown; RepoTags?: unknown }) => {
      if (!e || typeof e.Config !== "string" || !isStringArray(e.Layers))
        throw invalid("manifest.json entry without Config or Layers");
      return { config: e.Config, layers: e.Layers, tags: isStringArray(e.RepoTags) ? e.RepoTags : [] };
    });
  }
  if (archive.has("index.json")) {
    const out: ArchiveImage[] = [];
    await addIndex(archive, await readJson<ImageIndex>(archive, "index.json"), out, 0);
    return out;
  }
  if (archive.has("repositories")) {
    throw invalid("legacy image format without manifest.json is not supported");
  }
  throw invalid("neither manifest.json nor index.json found");
}

const blobFile = (d: Descriptor) => {
  if (!d || typeof d.digest !== "string" || !isSha256Digest(d.digest)) throw invalid("bad descriptor digest");
  return `blobs/sha256/${d.digest.slice(7)}`;
};

async function addIndex(archive: ExtractedArchive, index: ImageIndex, out: ArchiveImage[], depth: number) {
  if (!Array.isArray(index?.manifests)) throw invalid("index.json without manifests");
  const host = hostPlatform();
  for (const d of index.manifests) {
    if (d.mediaType === MEDIA_TYPES.ociIndex || d.mediaType === MEDIA_TYPES.dockerManifestList) {
      if (depth > 2) throw invalid("nested indexes too deep");
      const inner = await readJson<ImageIndex>(archive, blobFile(d));
      // a multi-platform index: the host's platform only (what can run here)
      const best = [...(inner.manifests ?? [])]
        .filter((m) => !m.platform || platformScore(host, m.platform) >= 0)
        .sort((a, b) => platformScore(host, b.platform) - platformScore(host, a.platform))[0];
      if (!best) throw invalid(`no image for ${host.os}/${host.architecture} in the index`);
      await addIndex(
        archive,
        { ...inner, manifests: [{ ...best, annotations: d.annotations }] },
        out,
        depth + 1,
      );
      continue;
    }
    const m = await readJson<ImageManifest>(archive, blobFile(d));
    if (!m?.config || !Array.isArray(m.layers))
      throw invalid(`manifest ${d.digest} without config or layers`);
    const name = d.annotations?.["io.containerd.image.name"];
    out.push({ config: blobFile(m.config), layers: m.layers.map(blobFile), tags: name ? [name] : [] });
  }
}

/** A layer file hashed and stored as a blob (as it is in the archive: compressed or not). */
async function storeLayerBlob(store: LoadStore, file: string, stored: string[]): Promise<string> {
  const tmp = store.tmpPath("load-blob-");
  const hasher = new HashingStream();
  await pipeline(createReadStream(file), hasher, createWriteStream(tmp, { flags: "wx", mode: 0o644 }));
  const digest = hasher.digest();
  if (await store.hasBlob(digest)) await fsp.rm(tmp, { force: true });
  else {
    await store.commitBlobFile(tmp, digest);
    stored.push(digest);
  }
  return digest;
}

interface Staged {
  rec: ImageRecord;
  configBytes: Buffer;
  staging?: string; // unset when the image is already in the store
  tags: string[];
}

async function stage(
  store: LoadStore,
  archive: ExtractedArchive,
  img: ArchiveImage,
  stored: string[],
  opts: LoadOptions,
): Promise<Staged> {
  const configBytes = await fsp.readFile(archive.resolve(img.config));
  const id = sha256(configBytes);
  let config: ImageConfigBlob;
  try {
    config = JSON.parse(configBytes.toString("utf8")) as ImageConfigBlob;
  } catch {
    throw invalid(`image config ${img.config} is not valid JSON`);
  }
  const diffIds = config?.rootfs?.diff_ids;
  if (!isStringArray(diffIds)) throw invalid(`image config ${img.config} has no rootfs.diff_ids`);
  if (diffIds.length !== img.layers.length) {
    throw badRequest(
      `invalid manifest, layers length mismatch: expected ${diffIds.length}, got ${img.layers.length}`,
    );
  }
  // tags as docker prints them; digest references cannot be tags
  const tags = img.tags
    .map((t) => parseNamed(t))
    .filter((p) => p.digest === undefined)
    .map((p) => familiarString({ ...p, tag: p.tag ?? "latest" }));
  const rec = recordFromConfig(id, config, []);
  const layerFiles = img.layers.map((l) => archive.resolve(l)); // all present, even for a known image
  if (store.get(id)) return { rec, configBytes, tags };
  const staging = await store.makeStagingDir();
  try {
    const sizes: number[] = [];
    for (let i = 0; i < img.layers.length; i++) {
      const digest = await storeLayerBlob(store, layerFiles[i], stored);
      rec.layers.push(digest);
      const blob = store.blobPath(digest);
      const total = (await fsp.stat(blob)).size;
      const sid = shortId(diffIds[i]);
      const emit = opts.onProgress
        ? throttled((cur) => opts.onProgress?.(detailMessage("Loading layer", sid, cur, total)), total)
        : undefined;
      const res = await unpackLayer(staging, blob, { onProgress: emit });
      if (res.diffId !== diffIds[i]) {
        throw badRequest(`invalid diffID for layer ${i}: expected "${diffIds[i]}", got "${res.diffId}"`);
      }
      sizes.push(res.size);
    }
    rec.layerSizes = sizes;
    rec.size = sizes.reduce((a, b) => a + b, 0);
  } catch (err) {
    await removeTree(staging).catch(() => undefined);
    throw err;
  }
  return { rec, configBytes, staging, tags };
}

/**
 * docker load: reads a tarball a Docker Engine saved (manifest.json with `<id>/layer.tar` or
 * `blobs/sha256/...` paths, or a bare OCI image layout), gzip/zstd-compressed or not. Every image
 * is verified (layer diff ids) before any is recorded, so a bad archive leaves nothing behind.
 * Returns the lines dockerd prints ("Loaded image: x:y", "Loaded image ID: sha256:...").
 */
export async function loadImages(
  store: LoadStore,
  input: Readable,
  opts: LoadOptions = {},
): Promise<string[]> {
  const dir = store.tmpPath("load-");
  await fsp.mkdir(dir, { recursive: true });
  const stored: string[] = [];
  const staged: Staged[] = [];
  const pins: (() => void)[] = [];
  const unpinAll = () => pins.forEach((u) => u());
  try {
    const archive = await extract(input, dir);
    const images = await imagesOf(archive);
    if (images.length === 0) throw invalid("no images in the archive");
    for (const img of images) {
      const s = await stage(store, archive, img, stored, opts);
      staged.push(s);
      pins.push(store.pinBlobs([s.rec.id, ...s.rec.layers]));
    }
  } catch (err) {
    unpinAll();
    for (const s of staged) if (s.staging) await removeTree(s.staging).catch(() => undefined);
    for (const d of stored) await fsp.rm(store.blobPath(d), { force: true }).catch(() => undefined);
    throw err;
  } finally {
    await removeTree(dir).catch(() => undefined);
  }
  const lines: string[] = [];
  try {
    for (const s of staged) {
      if (s.staging) {
        await store.putBlob(s.rec.id, s.configBytes);
        await store.installRootfs(s.rec.id, s.staging);
        await store.recordCreated(s.rec);
      }
      for (const t of s.tags) {
        const old = store.resolve(t);
        if (old && old.id !== s.rec.id) {
          lines.push(`The image ${t} already exists, renaming the old one with ID ${old.id} to empty string`);
        }
        const p = parseNamed(t);
        await store.tag(s.rec.id, p.familiarName, p.tag);
        lines.push(`Loaded image: ${t}`);
      }
      if (s.tags.length === 0) lines.push(`Loaded image ID: ${s.rec.id}`);
    }
  } finally {
    unpinAll();
  }
  log.debug({ images: staged.length }, "images loaded");
  return lines;
}
