import { randomBytes } from "node:crypto";
import type { Simulator } from "../sim.js";
import type { Persistent } from "../store.js";
import { BlobStore } from "./ecr-blobs.js";
import { digestInvalid, RegistryError } from "./ecr-errors.js";
import { DIGEST_RE, parseManifest, sha256, TAG_RE } from "./ecr-manifest.js";

export interface Tag {
  Key: string;
  Value: string;
}

export interface ImageRecord {
  digest: string;
  mediaType: string;
  artifactMediaType?: string;
  imageSizeInBytes: number;
  /** epoch ms */
  pushedAt: number;
  lastPulledAt?: number;
  /** manifests an index references (they cannot be deleted while it exists) */
  children: string[];
}

export interface RepositoryRecord {
  name: string;
  /** epoch ms */
  createdAt: number;
  tags: Tag[];
  imageTagMutability: "MUTABLE" | "IMMUTABLE";
  scanOnPush: boolean;
  encryption: { encryptionType: string; kmsKey?: string };
  images: Record<string, ImageRecord>;
  tagIndex: Record<string, string>;
  /** layers and configs uploaded to (or mounted into) this repository, with their sizes */
  blobs: Record<string, number>;
}

interface EcrState {
  /** HMAC key for registry passwords */
  secret: string;
  repositories: Record<string, RepositoryRecord>;
}

/** A record's own entry ("constructor" is a valid tag, not Object.prototype's). */
export function own<T>(rec: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

/** Repositories, their images and tags (persisted state) over a content-addressed blob store. */
export class EcrStore {
  readonly state: Persistent<EcrState>;
  readonly blobs: BlobStore;

  constructor(sim: Simulator, blobRoot: string) {
    this.state = sim.state<EcrState>("ecr", { secret: randomBytes(32).toString("hex"), repositories: {} });
    this.blobs = new BlobStore(blobRoot);
  }

  repo(name: string): RepositoryRecord | undefined {
    return own(this.state.data.repositories, name);
  }

  list(): RepositoryRecord[] {
    return Object.values(this.state.data.repositories).sort((a, b) => a.name.localeCompare(b.name));
  }

  add(r: RepositoryRecord): void {
    this.state.data.repositories[r.name] = r;
    this.state.changed();
  }

  changed(): void {
    this.state.changed();
  }

  /** An image by tag or digest. */
  resolve(r: RepositoryRecord, reference: string): ImageRecord | undefined {
    const digest = DIGEST_RE.test(reference) ? reference : own(r.tagIndex, reference);
    return digest ? own(r.images, digest) : undefined;
  }

  tagsOf(r: RepositoryRecord, digest: string): string[] {
    return Object.keys(r.tagIndex)
      .filter((t) => r.tagIndex[t] === digest)
      .sort();
  }

  linkBlob(r: RepositoryRecord, digest: string, size: number): void {
    r.blobs[digest] = size;
    this.state.changed();
  }

  /**
   * Store a manifest under a tag or its digest, after the checks a registry makes: the digest
   * matches, every blob (or child manifest) it references is in the repository, and an
   * immutable tag is not moved.
   */
  async putManifest(
    r: RepositoryRecord,
    reference: string,
    body: Buffer,
    contentType?: string,
  ): Promise<ImageRecord> {
    const digest = sha256(body);
    const byDigest = DIGEST_RE.test(reference);
    if (byDigest && reference !== digest) throw digestInvalid(`manifest digest ${digest} != ${reference}`);
    if (!byDigest && (!TAG_RE.test(reference) || reference === "__proto__"))
      throw new RegistryError("TAG_INVALID", `invalid tag ${reference}`, 400);
    const m = parseManifest(body, contentType);
    for (const b of m.blobs) {
      if (own(r.blobs, b.digest) === undefined || this.blobs.size(b.digest) === undefined)
        throw new RegistryError("MANIFEST_BLOB_UNKNOWN", `blob ${b.digest} unknown to repository`, 400, {
          digest: b.digest,
        });
    }
    for (const c of m.children) {
      if (!own(r.images, c.digest))
        throw new RegistryError("MANIFEST_BLOB_UNKNOWN", `manifest ${c.digest} unknown to repository`, 400, {
          digest: c.digest,
        });
    }
    const current = byDigest ? undefined : own(r.tagIndex, reference);
    if (current && current !== digest && r.imageTagMutability === "IMMUTABLE")
      throw new RegistryError(
        "TAG_INVALID",
        `The image tag '${reference}' already exists in the '${r.name}' repository and cannot be overwritten because the repository is immutable.`,
        400,
      );
    await this.blobs.write(digest, body);
    const image = own(r.images, digest) ?? {
      digest,
      mediaType: m.mediaType,
      artifactMediaType: m.artifactMediaType,
      imageSizeInBytes: m.isIndex
        ? Math.max(0, ...m.children.map((c) => own(r.images, c.digest)?.imageSizeInBytes ?? 0))
        : m.layersSize,
      pushedAt: Date.now(),
      children: m.children.map((c) => c.digest),
    };
    r.images[digest] = image;
    if (!byDigest) r.tagIndex[reference] = digest;
    this.state.changed();
    return image;
  }

  /** Why an image cannot be deleted, if it cannot. */
  referencedBy(r: RepositoryRecord, digest: string): string | undefined {
    return Object.values(r.images).find((i) => i.children.includes(digest))?.digest;
  }

  /** Delete an image and all its tags; returns the tags it had. */
  async deleteImage(r: RepositoryRecord, digest: string): Promise<string[]> {
    const tags = this.tagsOf(r, digest);
    for (const t of tags) delete r.tagIndex[t];
    delete r.images[digest];
    this.state.changed();
    if (!this.list().some((o) => own(o.images, digest))) await this.blobs.remove(digest);
    return tags;
  }

  /** Remove a tag; ECR deletes an image when its last tag goes. Returns the image's digest. */
  async untag(r: RepositoryRecord, tag: string): Promise<string | undefined> {
    const digest = own(r.tagIndex, tag);
    if (!digest) return undefined;
    delete r.tagIndex[tag];
    this.state.changed();
    if (this.tagsOf(r, digest).length === 0 && !this.referencedBy(r, digest))
      await this.deleteImage(r, digest);
    return digest;
  }

  /** Delete a repository with its images, then the blobs no other repository uses. */
  async deleteRepository(name: string): Promise<void> {
    delete this.state.data.repositories[name];
    this.state.changed();
    const live = new Set<string>();
    for (const r of this.list()) {
      for (const d of Object.keys(r.blobs)) live.add(d);
      for (const d of Object.keys(r.images)) live.add(d);
    }
    for (const d of await this.blobs.list()) if (!live.has(d)) await this.blobs.remove(d);
  }
}
