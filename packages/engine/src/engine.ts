import { createWriteStream, promises as fsp } from "node:fs";
import os from "node:os";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { conflict, noSuchImage, notImplemented } from "@sockerless/api";
import {
  ImageStore,
  importImage,
  loadImages,
  login,
  pushImage,
  saveImages,
  type ImageConfig,
  type ImageRecord,
  type Platform,
  type ProgressMessage,
  type RegistryAuth,
  type RegistryOptions,
} from "@sockerless/images";
import { ContainerManager } from "./containers.js";
import { imageConfigOf, mergeCommitConfig } from "./create-config.js";
import { EventBus } from "./events.js";
import { ExecManager } from "./exec.js";
import { startHealthChecks, stopHealthChecks } from "./health.js";
import { NetworkStore } from "./networks.js";
import type { Backend, ContainerConfig } from "./types.js";
import { checkFilterKeys, type Filters, matchLabels, parseTimeArg } from "./util.js";
import { VolumeStore, dirSize } from "./volumes.js";

export const API_VERSION = "1.44";
export const MIN_API_VERSION = "1.24";
export const VERSION = "0.1.0";

export interface EngineOptions {
  dataRoot: string;
  backend: Backend;
  registry: RegistryOptions;
  /** The image store, shared with the backend. */
  images: ImageStore;
}

/** The Docker engine: every Docker object and its semantics; backends only run things. */
export class Engine {
  readonly events = new EventBus();
  readonly images: ImageStore;
  readonly containers: ContainerManager;
  readonly volumes: VolumeStore;
  readonly networks: NetworkStore;
  readonly execs: ExecManager;
  readonly backend: Backend;
  readonly startedAt = new Date();

  constructor(readonly opts: EngineOptions) {
    this.backend = opts.backend;
    this.images = opts.images;
    this.containers = new ContainerManager(opts.dataRoot, opts.backend, this.images, this.events);
    this.volumes = new VolumeStore(
      opts.dataRoot,
      this.events,
      (name) =>
        [...this.containers.records.values()]
          .filter((c) => c.Mounts.some((m) => m.Name === name))
          .map((c) => c.Id),
      opts.backend.volumes,
    );
    this.networks = new NetworkStore(
      opts.dataRoot,
      this.events,
      (netId) => {
        const out = new Map<string, string>();
        for (const c of this.containers.records.values()) {
          for (const ep of Object.values(c.Networks))
            if (ep.NetworkID === netId) out.set(c.Id, ep.IPAddress ?? "");
        }
        return out;
      },
      (netId) =>
        [...this.containers.records.values()].filter(
          (c) => c.State.Running && Object.values(c.Networks).some((ep) => ep.NetworkID === netId),
        ).length,
      opts.backend.networks,
    );
    this.containers.volumes = this.volumes;
    this.containers.networks = this.networks;
    this.execs = new ExecManager(this.containers, opts.backend);
    this.containers.onStarted = (c, rt) =>
      startHealthChecks(c, rt, this.containers, this.execs, (x) => this.containers.persist(x));
    this.containers.onStopped = (c) => stopHealthChecks(this.containers.runtime(c.Id));
  }

  async init(): Promise<void> {
    await this.images.init();
    await this.backend.init();
    await this.volumes.init();
    await this.containers.init();
    await this.networks.init();
    await this.containers.restartAfterBoot();
  }

  version() {
    return {
      Platform: { Name: "Sockerless" },
      Components: [
        {
          Name: "Engine",
          Version: VERSION,
          Details: {
            ApiVersion: API_VERSION,
            MinAPIVersion: MIN_API_VERSION,
            Os: "linux",
            Arch: goArch(),
            KernelVersion: os.release(),
            GoVersion: `node${process.versions.node}`,
            GitCommit: "",
            BuildTime: "",
            Experimental: "false",
            Backend: this.backend.name,
          },
        },
      ],
      Version: VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: "",
      GoVersion: `node${process.versions.node}`,
      Os: "linux",
      Arch: goArch(),
      KernelVersion: os.release(),
      BuildTime: "",
    };
  }

