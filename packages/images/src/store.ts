import { randomBytes } from "node:crypto";
import { readFileSync, promises as fsp } from "node:fs";
import * as path from "node:path";
import { badRequest, conflict, log, noSuchImage } from "@sockerless/api";
import type {
  ImageDeleteResponseItem,
  ImageHistoryItem,
  ImageInspect,
  ImageInspectConfig,
  ImagePruneFilters,
  ImagePruneReport,
  ImageSummary,
} from "./docker-types.js";
import { chainIds, hexOf, isSha256Digest, sha256, shortId } from "./digest.js";
import { matchLabels, parseTimestamp } from "./filters.js";
import { errnoCode, exists, removeTree, writeFileAtomic } from "./fsutil.js";
import { pullImage, type PullOptions, type PullStore } from "./pull.js";
import { nameOfStoredRef, parseNamed, qualifiedStoredRef, storeKey, validateTag } from "./reference.js";
import { unpackLayer } from "./unpack.js";
import {
  buildManifest,
  createImage,
  layerDescriptors,
  type CreateImageInput,
  type CreateStore,
} from "./create.js";
import type { ImageRecord, ParsedReference, RegistryOptions } from "./types.js";

const INDEX_FILE = "images.json";
const INDEX_VERSION = 1;
const ZERO_TIME = "0001-01-01T00:00:00Z";

interface IndexFile {
  version: number;
  images: ImageRecord[];
}

const unixSeconds = (rfc3339: string): number => {
  const t = Date.parse(rfc3339);
  return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
};

const byQualifiedName = (a: string, b: string) => {
  const qa = qualifiedStoredRef(a);
  const qb = qualifiedStoredRef(b);
  return qa < qb ? -1 : qa > qb ? 1 : 0;
};

/**
 * A content-addressed image store on disk:
 *   root/images.json              the index (records, tags, digests), written atomically
 *   root/blobs/sha256/<hex>       configs, manifests and (compressed) layer blobs
 *   root/rootfs/<hex>             the unpacked filesystem of an image (read-only by convention)
 *   root/tmp/                     downloads and unpacks in progress (wiped on init)
 */
export class ImageStore implements PullStore, CreateStore {
  private readonly images = new Map<string, ImageRecord>();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly unpacking = new Map<string, Promise<string>>();
  /** Blobs an in-flight pull relies on: never garbage-collected meanwhile. */
  private readonly pinned = new Map<string, number>();
  readonly blobDir: string;
  readonly rootfsDir: string;
  readonly tmpDir: string;

  constructor(
    readonly root: string,
    readonly registry: RegistryOptions,
  ) {
    this.blobDir = path.join(root, "blobs", "sha256");
    this.rootfsDir = path.join(root, "rootfs");
    this.tmpDir = path.join(root, "tmp");
  }

