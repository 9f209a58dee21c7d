import { createHash, randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { log } from "@sockerless/api";
import type { ImageStore } from "@sockerless/images";

/** One cached build step: the image a step produced from a parent image and its inputs. */
interface CacheRecord {
  key: string;
  imageId: string;
  parent?: string;
  description: string;
  createdAt: string;
  lastUsedAt?: string;
  usageCount: number;
}

/** BuildCache item of GET /system/df (API v1.44). */
export interface BuildCacheItem {
  ID: string;
  Parent: string;
  Parents: string[] | null;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

/**
 * The layer cache: (parent image, instruction as recorded in history, config, content hash of
 * COPY sources) -> the image that step made. Entries whose image is gone are ignored and dropped.
 */
export class BuildCache {
  private records = new Map<string, CacheRecord>();
  private readonly file: string;

  constructor(
    root: string,
    private readonly images: ImageStore,
  ) {
    this.file = path.join(root, "cache.json");
  }

  async load(): Promise<void> {
    try {
      const list = JSON.parse(await fsp.readFile(this.file, "utf8")) as CacheRecord[];
      this.records = new Map(list.filter((r) => r && typeof r.key === "string").map((r) => [r.key, r]));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT")
        log.warn({ err: String(e) }, "build cache unreadable, starting empty");
      this.records.clear();
    }
  }

  private async save(): Promise<void> {
    await fsp.mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${randomBytes(4).toString("hex")}`;
    await fsp.writeFile(tmp, JSON.stringify([...this.records.values()]));
    await fsp.rename(tmp, this.file);
  }

  key(parent: string | undefined, createdBy: string, config: object): string {
    return createHash("sha256")
      .update(JSON.stringify([parent ?? "", createdBy, config]))
      .digest("hex");
  }

  /** The cached image for a step, if it still exists. */
  lookup(key: string): string | undefined {
    const r = this.records.get(key);
    if (!r) return undefined;
    if (!this.images.get(r.imageId)) {
      this.records.delete(key);
      return undefined;
    }
    r.lastUsedAt = new Date().toISOString();
    r.usageCount++;
    void this.save().catch(() => undefined);
    return r.imageId;
  }

  async record(key: string, imageId: string, parent: string | undefined, description: string): Promise<void> {
    this.records.set(key, {
      key,
      imageId,
      ...(parent ? { parent } : {}),
      description,
      createdAt: new Date().toISOString(),
      usageCount: 0,
    });
    await this.save();
  }

  /** Size a step added: its image's last layer when it added one. */
  private stepSize(r: CacheRecord): number {
    const img = this.images.get(r.imageId);
    const parent = r.parent ? this.images.get(r.parent) : undefined;
    if (!img || img.layers.length === (parent?.layers.length ?? 0)) return 0;
    return img.layerSizes?.[img.layerSizes.length - 1] ?? 0;
  }

  entries(): BuildCacheItem[] {
    const out: BuildCacheItem[] = [];
    for (const r of this.records.values()) {
      const img = this.images.get(r.imageId);
      if (!img) continue;
      out.push({
        ID: r.key.slice(0, 25),
        Parent: "",
        Parents: r.parent ? [r.parent] : null,
        Type: "regular",
        Description: r.description,
        InUse: false,
        Shared: img.repoTags.length > 0,
        Size: this.stepSize(r),
        CreatedAt: r.createdAt,
        LastUsedAt: r.lastUsedAt ?? null,
        UsageCount: r.usageCount,
      });
    }
    return out;
  }

  /**
   * Forgets every cached step and deletes the intermediate images that are untagged, unused by
   * containers and not the parent of another image (leaves first, so chains go entirely).
   * SpaceReclaimed counts the layers of the images deleted.
   */
  async prune(
    _all: boolean,
    inUse: Set<string>,
  ): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    const candidates = new Map([...this.records.values()].map((r) => [r.imageId, r]));
    for (let progress = true; progress;) {
      progress = false;
      for (const [id, r] of candidates) {
        const img = this.images.get(id);
        if (!img) {
          candidates.delete(id);
          continue;
        }
        const hasChild = this.images.list().some((o) => o.parent === id);
        if (img.repoTags.length || inUse.has(id) || hasChild) continue;
        reclaimed += this.stepSize(r);
        await this.images.remove(id, { force: true });
        candidates.delete(id);
        progress = true;
      }
    }
    // every cached step is forgotten; images still needed (tagged, in use, parents) stay as images
    for (const r of this.records.values()) deleted.push(r.key.slice(0, 25));
    this.records.clear();
    await this.save();
    return { CachesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  }
}