  async info() {
    const all = [...this.containers.records.values()];
    // what the platform reports of itself (a real engine's component commits), asked first
    const platform = (await this.backend.info?.()) ?? {};
    return {
      ID: "sockerless",
      Containers: all.length,
      ContainersRunning: all.filter((c) => c.State.Running && !c.State.Paused).length,
      ContainersPaused: all.filter((c) => c.State.Paused).length,
      ContainersStopped: all.filter((c) => !c.State.Running).length,
      Images: this.images.list().length,
      Driver: "sockerless",
      DriverStatus: [["Backend", this.backend.name]],
      Plugins: {
        Volume: ["local"],
        Network: ["bridge", "host", "null"],
        Authorization: null,
        Log: ["sockerless"],
      },
      MemoryLimit: false,
      SwapLimit: false,
      CpuCfsPeriod: false,
      CpuCfsQuota: false,
      CPUShares: false,
      CPUSet: false,
      PidsLimit: false,
      IPv4Forwarding: false,
      Debug: false,
      NFd: 0,
      OomKillDisable: false,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: "sockerless",
      CgroupDriver: "none",
      CgroupVersion: "2",
      NEventsListener: 0,
      KernelVersion: os.release(),
      OperatingSystem: `Sockerless (${this.backend.name} backend)`,
      OSVersion: "",
      OSType: "linux",
      Architecture: os.machine(),
      IndexServerAddress: "https://index.docker.io/v1/",
      RegistryConfig: {
        InsecureRegistryCIDRs: ["127.0.0.0/8", "::1/128"],
        IndexConfigs: Object.fromEntries(
          this.opts.registry.insecureRegistries.map((r) => [
            r,
            { Name: r, Mirrors: [], Secure: false, Official: false },
          ]),
        ),
        Mirrors: this.opts.registry.mirrors,
      },
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      DockerRootDir: this.opts.dataRoot,
      HttpProxy: "",
      HttpsProxy: "",
      NoProxy: "",
      Name: os.hostname(),
      Labels: [] as string[],
      ExperimentalBuild: false,
      ServerVersion: VERSION,
      Runtimes: { sockerless: { path: this.backend.name } },
      DefaultRuntime: "sockerless",
      Swarm: {
        NodeID: "",
        NodeAddr: "",
        LocalNodeState: "inactive",
        ControlAvailable: false,
        Error: "",
        RemoteManagers: null,
      },
      LiveRestoreEnabled: false,
      Isolation: "",
      InitBinary: "",
      SecurityOptions: [] as string[],
      Warnings: this.opts.registry.insecureRegistries.length ? [] : null,
      ...platform,
    };
  }

  async pull(
    ref: string,
    tag: string | undefined,
    auth: RegistryAuth | undefined,
    platform: string | undefined,
    onProgress: (m: ProgressMessage) => void,
  ) {
    let full = ref;
    if (tag) full = tag.startsWith("sha256:") ? `${ref}@${tag}` : `${ref}:${tag}`;
    if (this.backend.images) {
      await this.backend.images.pull(full, auth, platform, onProgress);
      const pulled = await this.backend.images.resolve(full);
      if (!pulled) throw noSuchImage(full);
      this.events.emit("image", "pull", full, { name: full });
      return pulled;
    }
    let plat;
    if (platform) {
      const [os_, arch, variant] = platform.split("/");
      plat = { os: os_, architecture: arch, ...(variant ? { variant } : {}) };
    }
    const img = await this.images.pull(full, { auth, platform: plat, onProgress });
    this.events.emit("image", "pull", full, { name: full });
    return img;
  }

  /** docker push; an image event "push" like dockerd's. */
  async push(
    name: string,
    tag: string | undefined,
    auth: RegistryAuth | undefined,
    onProgress: (m: ProgressMessage) => void,
  ) {
    this.ownImagesOnly("push");
    await pushImage(this.images, name, tag, { auth, onProgress });
    const full = tag ? `${name}:${tag}` : name;
    this.events.emit("image", "push", full, { name: full });
  }

