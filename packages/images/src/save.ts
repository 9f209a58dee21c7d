import { createReadStream, createWriteStream, promises as fsp } from "node:fs";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar-stream";
import { log, noSuchImage, serverError } from "@sockerless/api";
import { HashingStream, hexOf, sha256 } from "./digest.js";
import { MEDIA_TYPES } from "./manifest.js";
import { fullName, nameOfStoredRef, parseNamed } from "./reference.js";
import { decompressor, fileCompression } from "./compression.js";
import type { ImageRecord } from "./types.js";

/** What `docker save` needs from the image store. */
export interface SaveStore {
  list(): ImageRecord[];
  resolve(refOrId: string): ImageRecord | undefined;
  blobPath(digest: string): string;
  tmpPath(prefix: string): string;
  pinBlobs(digests: string[]): () => void;
}

interface Selected {
  rec: ImageRecord;
  tags: string[]; // familiar "name:tag"
}

/**
 * dockerd's selection for save: a name without tag means every tag of that repository, name:tag
 * that tag, and an id (or digest reference) the image without tags.
 */
function selectImages(store: SaveStore, names: string[]): Selected[] {
  const out = new Map<string, Selected>();
  const add = (rec: ImageRecord, tag?: string) => {
    let s = out.get(rec.id);
    if (!s) out.set(rec.id, (s = { rec, tags: [] }));
    if (tag && !s.tags.includes(tag)) s.tags.push(tag);
  };
  for (const name of names) {
    let parsed;
    try {
      parsed = parseNamed(name);
    } catch {
      parsed = undefined;
    }
    if (parsed && parsed.tag === undefined && parsed.digest === undefined) {
      const all = store
        .list()
        .filter((r) => r.repoTags.some((t) => nameOfStoredRef(t) === parsed.familiarName));
      if (all.length > 0) {
        for (const rec of all) {
          for (const t of rec.repoTags) if (nameOfStoredRef(t) === parsed.familiarName) add(rec, t);
        }
        continue;
      }
    }
    const rec = store.resolve(name);
    if (!rec) throw noSuchImage(name);
    const byId = hexOf(rec.id).startsWith(name.replace(/^sha256:/, ""));
    add(rec, !byId && parsed?.tag !== undefined ? `${parsed.familiarName}:${parsed.tag}` : undefined);
  }
  return [...out.values()];
}

/** An uncompressed layer tar on disk (the blob itself, or a temp file decompressed from it). */
interface LayerFile {
  diffId: string;
  file: string;
  size: number;
  temp: boolean;
}

async function uncompressedLayer(store: SaveStore, blob: string, diffId: string): Promise<LayerFile> {
  const file = store.blobPath(blob);
  const kind = await fileCompression(file);
  if (kind === "none") return { diffId, file, size: (await fsp.stat(file)).size, temp: false };
  const tmp = store.tmpPath("save-");
  const hasher = new HashingStream();
  try {
    await pipeline(
      createReadStream(file),
      decompressor(kind)!,
      hasher,
      createWriteStream(tmp, { flags: "wx", mode: 0o600 }),
    );
    if (hasher.digest() !== diffId) throw serverError(`layer ${blob} does not match its diff id ${diffId}`);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  return { diffId, file: tmp, size: hasher.bytes, temp: true };
}

const EPOCH = new Date(0);

function addBuffer(pack: tar.Pack, name: string, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) =>
    pack.entry({ name, mtime: EPOCH, mode: 0o644 }, data, (err) => (err ? reject(err) : resolve())),
  );
}

async function addFile(pack: tar.Pack, name: string, file: string, size: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const entry = pack.entry({ name, size, mtime: EPOCH, mode: 0o644 }, (err) =>
      err ? reject(err) : resolve(),
    );
    const src = createReadStream(file);
    src.on("error", (e) => {
      entry.destroy(e);
      reject(e);
    });
    src.pipe(entry);
  });
}

const blobName = (digest: string) => `blobs/sha256/${hexOf(digest)}`;

/**
 * docker save: the images named by `names` as a tar in the layout Docker Engine 25 writes
 * (an OCI image layout — oci-layout, index.json, blobs/sha256 — plus manifest.json, which every
 * Docker Engine's `docker load` reads). Layers are uncompressed tars named by their diff id.
 * Everything that can fail is prepared before the returned stream starts.
 */
export async function saveImages(store: SaveStore, names: string[]): Promise<Readable> {
  const selected = selectImages(store, names);
  const unpin = store.pinBlobs(selected.flatMap((s) => [s.rec.id, ...s.rec.layers]));
  const layers = new Map<string, LayerFile>();
  const blobs: { name: string; data: Buffer }[] = [];
  const manifestJson: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const index: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[] =
    [];
  const cleanup = async () => {
    unpin();
    await Promise.all([...layers.values()].filter((l) => l.temp).map((l) => fsp.rm(l.file, { force: true })));
  };
  try {
    for (const { rec, tags } of selected) {
      for (let i = 0; i < rec.diffIds.length; i++) {
        const d = rec.diffIds[i];
        if (!layers.has(d)) layers.set(d, await uncompressedLayer(store, rec.layers[i], d));
      }
      const config = await fsp.readFile(store.blobPath(rec.id));
      blobs.push({ name: blobName(rec.id), data: config });
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MEDIA_TYPES.ociManifest,
          config: { mediaType: MEDIA_TYPES.ociConfig, digest: rec.id, size: config.length },
          layers: rec.diffIds.map((d) => ({
            mediaType: MEDIA_TYPES.ociLayer,
            digest: d,
            size: (layers.get(d) as LayerFile).size,
          })),
        }),
      );
      const manifestDigest = sha256(manifest);
      blobs.push({ name: blobName(manifestDigest), data: manifest });
      const desc = { mediaType: MEDIA_TYPES.ociManifest, digest: manifestDigest, size: manifest.length };
      if (tags.length === 0) index.push(desc);
      for (const t of tags) {
        const p = parseNamed(t);
        index.push({
          ...desc,
          annotations: {
            "io.containerd.image.name": `${fullName(p)}:${p.tag}`,
            "org.opencontainers.image.ref.name": p.tag as string,
          },
        });
      }
      manifestJson.push({
        Config: blobName(rec.id),
        RepoTags: tags.length ? tags : null,
        Layers: rec.diffIds.map(blobName),
      });
    }
  } catch (err) {
    await cleanup();
    throw err;
  }

  const pack = tar.pack();
  const out = new PassThrough();
  pack.pipe(out);
  let finished = false;
  // a client that goes away stops the writer (and so frees the temp files)
  out.on("close", () => {
    if (!finished) pack.destroy(new Error("client closed the connection"));
  });
  void (async () => {
    await addBuffer(pack, "oci-layout", JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    const written = new Set<string>();
    for (const l of layers.values()) {
      await addFile(pack, blobName(l.diffId), l.file, l.size);
      written.add(blobName(l.diffId));
    }
    for (const b of blobs) {
      if (written.has(b.name)) continue;
      written.add(b.name);
      await addBuffer(pack, b.name, b.data);
    }
    await addBuffer(
      pack,
      "index.json",
      JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: index }),
    );
    await addBuffer(pack, "manifest.json", JSON.stringify(manifestJson));
    pack.finalize();
    finished = true;
  })()
    .catch((err: unknown) => {
      log.warn({ err: String(err) }, "image save failed");
      out.destroy(err instanceof Error ? err : new Error(String(err)));
      pack.destroy();
    })
    .finally(() => void cleanup());
  return out;
}