  /** Creates the layout, wipes leftovers of interrupted work and loads the index. */
  async init(): Promise<void> {
    await removeTree(this.tmpDir);
    for (const d of [this.blobDir, this.rootfsDir, this.tmpDir]) await fsp.mkdir(d, { recursive: true });
    const indexPath = path.join(this.root, INDEX_FILE);
    let raw: string | undefined;
    try {
      raw = await fsp.readFile(indexPath, "utf8");
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw err;
    }
    this.images.clear();
    if (raw !== undefined) {
      try {
        const idx = JSON.parse(raw) as IndexFile;
        for (const rec of idx.images ?? []) {
          if (rec && typeof rec.id === "string" && isSha256Digest(rec.id)) this.images.set(rec.id, rec);
        }
      } catch (err) {
        const aside = `${indexPath}.corrupt-${Date.now()}`;
        log.error({ err: String(err), aside }, "image index unreadable, moved aside");
        await fsp.rename(indexPath, aside);
      }
    }
    // rootfs copies without an image (deleted while we were down, or half-renamed) go away
    for (const entry of await fsp.readdir(this.rootfsDir)) {
      if (!this.images.has(`sha256:${entry}`)) await removeTree(path.join(this.rootfsDir, entry));
    }
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async save(): Promise<void> {
    const idx: IndexFile = { version: INDEX_VERSION, images: [...this.images.values()] };
    await writeFileAtomic(path.join(this.root, INDEX_FILE), JSON.stringify(idx, null, 1));
  }

  // ---- lookups -------------------------------------------------------------------------------

  /** All images, newest first (as `docker images` lists them). */
  list(): ImageRecord[] {
    return [...this.images.values()].sort((a, b) => unixSeconds(b.created) - unixSeconds(a.created));
  }

  /** The image with exactly this id ("sha256:<hex>"). */
  get(id: string): ImageRecord | undefined {
    return this.images.get(id);
  }

  private findByRefKey(key: string): ImageRecord | undefined {
    for (const rec of this.images.values()) {
      if (rec.repoTags.includes(key) || rec.repoDigests.includes(key)) return rec;
    }
    return undefined;
  }

  /**
   * dockerd's lookup order: a full id ("sha256:<hex>" or 64 hex), a name (normalised; no tag means
   * :latest) or name@digest, then a unique id prefix ("a1b2", "sha256:a1b2").
   */
  resolve(refOrId: string): ImageRecord | undefined {
    if (!refOrId) return undefined;
    if (isSha256Digest(refOrId)) return this.images.get(refOrId);
    if (/^[a-f0-9]{64}$/.test(refOrId)) return this.images.get(`sha256:${refOrId}`);
    let parsed: ParsedReference | undefined;
    try {
      parsed = parseNamed(refOrId);
    } catch {
      parsed = undefined;
    }
    if (parsed) {
      if (parsed.tag === undefined && parsed.digest === undefined) parsed.tag = "latest";
      const rec = this.findByRefKey(storeKey(parsed).key);
      if (rec) return rec;
    }
    const m = /^(?:sha256:)?([a-f0-9]+)$/.exec(refOrId);
    if (m) {
      const matches = [...this.images.keys()].filter((id) => hexOf(id).startsWith(m[1]));
      if (matches.length === 1) return this.images.get(matches[0]);
    }
    return undefined;
  }

  private mustResolve(refOrId: string): ImageRecord {
    const rec = this.resolve(refOrId);
    if (!rec) throw noSuchImage(refOrId);
    return rec;
  }

  // ---- blobs (also used by pull) ---------------------------------------------------------------

  blobPath(digest: string): string {
    if (!isSha256Digest(digest)) throw badRequest(`invalid digest ${digest}`);
    return path.join(this.blobDir, hexOf(digest));
  }

  async hasBlob(digest: string): Promise<boolean> {
    return exists(this.blobPath(digest));
  }

  /** Stores already verified bytes under their digest. */
  async putBlob(digest: string, data: Buffer): Promise<void> {
    if (await this.hasBlob(digest)) return;
    const tmp = this.tmpPath("put-");
    await fsp.writeFile(tmp, data, { mode: 0o644 });
    await this.commitBlobFile(tmp, digest);
  }

  /** Protects blobs from garbage collection until the returned function is called. */
  pinBlobs(digests: string[]): () => void {
    for (const d of digests) this.pinned.set(d, (this.pinned.get(d) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const d of digests) {
        const n = (this.pinned.get(d) ?? 1) - 1;
        if (n <= 0) this.pinned.delete(d);
        else this.pinned.set(d, n);
      }
    };
  }

  tmpPath(prefix: string): string {
    return path.join(this.tmpDir, `${prefix}${randomBytes(8).toString("hex")}`);
  }

  /** Moves a verified temp file into the blob store (atomic rename; an existing blob is identical). */
  async commitBlobFile(tmpFile: string, digest: string): Promise<void> {
    await fsp.rename(tmpFile, this.blobPath(digest));
  }

  async makeStagingDir(): Promise<string> {
    const dir = await fsp.mkdtemp(path.join(this.tmpDir, "rootfs-"));
    await fsp.chmod(dir, 0o755);
    return dir;
  }

  /** Moves a fully unpacked staging dir to root/rootfs/<hex> (a concurrent winner is kept). */
  async installRootfs(id: string, staging: string): Promise<void> {
    const dest = path.join(this.rootfsDir, hexOf(id));
    try {
      await fsp.rename(staging, dest);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
      await removeTree(staging);
    }
  }

  /** The raw config JSON of an image. */
  configBlob(refOrId: string): Buffer {
    const rec = this.mustResolve(refOrId);
    return readFileSync(this.blobPath(rec.id));
  }

  // ---- pull ------------------------------------------------------------------------------------

  /** Pulls `ref` from its registry (see pull.ts). */
  pull(ref: string, opts: PullOptions = {}): Promise<ImageRecord> {
    return pullImage(this, ref, opts);
  }

  /** Records a pulled image and its tag/digest reference; `updated` is false when nothing changed. */
  commitPull(
    rec: ImageRecord,
    ref: ParsedReference,
    manifestDigest: string,
  ): Promise<{ updated: boolean; record: ImageRecord }> {
    return this.locked(async () => {
      let target = this.images.get(rec.id);
      const isNew = !target;
      if (!target) {
        target = rec;
        this.images.set(rec.id, target);
      }
      const digestKey = `${ref.familiarName}@${manifestDigest}`;
      let updated = isNew;
      if (ref.digest === undefined) {
        const tagKey = storeKey(ref).key;
        if (!target.repoTags.includes(tagKey)) {
          updated = true;
          for (const other of this.images.values()) {
            if (other !== target) other.repoTags = other.repoTags.filter((t) => t !== tagKey);
          }
          target.repoTags.push(tagKey);
        }
      } else if (!target.repoDigests.includes(digestKey)) {
        updated = true;
      }
      if (!target.repoDigests.includes(digestKey)) {
        for (const other of this.images.values()) {
          if (other !== target) other.repoDigests = other.repoDigests.filter((d) => d !== digestKey);
        }
        target.repoDigests.push(digestKey);
      }
      await this.save();
      return { updated, record: target };
    });
  }

  // ---- create (commit, build, import) ---------------------------------------------------------

  /**
   * Records a new image made of new layers (uncompressed tars) on top of an optional parent:
   * gzipped layer blobs, a config blob whose digest is the id, a push-ready manifest blob, and
   * the unpacked rootfs. Untagged; tag it with tag().
   */
  createImage(input: CreateImageInput): Promise<ImageRecord> {
    return createImage(this, input);
  }

  /** Adds a fully stored image to the index (createImage's last step). */
  recordCreated(rec: ImageRecord): Promise<ImageRecord> {
    return this.locked(async () => {
      const existing = this.images.get(rec.id);
      if (existing) return existing;
      this.images.set(rec.id, rec);
      await this.save();
      return rec;
    });
  }

  /**
   * The manifest to push for an image: the one pulled or created with it when stored, else one
   * made from its config and layer blobs. Returns the bytes, digest and media type.
   */
  async manifestFor(refOrId: string): Promise<{ bytes: Buffer; digest: string; mediaType: string }> {
    const rec = this.mustResolve(refOrId);
    let bytes: Buffer | undefined;
    if (rec.manifestDigest && (await this.hasBlob(rec.manifestDigest))) {
      bytes = await fsp.readFile(this.blobPath(rec.manifestDigest));
    } else {
      bytes = buildManifest(this.configBlob(rec.id), await layerDescriptors(this, rec));
    }
    const mediaType = (JSON.parse(bytes.toString("utf8")) as { mediaType?: string }).mediaType ?? "";
    return { bytes, digest: sha256(bytes), mediaType };
  }

  // ---- tag / remove / prune --------------------------------------------------------------------

  /** Validates repo[:tag] as `docker tag` would; returns the parsed reference (tag defaulted). */
  checkTag(repo: string, tag?: string): ParsedReference {
    if (!repo) throw badRequest("invalid reference format: repository name must have at least one component");
    const p = parseNamed(repo);
    if (p.digest !== undefined) throw badRequest("refusing to create a tag with a digest reference");
    if (tag) {
      validateTag(tag);
      p.tag = tag;
    }
    p.tag ??= "latest";
    if (p.familiarName === "sha256") {
      throw badRequest("refusing to create an ambiguous tag using digest algorithm as name");
    }
    return p;
  }

  /** `docker tag`: points repo:tag (default latest) at the image, moving it from another image. */
  async tag(refOrId: string, repo: string, tag?: string): Promise<void> {
    const key = storeKey(this.checkTag(repo, tag)).key;
    await this.locked(async () => {
      const rec = this.mustResolve(refOrId);
      for (const other of this.images.values()) {
        if (other !== rec) other.repoTags = other.repoTags.filter((t) => t !== key);
      }
      if (!rec.repoTags.includes(key)) rec.repoTags.push(key);
      rec.lastTagTime = new Date().toISOString();
      await this.save();
    });
  }

  /**
   * dockerd's image delete (without the container-in-use checks, which the caller does).
   * `keepLayers`: a container still uses the image, so only the image record goes; its layers stay.
   */
  remove(
    refOrId: string,
    opts: { force?: boolean; keepLayers?: boolean } = {},
  ): Promise<ImageDeleteResponseItem[]> {
    return this.locked(async () => {
      const rec = this.mustResolve(refOrId);
      const out: ImageDeleteResponseItem[] = [];
      const isIdPrefix = rec.id.startsWith(refOrId) || hexOf(rec.id).startsWith(refOrId);
      if (!isIdPrefix) {
        const p = parseNamed(refOrId);
        if (p.tag === undefined && p.digest === undefined) p.tag = "latest";
        const { kind, key } = storeKey(p);
        if (kind === "tag") rec.repoTags = rec.repoTags.filter((t) => t !== key);
        else rec.repoDigests = rec.repoDigests.filter((d) => d !== key);
        out.push({ Untagged: key });
        if (kind === "tag" && !rec.repoTags.some((t) => nameOfStoredRef(t) === p.familiarName)) {
          // no tag of this repository left: its digest references go too
          const gone = rec.repoDigests.filter((d) => nameOfStoredRef(d) === p.familiarName);
          rec.repoDigests = rec.repoDigests.filter((d) => nameOfStoredRef(d) !== p.familiarName);
          for (const d of gone) out.push({ Untagged: d });
        }
        if (rec.repoTags.length + rec.repoDigests.length > 0) {
          await this.save();
          return out;
        }
      } else {
        const refs = [...rec.repoTags, ...rec.repoDigests];
        if (!isSingleReference(rec) && refs.length > 0 && !opts.force) {
          throw conflict(
            `conflict: unable to delete ${shortId(rec.id)} (must be forced) - image is referenced in multiple repositories`,
          );
        }
      }
      out.push(...(await this.deleteImage(rec, opts.keepLayers)));
      return out;
    });
  }

  /** Untags everything and deletes the image, its unshared blobs and its rootfs. Call locked. */
  private async deleteImage(rec: ImageRecord, keepLayers = false): Promise<ImageDeleteResponseItem[]> {
    const out: ImageDeleteResponseItem[] = [];
    for (const r of [...rec.repoTags, ...rec.repoDigests].sort(byQualifiedName)) out.push({ Untagged: r });
    rec.repoTags = [];
    rec.repoDigests = [];
    this.images.delete(rec.id);
    await this.save();
    out.push({ Deleted: rec.id });
    // the container's own layer stack still stands on the image's layers (and its rootfs, for diff)
    if (keepLayers) return out;
    const otherChains = new Set<string>();
    const otherBlobs = new Set<string>();
    for (const o of this.images.values()) {
      for (const c of chainIds(o.diffIds)) otherChains.add(c);
      for (const b of [o.id, ...o.layers, ...(o.manifestDigest ? [o.manifestDigest] : [])]) otherBlobs.add(b);
    }
    const chains = chainIds(rec.diffIds);
    for (let i = chains.length - 1; i >= 0; i--) {
      if (!otherChains.has(chains[i])) out.push({ Deleted: chains[i] });
    }
    for (const b of new Set([rec.id, ...rec.layers, ...(rec.manifestDigest ? [rec.manifestDigest] : [])])) {
      if (!otherBlobs.has(b) && !this.pinned.has(b) && isSha256Digest(b)) {
        await fsp.rm(this.blobPath(b), { force: true });
      }
    }
    await removeTree(path.join(this.rootfsDir, hexOf(rec.id)));
    return out;
  }

  /** dockerd's image prune; `inUse` holds the ids of images used by containers. */
  async prune(filters: ImagePruneFilters, inUse: Set<string>): Promise<ImagePruneReport> {
    const danglingOnly = filters.dangling ?? true;
    const untilValues = filters.until === undefined ? [] : ([] as string[]).concat(filters.until);
    if (untilValues.length > 1) throw badRequest("more than one until filter specified");
    const until = untilValues.length ? parseTimestamp(untilValues[0]) : undefined;
    return this.locked(async () => {
      const deleted: ImageDeleteResponseItem[] = [];
      let reclaimed = 0;
      // like dockerd, a dangling-only prune looks at leaf images: build intermediates under a
      // tagged image stay (they are its history and the build cache)
      const parents = new Set([...this.images.values()].map((r) => r.parent).filter(Boolean));
      for (const rec of [...this.images.values()]) {
        if (inUse.has(rec.id)) continue;
        if (danglingOnly && (rec.repoTags.length > 0 || parents.has(rec.id))) continue;
        if (until !== undefined) {
          const created = Date.parse(rec.created);
          if (Number.isNaN(created) || created > until) continue;
        }
        if (!matchLabels(rec.config.Labels, filters.label, filters["label!"])) continue;
        const sizes = new Map<string, number>();
        chainIds(rec.diffIds).forEach((c, i) => sizes.set(c, rec.layerSizes?.[i] ?? 0));
        const items = await this.deleteImage(rec);
        for (const it of items) if (it.Deleted) reclaimed += sizes.get(it.Deleted) ?? 0;
        deleted.push(...items);
      }
      return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
    });
  }

  // ---- rootfs ----------------------------------------------------------------------------------

  /** The unpacked filesystem of an image (made once, shared by concurrent callers). */
  async rootfsPath(refOrId: string): Promise<string> {
    const rec = this.mustResolve(refOrId);
    const dest = path.join(this.rootfsDir, hexOf(rec.id));
    if (await exists(dest)) return dest;
    // an image that only changed the config (build steps, commits without changes) shares its parent's tree
    const parent = rec.parent ? this.images.get(rec.parent) : undefined;
    if (parent && parent.diffIds.join() === rec.diffIds.join()) return this.rootfsPath(parent.id);
    let p = this.unpacking.get(rec.id);
    if (!p) {
      p = (async () => {
        const staging = await this.makeStagingDir();
        try {
          for (const layer of rec.layers) await unpackLayer(staging, this.blobPath(layer));
          await this.installRootfs(rec.id, staging);
        } catch (err) {
          await removeTree(staging).catch(() => undefined);
          throw err;
        }
        return dest;
      })().finally(() => this.unpacking.delete(rec.id));
      this.unpacking.set(rec.id, p);
    }
    return p;
  }

  // ---- API views -------------------------------------------------------------------------------

  /** GET /images/{name}/history. */
  history(refOrId: string): ImageHistoryItem[] {
    const rec = this.mustResolve(refOrId);
    const out: ImageHistoryItem[] = [];
    let layer = 0;
    for (const h of rec.history) {
      let size = 0;
      if (!h.empty_layer) {
        size = rec.layerSizes?.[layer] ?? 0;
        layer++;
      }
      out.unshift({
        Id: "<missing>",
        Created: h.created ? unixSeconds(h.created) : 0,
        CreatedBy: h.created_by ?? "",
        Tags: null,
        Size: size,
        Comment: h.comment ?? "",
      });
    }
    // like dockerd, each locally known image of the parent chain names its topmost history row
    for (
      let img: ImageRecord | undefined = rec;
      img;
      img = img.parent ? this.images.get(img.parent) : undefined
    ) {
      const row = out[rec.history.length - img.history.length];
      if (!row || img.history.length > rec.history.length) break;
      row.Id = img.id;
      row.Tags = img.repoTags.length ? [...img.repoTags].sort(byQualifiedName) : null;
    }
    return out;
  }

  /** GET /images/{name}/json (API v1.44). */
  inspect(refOrId: string): ImageInspect {
    const rec = this.mustResolve(refOrId);
    const c = rec.config as ImageInspectConfig & Record<string, unknown>;
    const config: ImageInspectConfig = {
      Hostname: "",
      Domainname: "",
      User: c.User ?? "",
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ...(c.ExposedPorts ? { ExposedPorts: c.ExposedPorts } : {}),
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: c.Env ?? null,
      Cmd: c.Cmd ?? null,
      ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
      ...(c.ArgsEscaped ? { ArgsEscaped: true } : {}),
      Image: "",
      Volumes: c.Volumes ?? null,
      WorkingDir: c.WorkingDir ?? "",
      Entrypoint: c.Entrypoint ?? null,
      OnBuild: c.OnBuild ?? null,
      Labels: c.Labels ?? null,
      ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
      ...(c.Shell ? { Shell: c.Shell } : {}),
    };
    const out: ImageInspect = {
      Id: rec.id,
      RepoTags: [...rec.repoTags],
      RepoDigests: [...rec.repoDigests],
      Parent: rec.parent ?? "",
      Comment: rec.comment ?? "",
      Created: rec.created,
      Container: "",
      // API < 1.45 still has it; compose v1 reads ContainerConfig.Volumes on recreate. Pulled images
      // carry no container_config, for which dockerd shows this empty config.
      ContainerConfig: emptyContainerConfig(),
      DockerVersion: "",
      Author: rec.author ?? "",
      Config: config,
      Architecture: rec.architecture,
      Os: rec.os,
      Size: rec.size,
      GraphDriver: { Name: "sockerless", Data: null },
      RootFS: { Type: "layers", Layers: [...rec.diffIds] },
      Metadata: { LastTagTime: rec.lastTagTime ?? ZERO_TIME },
    };
    if (rec.variant) {
      // keep dockerd's field order: Variant after Architecture
      const { Os, Size, GraphDriver, RootFS, Metadata, ...head } = out;
      return { ...head, Variant: rec.variant, Os, Size, GraphDriver, RootFS, Metadata };
    }
    return out;
  }

  /** One item of GET /images/json (API v1.44). */
  summary(rec: ImageRecord): ImageSummary {
    return {
      Containers: -1,
      Created: unixSeconds(rec.created),
      Id: rec.id,
      Labels: rec.config.Labels ?? null,
      ParentId: rec.parent ?? "",
      RepoDigests: [...rec.repoDigests],
      RepoTags: [...rec.repoTags],
      SharedSize: -1,
      Size: rec.size,
    };
  }
}

function emptyContainerConfig(): ImageInspectConfig {
  return {
    Hostname: "",
    Domainname: "",
    User: "",
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: null,
    Cmd: null,
    Image: "",
    Volumes: null,
    WorkingDir: "",
    Entrypoint: null,
    OnBuild: null,
    Labels: null,
  };
}

/** dockerd's isSingleReference: at most one tag, and all references in one repository. */
function isSingleReference(rec: ImageRecord): boolean {
  const refs = [...rec.repoTags, ...rec.repoDigests];
  if (refs.length <= 1) return refs.length === 1;
  if (rec.repoTags.length > 1) return false;
  const digestNames = new Set(rec.repoDigests.map(nameOfStoredRef));
  const single = rec.repoTags[0] ?? rec.repoDigests[0];
  return digestNames.size === 1 && digestNames.has(nameOfStoredRef(single));
}