  /** docker save: a tar stream of the images. */
  async save(names: string[]) {
    this.ownImagesOnly("save");
    const stream = await saveImages(this.images, names);
    for (const n of names) this.events.emit("image", "save", n, { name: n });
    return stream;
  }

  /** docker load: the lines dockerd prints ("Loaded image: x:y"); progress unless quiet. */
  async load(input: Readable, onProgress?: (m: ProgressMessage) => void): Promise<string[]> {
    this.ownImagesOnly("load");
    const lines = await loadImages(this.images, input, { onProgress });
    for (const l of lines) {
      const m = /^Loaded image(?: ID)?: (.+)$/.exec(l);
      const img = m && this.images.resolve(m[1]);
      if (img) this.events.emit("image", "load", img.id, { name: m[1] });
    }
    return lines;
  }

  /** docker import: `src` is "-" (the body) or a URL; tagged repo:tag when repo is given. */
  async importImage(
    src: string,
    body: Readable,
    opts: {
      config: ImageConfig;
      message?: string;
      repo?: string;
      tag?: string;
      platform?: Platform;
      onProgress?: (m: ProgressMessage) => void;
    },
  ) {
    this.ownImagesOnly("import");
    if (opts.repo) this.images.checkTag(opts.repo, opts.tag); // a bad name fails before anything is stored
    const img = await importImage(this.images, src, body, opts);
    if (opts.repo) await this.tagImage(img.id, opts.repo, opts.tag);
    this.events.emit("image", "import", img.id, { name: img.id });
    return img;
  }

  /** docker login: checks the credentials against the registry. */
  login(auth: RegistryAuth) {
    return login(auth, this.opts.registry);
  }

  /** Operations on the engine's own image store, which a backend that keeps images does not use. */
  private ownImagesOnly(op: string) {
    if (this.backend.images)
      throw notImplemented(`image ${op} is not supported by the ${this.backend.name} backend yet`);
  }

  /** GET /images/json; a backend that keeps images answers with its own list. */
  async listImages(filters: Filters, raw: { all: boolean; filters: string | undefined; digests: boolean }) {
    if (this.backend.images) return this.backend.images.list(raw);
    return this.listOwnImages(filters, raw.all);
  }

  async inspectImage(ref: string) {
    if (this.backend.images) return this.backend.images.inspect(ref);
    const img = this.images.resolve(ref);
    if (!img) throw noSuchImage(ref);
    return this.images.inspect(img.id);
  }

  async imageHistory(ref: string) {
    if (this.backend.images) return this.backend.images.history(ref);
    const img = this.images.resolve(ref);
    if (!img) throw noSuchImage(ref);
    return this.images.history(img.id);
  }

  private listOwnImages(filters: Filters, all = false) {
    checkFilterKeys(filters, ["dangling", "label", "reference", "before", "since", "until"]);
    let list = this.images.list();
    // untagged images with children are build intermediates: dockerd lists them only with -a
    const parents = new Set(list.map((i) => i.parent).filter(Boolean));
    if (!all)
      list = list.filter((i) => i.repoTags.length > 0 || i.repoDigests.length > 0 || !parents.has(i.id));
    const dangling = filters.get("dangling")?.[0];
    if (dangling !== undefined)
      list = list.filter((i) => (i.repoTags.length === 0) === (dangling === "true" || dangling === "1"));
    const refs = filters.get("reference");
    const refMatches = (t: string) =>
      refs!.some((r) => globMatch(r, t) || globMatch(r, t.replace(/:[^:/]+$/, "")));
    if (refs) list = list.filter((i) => i.repoTags.some(refMatches));
    list = list.filter((i) => matchLabels(i.config.Labels ?? {}, filters.get("label")));
    const before = filters.get("before")?.[0];
    if (before) {
      const b = this.images.resolve(before);
      if (!b) throw noSuchImage(before);
      list = list.filter((i) => Date.parse(i.created) < Date.parse(b.created));
    }
    const since = filters.get("since")?.[0];
    if (since) {
      const s = this.images.resolve(since);
      if (!s) throw noSuchImage(since);
      list = list.filter((i) => Date.parse(i.created) > Date.parse(s.created));
    }
    const until = filters.get("until")?.[0];
    if (until) list = list.filter((i) => Date.parse(i.created) < parseTimeArg(until));
    // Like dockerd: a reference filter also narrows each image's RepoTags/RepoDigests to the matching ones,
    // and Containers is -1 (not calculated) in this listing.
    return list
      .sort((a, b) => Date.parse(b.created) - Date.parse(a.created))
      .map((i) => {
        const s = this.images.summary(i);
        if (!refs) return { ...s, Containers: -1 };
        const digestMatches = (d: string) => refMatches(d.split("@")[0]);
        return {
          ...s,
          RepoTags: s.RepoTags.filter(refMatches),
          RepoDigests: s.RepoDigests.filter(digestMatches),
          Containers: -1,
        };
      });
  }

