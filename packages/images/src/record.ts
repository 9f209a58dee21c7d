import type { ImageConfigBlob } from "./docker-types.js";
import type { ImageRecord } from "./types.js";

/** The store surface every image-writing module (pull, load, create) needs. */
export interface BlobStore {
  get(id: string): ImageRecord | undefined;
  blobPath(digest: string): string;
  hasBlob(digest: string): Promise<boolean>;
  putBlob(digest: string, data: Buffer): Promise<void>;
  tmpPath(prefix: string): string;
  commitBlobFile(tmpFile: string, digest: string): Promise<void>;
  pinBlobs(digests: string[]): () => void;
  makeStagingDir(): Promise<string>;
  installRootfs(id: string, staging: string): Promise<void>;
}

/** A new, untagged image record for the config blob `config` whose id is `id`. */
export function recordFromConfig(id: string, config: ImageConfigBlob, layers: string[]): ImageRecord {
  const rec: ImageRecord = {
    id,
    repoTags: [],
    repoDigests: [],
    created: config.created ?? "",
    architecture: config.architecture ?? "",
    os: config.os ?? "",
    config: config.config ?? {},
    diffIds: config.rootfs?.diff_ids ?? [],
    layers,
    size: 0,
    history: config.history ?? [],
  };
  if (config.variant) rec.variant = config.variant;
  if (config.author) rec.author = config.author;
  if (config.comment) rec.comment = config.comment;
  return rec;
}
