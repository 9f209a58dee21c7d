import { createReadStream, createWriteStream, promises as fsp } from "node:fs";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import { badRequest, noSuchImage } from "@sockerless/api";
import type { BlobStore } from "./record.js";
import { copyTree } from "./copy-tree.js";
import type { Descriptor, ImageConfigBlob, ImageManifest } from "./docker-types.js";
import { HashingStream, sha256 } from "./digest.js";
import { removeTree } from "./fsutil.js";
import { MEDIA_TYPES } from "./manifest.js";
import { hostPlatform } from "./platform.js";
import { unpackLayer } from "./unpack.js";
import type { HistoryEntry, ImageConfig, ImageRecord } from "./types.js";

/** A new image made of new layers on top of an optional parent image (commit, build, import). */
export interface CreateImageInput {
  /** Id of the image the new layers go on top of; none for a base image (FROM scratch, import). */
  parent?: string;
  /** Uncompressed tar files in the Docker layer format (whiteouts included), bottom first. */
  layers: { tarPath: string }[];
  config: ImageConfig;
  /** One entry per new layer plus `empty_layer` entries; defaults to one plain entry per layer. */
  history?: HistoryEntry[];
  author?: string;
  comment?: string;
  /** RFC3339; defaults to now. */
  created?: string;
  /** Default the parent's, else the host's. */
  os?: string;
  architecture?: string;
  variant?: string;
}

/** What createImage needs from the store. */
export interface CreateStore extends BlobStore {
  rootfsPath(refOrId: string): Promise<string>;
  recordCreated(rec: ImageRecord): Promise<ImageRecord>;
}

interface StoredLayer {
  digest: string; // of the gzip blob
  diffId: string; // of the uncompressed tar
  compressedSize: number;
}

/** Gzips one uncompressed layer tar into the blob store; returns its digests. */
async function storeLayer(store: CreateStore, tarPath: string): Promise<StoredLayer> {
  const tmp = store.tmpPath("layer-");
  const tarHash = new HashingStream();
  const gzHash = new HashingStream();
  try {
    await pipeline(
      createReadStream(tarPath),
      tarHash,
      zlib.createGzip({ level: zlib.constants.Z_BEST_SPEED }),
      gzHash,
      createWriteStream(tmp, { mode: 0o644 }),
    );
    const digest = gzHash.digest();
    if (await store.hasBlob(digest)) await fsp.rm(tmp, { force: true });
    else await store.commitBlobFile(tmp, digest);
    return { digest, diffId: tarHash.digest(), compressedSize: gzHash.bytes };
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/** Docker layer media type for a stored blob, by its magic bytes. */
async function layerMediaType(file: string): Promise<string> {
  const fh = await fsp.open(file, "r");
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    if (bytesRead >= 2 && b[0] === 0x1f && b[1] === 0x8b) return MEDIA_TYPES.dockerLayerGzip;
    if (bytesRead === 4 && b.readUInt32BE(0) === 0x28b52ffd) return MEDIA_TYPES.ociLayerZstd;
    return "application/vnd.docker.image.rootfs.diff.tar";
  } finally {
    await fh.close();
  }
}

/** The layer descriptors of an image as a registry needs them (media type, size, digest). */
export async function layerDescriptors(store: CreateStore, rec: ImageRecord): Promise<Descriptor[]> {
  if (rec.manifestDigest && (await store.hasBlob(rec.manifestDigest))) {
    const m = JSON.parse(await fsp.readFile(store.blobPath(rec.manifestDigest), "utf8")) as ImageManifest;
    if (Array.isArray(m.layers) && m.layers.length === rec.layers.length) return m.layers;
  }
  return Promise.all(
    rec.layers.map(async (digest) => {
      const file = store.blobPath(digest);
      const st = await fsp.stat(file);
      return { mediaType: await layerMediaType(file), digest, size: st.size };
    }),
  );
}

/**
 * The manifest for pushing an image: Docker schema 2 (what dockerd pushes), or OCI when a layer
 * is zstd-compressed (which schema 2 cannot describe).
 */
export function buildManifest(configBytes: Buffer, layers: Descriptor[]): Buffer {
  const oci = layers.some((l) => l.mediaType === MEDIA_TYPES.ociLayerZstd);
  const toOci: Record<string, string> = {
    [MEDIA_TYPES.dockerLayerGzip]: MEDIA_TYPES.ociLayerGzip,
    "application/vnd.docker.image.rootfs.diff.tar": MEDIA_TYPES.ociLayer,
  };
  const toDocker: Record<string, string> = {
    [MEDIA_TYPES.ociLayerGzip]: MEDIA_TYPES.dockerLayerGzip,
    [MEDIA_TYPES.ociLayer]: "application/vnd.docker.image.rootfs.diff.tar",
  };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: oci ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest,
    config: {
      mediaType: oci ? MEDIA_TYPES.ociConfig : MEDIA_TYPES.dockerConfig,
      size: configBytes.length,
      digest: sha256(configBytes),
    },
    layers: layers.map((l) => ({
      mediaType: (oci ? toOci : toDocker)[l.mediaType] ?? l.mediaType,
      size: l.size,
      digest: l.digest,
      ...(l.urls ? { urls: l.urls } : {}),
    })),
  };
  return Buffer.from(JSON.stringify(manifest, null, 3));
}