  private usersOf(imageId: string) {
    return [...this.containers.records.values()].filter((c) => c.Image === imageId);
  }

  async removeImage(ref: string, force: boolean, noprune: boolean) {
    if (this.backend.images) {
      const out = await this.backend.images.remove(ref, force, noprune);
      for (const r of out) {
        if (r.Untagged) this.events.emit("image", "untag", ref, { name: r.Untagged });
        if (r.Deleted) this.events.emit("image", "delete", r.Deleted, { name: r.Deleted });
      }
      return out;
    }
    const img = this.images.resolve(ref);
    if (!img) throw noSuchImage(ref);
    const users = this.usersOf(img.id);
    const byId = img.id === ref || img.id.startsWith("sha256:" + ref) || img.id.slice(7).startsWith(ref);
    const lastTag = img.repoTags.length <= 1;
    if (users.length && (byId || lastTag)) {
      const running = users.find((c) => c.State.Running);
      if (running) {
        throw conflict(
          `conflict: unable to delete ${img.id.slice(7, 19)} (cannot be forced) - image is being used by running container ${running.Id.slice(0, 12)}`,
        );
      }
      if (!force) {
        throw conflict(
          byId
            ? `conflict: unable to delete ${img.id.slice(7, 19)} (must be forced) - image is being used by stopped container ${users[0].Id.slice(0, 12)}`
            : `conflict: unable to remove repository reference "${ref}" (must force) - container ${users[0].Id.slice(0, 12)} is using its referenced image ${img.id.slice(7, 19)}`,
        );
      }
    }
    const out = await this.images.remove(ref, { force, keepLayers: users.length > 0 });
    for (const r of out) {
      if (r.Untagged) this.events.emit("image", "untag", img.id, { name: r.Untagged });
      if (r.Deleted) this.events.emit("image", "delete", img.id, { name: img.id });
    }
    return out;
  }

  async tagImage(ref: string, repo: string, tag: string | undefined) {
    if (this.backend.images) {
      await this.backend.images.tag(ref, repo, tag);
      this.events.emit("image", "tag", ref, { name: `${repo}:${tag || "latest"}` });
      return;
    }
    await this.images.tag(ref, repo, tag);
    const img = this.images.resolve(ref)!;
    this.events.emit("image", "tag", img.id, { name: `${repo}:${tag || "latest"}` });
  }

