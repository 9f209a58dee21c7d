import { promises as fs } from "node:fs";
import path from "node:path";
import { conflict, noSuchVolume, badRequest } from "@sockerless/api";
import type { EventBus } from "./events.js";
import type { VolumeHooks } from "./types.js";
import { checkFilterKeys, type Filters, matchLabels, newId, nowIso, readJson, writeAtomic } from "./util.js";

export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: "local";
  /** Created for an anonymous mount; removed with `rm -v`. */
  Anonymous?: boolean;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Named volumes: real directories under <data-root>/volumes/<name>/_data. */
const ANONYMOUS_LABEL = "com.docker.volume.anonymous";

export class VolumeStore {
  private volumes = new Map<string, Volume>();
  private readonly indexFile: string;

  constructor(
    private readonly root: string,
    private readonly events: EventBus,
    /** ids of containers that mount the volume, from the container store */
    private readonly usedBy: (name: string) => string[],
    /** the platform's own volumes, when the backend mirrors them */
    private readonly hooks?: VolumeHooks,
  ) {
    this.indexFile = path.join(root, "volumes.json");
  }

  async init(): Promise<void> {
    const saved = await readJson<Volume[]>(this.indexFile);
    for (const v of saved ?? []) this.volumes.set(v.Name, v);
  }

  private save(): Promise<void> {
    return writeAtomic(this.indexFile, JSON.stringify([...this.volumes.values()]));
  }

  get(name: string): Volume {
    const v = this.volumes.get(name);
    if (!v) throw noSuchVolume(name);
    return v;
  }

  has(name: string): boolean {
    return this.volumes.has(name);
  }

  async create(opts: {
    Name?: string;
    Driver?: string;
    Labels?: Record<string, string> | null;
    DriverOpts?: Record<string, string> | null;
    anonymous?: boolean;
  }): Promise<Volume> {
    const name = opts.Name || newId();
    // dockerd labels a volume created without a name as anonymous, so that prune takes it
    const labels =
      opts.Name || opts.anonymous ? (opts.Labels ?? {}) : { ...opts.Labels, [ANONYMOUS_LABEL]: "" };
    if (!NAME_RE.test(name)) {
      throw badRequest(
        `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    }
    const driver = opts.Driver || "local";
    if (driver !== "local")
      throw badRequest(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const existing = this.volumes.get(name);
    if (existing) {
      // idempotent, and dockerd announces the lookup again (a container's mount of it too)
      this.events.emit("volume", "create", name, { driver: "local" });
      return existing;
    }
    const dir = path.join(this.root, "volumes", name, "_data");
    if (!this.hooks) await fs.mkdir(dir, { recursive: true });
    const v: Volume = {
      Name: name,
      Driver: "local",
      Mountpoint: dir,
      CreatedAt: nowIso(),
      Labels: labels,
      Options: opts.DriverOpts ?? {},
      Scope: "local",
      ...(opts.anonymous ? { Anonymous: true } : {}),
    };
    if (this.hooks) v.Mountpoint = (await this.hooks.create(v)).mountpoint;
    this.volumes.set(name, v);
    await this.save();
    this.events.emit("volume", "create", name, { driver: "local" });
    return v;
  }

  list(filters: Filters): Volume[] {
    checkFilterKeys(filters, ["name", "driver", "label", "dangling"]);
    return [...this.volumes.values()].filter((v) => {
      const names = filters.get("name");
      if (names && !names.some((n) => v.Name.includes(n))) return false;
      const drivers = filters.get("driver");
      if (drivers && !drivers.includes(v.Driver)) return false;
      if (!matchLabels(v.Labels, filters.get("label"))) return false;
      const dangling = filters.get("dangling");
      if (dangling) {
        const want = dangling.includes("true") || dangling.includes("1");
        if (want !== (this.usedBy(v.Name).length === 0)) return false;
      }
      return true;
    });
  }

  async remove(name: string, force = false): Promise<void> {
    const v = this.volumes.get(name);
    if (!v) {
      if (force) return;
      throw noSuchVolume(name);
    }
    const users = this.usedBy(name);
    if (users.length) throw conflict(`remove ${name}: volume is in use - [${users.join(", ")}]`);
    await this.hooks?.remove(v);
    this.volumes.delete(name);
    await this.save();
    await fs.rm(path.join(this.root, "volumes", name), { recursive: true, force: true });
    this.events.emit("volume", "destroy", name, { driver: "local" });
  }

  async prune(filters: Filters): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    checkFilterKeys(filters, ["label", "label!", "all"]);
    const all = (filters.get("all") ?? []).some((x) => x === "true" || x === "1");
    const deleted: string[] = [];
    let space = 0;
    for (const v of [...this.volumes.values()]) {
      if (this.usedBy(v.Name).length) continue;
      // dockerd (API >= 1.42) prunes only anonymous volumes unless all=true
      if (!all && !v.Anonymous && !(ANONYMOUS_LABEL in v.Labels)) continue;
      if (!matchLabels(v.Labels, filters.get("label"))) continue;
      const not = filters.get("label!");
      if (not && not.some((l) => matchLabels(v.Labels, [l]))) continue;
      space += await dirSize(v.Mountpoint);
      await this.remove(v.Name);
      deleted.push(v.Name);
    }
    return { VolumesDeleted: deleted, SpaceReclaimed: space };
  }

  all(): Volume[] {
    return [...this.volumes.values()];
  }
}

export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await dirSize(p);
    else if (e.isFile()) total += (await fs.lstat(p)).size;
  }
  return total;
}