/** Drops keys with empty values so the config JSON looks like dockerd's (omitempty). */
function compactConfig(c: ImageConfig): ImageConfig {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) {
    if (v === undefined) continue;
    out[k] = v;
  }
  return out as ImageConfig;
}

/** See ImageStore.createImage. */
export async function createImage(store: CreateStore, input: CreateImageInput): Promise<ImageRecord> {
  const parent = input.parent ? store.get(input.parent) : undefined;
  if (input.parent && !parent) throw noSuchImage(input.parent);
  const created = input.created ?? new Date().toISOString();
  const history: HistoryEntry[] =
    input.history ?? input.layers.map(() => ({ created, created_by: "" }) as HistoryEntry);
  const nonEmpty = history.filter((h) => !h.empty_layer).length;
  if (nonEmpty !== input.layers.length) {
    throw badRequest(`image history has ${nonEmpty} layer entries for ${input.layers.length} layers`);
  }
  const host = hostPlatform();
  const osName = input.os ?? parent?.os ?? "linux";
  const architecture = input.architecture ?? parent?.architecture ?? host.architecture;
  const variant = input.variant ?? (input.architecture ? undefined : parent?.variant);

  const stored: StoredLayer[] = [];
  for (const l of input.layers) stored.push(await storeLayer(store, l.tarPath));
  const unpin = store.pinBlobs(stored.map((s) => s.digest));
  try {
    const diffIds = [...(parent?.diffIds ?? []), ...stored.map((s) => s.diffId)];
    const blob: ImageConfigBlob = {
      architecture,
      ...(input.author ? { author: input.author } : {}),
      ...(input.comment ? { comment: input.comment } : {}),
      config: compactConfig(input.config),
      created,
      history: [...(parent?.history ?? []), ...history],
      os: osName,
      rootfs: { type: "layers", diff_ids: diffIds },
      ...(variant ? { variant } : {}),
    };
    const configBytes = Buffer.from(JSON.stringify(blob));
    const id = sha256(configBytes);
    const parentLayers = parent ? await layerDescriptors(store, parent) : [];
    const manifestBytes = buildManifest(configBytes, [
      ...parentLayers,
      ...stored.map((s) => ({
        mediaType: MEDIA_TYPES.dockerLayerGzip,
        digest: s.digest,
        size: s.compressedSize,
      })),
    ]);
    const manifestDigest = sha256(manifestBytes);

    const existing = store.get(id);
    if (existing) return existing; // same content, same second: dockerd dedupes by id too

    // the filesystem: the parent's unpacked tree plus the new layers (none new: the parent's is used)
    const staging = stored.length === 0 && parent ? undefined : await store.makeStagingDir();
    const sizes: number[] = [];
    if (staging) {
      try {
        if (parent) {
          const base = await store.rootfsPath(parent.id);
          await fsp.rmdir(staging);
          copyTree(base, staging);
        }
        for (const s of stored) sizes.push((await unpackLayer(staging, store.blobPath(s.digest))).size);
      } catch (err) {
        await removeTree(staging).catch(() => undefined);
        throw err;
      }
    }
    await store.putBlob(id, configBytes);
    await store.putBlob(manifestDigest, manifestBytes);
    if (staging) await store.installRootfs(id, staging);
    const layerSizes = [...(parent?.layerSizes ?? parent?.layers.map(() => 0) ?? []), ...sizes];
    const rec: ImageRecord = {
      id,
      repoTags: [],
      repoDigests: [],
      created,
      architecture,
      os: osName,
      ...(variant ? { variant } : {}),
      ...(input.author ? { author: input.author } : {}),
      ...(input.comment ? { comment: input.comment } : {}),
      config: blob.config ?? {},
      diffIds,
      layers: [...(parent?.layers ?? []), ...stored.map((s) => s.digest)],
      size: layerSizes.reduce((a, b) => a + b, 0),
      history: blob.history ?? [],
      ...(parent ? { parent: parent.id } : {}),
      layerSizes,
      manifestDigest,
    };
    return await store.recordCreated(rec);
  } finally {
    unpin();
  }
}