  /**
   * `docker commit`: the container's writable layer becomes a new image on top of the container's
   * image, with `config` (the container's config after --change) merged as dockerd does.
   */
  async commit(
    ref: string,
    opts: { config: ContainerConfig; repo?: string; tag?: string; author?: string; comment?: string },
  ): Promise<{ Id: string }> {
    const c = this.containers.get(ref);
    const wanted = opts.repo ? this.images.checkTag(opts.repo, opts.tag) : undefined;
    const img = await this.commitContainer(c.Id, {
      config: imageConfigOf(mergeCommitConfig(opts.config, c.Config)),
      createdBy: (c.Config.Cmd ?? []).join(" "),
      author: opts.author,
      comment: opts.comment,
    });
    let imageRef = "";
    if (opts.repo && wanted) {
      await this.tagImage(img.id, opts.repo, opts.tag);
      imageRef = `${wanted.familiarName}:${wanted.tag}`;
    }
    this.containers.emit(c, "commit", { comment: opts.comment ?? "", imageID: img.id, imageRef });
    return { Id: img.id };
  }

  /**
   * A new untagged image: the container's image plus its writable layer (none when the container
   * changed nothing), with `config` and one history entry. Used by commit and by the builder.
   */
  async commitContainer(
    ref: string,
    opts: { config: ImageConfig; createdBy: string; author?: string; comment?: string },
  ): Promise<ImageRecord> {
    const c = this.containers.get(ref);
    if (!this.backend.diffTar)
      throw notImplemented(`commit is not supported by the ${this.backend.name} backend`);
    const tarFile = this.images.tmpPath("commit-");
    try {
      await pipeline(await this.backend.diffTar(this.containers.runSpec(c)), createWriteStream(tarFile));
      // an empty tar is just its two zero end blocks: dockerd records no layer then
      const empty = (await fsp.stat(tarFile)).size <= 1024;
      const created = new Date().toISOString();
      return await this.images.createImage({
        parent: c.Image,
        layers: empty ? [] : [{ tarPath: tarFile }],
        config: opts.config,
        history: [
          {
            created,
            created_by: opts.createdBy,
            ...(opts.author ? { author: opts.author } : {}),
            ...(opts.comment ? { comment: opts.comment } : {}),
            ...(empty ? { empty_layer: true } : {}),
          },
        ],
        author: opts.author,
        comment: opts.comment,
        created,
      });
    } finally {
      await fsp.rm(tarFile, { force: true });
    }
  }

  async pruneImages(filters: Filters, raw?: string) {
    if (this.backend.images) return this.backend.images.prune(raw);
    const inUse = new Set([...this.containers.records.values()].map((c) => c.Image));
    const dangling = filters.get("dangling")?.[0];
    const until = filters.get("until")?.[0];
    checkFilterKeys(filters, ["dangling", "until", "label", "label!"]);
    const res = await this.images.prune(
      {
        dangling: dangling === undefined ? true : dangling === "true" || dangling === "1",
        until,
        label: filters.get("label"),
        "label!": filters.get("label!"),
      },
      inUse,
    );
    this.events.emit("image", "prune", "", { reclaimed: String(res.SpaceReclaimed) });
    return res;
  }

  async systemDf() {
    const containers = await this.containers.list({ all: true, size: true, filters: new Map() });
    const inUse = new Map<string, number>();
    for (const c of this.containers.records.values()) inUse.set(c.Image, (inUse.get(c.Image) ?? 0) + 1);
    const images = this.images
      .list()
      .map((i) => ({ ...this.images.summary(i), Containers: inUse.get(i.id) ?? 0 }));
    const volumes = await Promise.all(
      this.volumes.all().map(async (v) => ({
        ...v,
        UsageData: {
          Size: await dirSize(v.Mountpoint),
          RefCount: [...this.containers.records.values()].filter((c) =>
            c.Mounts.some((m) => m.Name === v.Name),
          ).length,
        },
      })),
    );
    return {
      LayersSize: images.reduce((a, i) => a + i.Size, 0),
      Images: images,
      Containers: containers,
      Volumes: volumes,
      BuildCache: [] as unknown[],
    };
  }
}

/** docker's reference filter: shell-style glob over "name:tag". */
function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    "^" +
      pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, "[^/]*")
        .replace(/\?/g, ".") +
      "$",
  );
  return re.test(value);
}

function goArch(): string {
  const a = process.arch;
  return a === "x64" ? "amd64" : a === "ia32" ? "386" : a;
}
