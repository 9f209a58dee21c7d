import { promises as fs } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import {
  badRequest,
  conflict,
  DockerError,
  noSuchContainer,
  noSuchImage,
  notFound,
  notImplemented,
  notModified,
  log,
} from "@sockerless/api";
import type { ImageStore } from "@sockerless/images";
import { applyImageConfig, validateCreate, wantedMounts } from "./create-config.js";
import type { EventBus } from "./events.js";
import { formatNs, LogFile, type LogQuery, type LogRecord, nowNs, selectRecords } from "./logs.js";
import { type NetworkStore, PREDEFINED } from "./networks.js";
import { inspectContainer, networkSettings, statusText, summarizeMounts } from "./render.js";
import { RecordFile } from "./record-file.js";
import { Runtime, type OutputListener } from "./runtime.js";
import type {
  Backend,
  ContainerConfig,
  RecoveredContainer,
  ContainerRecord,
  EndpointSettings,
  MissedOutput,
  HostConfig,
  MountPoint,
  RunSpec,
} from "./types.js";
import {
  checkFilterKeys,
  type Filters,
  matchLabels,
  newId,
  normalizeSignal,
  nowIso,
  parseExtraHost,
  parseTimeArg,
  SIGNALS,
  validateName,
  ZERO_TIME,
} from "./util.js";
import type { VolumeStore } from "./volumes.js";

export interface CreateRequest extends ContainerConfig {
  HostConfig?: HostConfig;
  NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointSettings> | null } | null;
}

let nextPid = 1000;

/** Containers: records, lifecycle, names, filters, logs, attach. Docker semantics live here once. */
export class ContainerManager {
  readonly records = new Map<string, ContainerRecord>();
  private readonly runtimes = new Map<string, Runtime>();
  private readonly files = new Map<string, RecordFile<ContainerRecord>>();
  /** Serialises state changes per container (start/stop/remove racing each other). */
  private readonly locks = new Map<string, Promise<unknown>>();
  onStarted: (c: ContainerRecord, rt: Runtime) => void = () => {};
  onStopped: (c: ContainerRecord) => void = () => {};
  volumes!: VolumeStore;
  networks!: NetworkStore;

  constructor(
    private readonly root: string,
    private readonly backend: Backend,
    private readonly images: ImageStore,
    private readonly events: EventBus,
  ) {}

  private dir(id: string) {
    return path.join(this.root, "containers", id);
  }

  async init(): Promise<void> {
    const base = path.join(this.root, "containers");
    await fs.mkdir(base, { recursive: true });
    for (const id of await fs.readdir(base)) {
      if (id.startsWith(".removed-")) {
        await fs.rm(path.join(base, id), { recursive: true, force: true });
        continue;
      }
      const file = new RecordFile<ContainerRecord>(path.join(base, id));
      const rec = await file.load();
      if (!rec) continue;
      this.files.set(rec.Id, file);
      this.records.set(rec.Id, rec);
      this.runtimes.set(rec.Id, new Runtime(new LogFile(path.join(base, id, "log.bin"))));
    }
    if (this.backend.discover) await this.discoverFromPlatform();
    const recovered = this.backend.recover
      ? await this.backend.recover([...this.records.values()].map((c) => this.runSpec(c)))
      : undefined;
    for (const rec of this.records.values()) {
      if (recovered) {
        await this.adopt(rec, recovered.get(rec.Id));
        continue;
      }
      if (rec.State.Running || rec.State.Restarting) {
        // The daemon went away while this ran: the sandbox process is gone.
        Object.assign(rec.State, {
          Status: "exited",
          Running: false,
          Paused: false,
          Restarting: false,
          Pid: 0,
          ExitCode: 255,
          FinishedAt: nowIso(),
        });
        delete rec.State.Health;
        await this.save(rec);
      }
    }
  }

  /** Cloud backends: the platform's containers replace what this data root remembers. */
  private async discoverFromPlatform(): Promise<void> {
    const found = await this.backend.discover!();
    const ids = new Set(found.map((r) => r.Id));
    for (const id of [...this.records.keys()]) {
      if (ids.has(id)) continue;
      this.records.delete(id);
      this.runtimes.delete(id);
      this.files.delete(id);
      await fs.rm(this.dir(id), { recursive: true, force: true });
    }
    for (const rec of found) {
      const known = this.records.get(rec.Id);
      if (known) {
        Object.assign(known, { ...rec, State: known.State });
        continue;
      }
      await fs.mkdir(this.dir(rec.Id), { recursive: true });
      this.records.set(rec.Id, rec);
      this.runtimes.set(rec.Id, new Runtime(new LogFile(path.join(this.dir(rec.Id), "log.bin"))));
      await this.save(rec);
    }
  }

  /** A container as the platform reports it after a daemon restart: its real state, its live process. */
  private async adopt(rec: ContainerRecord, found: RecoveredContainer | undefined): Promise<void> {
    const rt = this.runtime(rec.Id);
    if (found && found.state !== "created" && found.missed) await this.catchUpLogs(rec, rt, found.missed);
    if (found?.state === "running") {
      rt.bind(found.proc, found.pid || rec.State.Pid || nextPid++);
      Object.assign(rec.State, {
        Status: found.paused ? "paused" : "running",
        Running: true,
        Paused: found.paused,
        Restarting: false,
        StartedAt: found.startedAt,
        Pid: found.pid || rec.State.Pid,
      });
      found.proc.exited.then((code) => this.handleExit(rec, rt, code, found.proc.exitError));
    } else if (found?.state === "exited" || (!found && (rec.State.Running || rec.State.Restarting))) {
      // gone from the platform while we were down: it cannot have an exit code, as dockerd's 255
      const code = found?.state === "exited" ? found.exitCode : 255;
      Object.assign(rec.State, {
        Status: "exited",
        Running: false,
        Paused: false,
        Restarting: false,
        Pid: 0,
        ExitCode: code,
        OOMKilled: found?.state === "exited" ? found.oomKilled : false,
        FinishedAt: found?.state === "exited" ? found.finishedAt : nowIso(),
      });
      delete rec.State.Health;
    }
    await this.save(rec);
  }

  /** Output written while the daemon was down goes to the log before live output does. */
  private async catchUpLogs(rec: ContainerRecord, rt: Runtime, missed: MissedOutput): Promise<void> {
    try {
      const records = await rt.log.readAll();
      const since = records.length
        ? records[records.length - 1].timeNs
        : BigInt(Math.max(0, Date.parse(rec.State.StartedAt) || 0)) * 1_000_000n;
      const out = await missed(since);
      for (const o of out) rt.log.write(o.stream === "stdout" ? 1 : 2, o.data);
      rt.log.close();
    } catch (e) {
      log.warn({ err: e, id: rec.Id }, "could not fetch the output written while the daemon was down");
    }
  }

  /** Restart containers whose policy says so after a daemon restart (always; unless-stopped if not stopped by hand). */
  async restartAfterBoot(): Promise<void> {
    for (const c of this.records.values()) {
      const p = c.HostConfig.RestartPolicy?.Name;
      if (c.State.Status === "exited" && !c.ManuallyStopped && (p === "always" || p === "unless-stopped")) {
        this.start(c.Id).catch((e) => log.warn({ err: e, id: c.Id }, "restart after boot failed"));
      }
    }
  }

  persist(c: ContainerRecord): Promise<void> {
    return this.save(c);
  }

  private save(c: ContainerRecord): Promise<void> {
    let file = this.files.get(c.Id);
    if (!file) this.files.set(c.Id, (file = new RecordFile(this.dir(c.Id))));
    return file.save(c);
  }

  private async locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.locks.set(
      id,
      next.catch(() => {}),
    );
    return next;
  }

  runtime(id: string): Runtime {
    return this.runtimes.get(id)!;
  }

  /** Exact id, exact name, then a unique id prefix. */
  find(ref: string): ContainerRecord | undefined {
    const byId = this.records.get(ref);
    if (byId) return byId;
    const name = ref.startsWith("/") ? ref : "/" + ref;
    for (const c of this.records.values()) if (c.Name === name) return c;
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    const matches = [...this.records.values()].filter((c) => c.Id.startsWith(ref));
    if (matches.length > 1) throw badRequest(`multiple IDs found with provided prefix: ${ref}`);
    return matches[0];
  }

  get(ref: string): ContainerRecord {
    const c = this.find(ref);
    if (!c) throw noSuchContainer(ref);
    return c;
  }

  private attrs(c: ContainerRecord, extra: Record<string, string> = {}): Record<string, string> {
    return { ...(c.Config.Labels ?? {}), image: c.ImageRef, name: c.Name.slice(1), ...extra };
  }

  emit(c: ContainerRecord, action: string, extra: Record<string, string> = {}) {
    this.events.emit("container", action, c.Id, this.attrs(c, extra));
  }

  // ---------------------------------------------------------------- create

  async create(name: string | undefined, req: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
    if (req === null || typeof req !== "object" || Array.isArray(req))
      throw badRequest("config cannot be empty in order to create a container");
    // dockerd decodes the container config from the body's top-level fields: with none of them, it has none
    if (Object.keys(req).every((k) => k === "HostConfig" || k === "NetworkingConfig"))
      throw badRequest("Config cannot be empty in order to create a container");
    if (!req.Image) throw badRequest("No image specified");
    const host: HostConfig = { ...(req.HostConfig ?? {}) };
    const fullName = name ? validateName(name) : undefined;
    if (fullName && this.find(fullName.slice(1))?.Name === fullName) {
      const other = this.find(fullName.slice(1))!;
      throw conflict(
        `Conflict. The container name "${fullName}" is already in use by container "${other.Id}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    const image = this.backend.images
      ? await this.backend.images.resolve(req.Image)
      : this.images.resolve(req.Image);
    if (!image)
      throw noSuchImage(
        req.Image.includes(":") || req.Image.includes("@") ? req.Image : `${req.Image}:latest`,
      );
    const { HostConfig: _h, NetworkingConfig: netCfg, ...rawCfg } = req;
    const cfg = applyImageConfig(rawCfg, image);
    validateCreate(cfg, host);
    const warnings: string[] = [];
    const id = newId();
    cfg.Hostname = cfg.Hostname || id.slice(0, 12);
    cfg.Image = req.Image;
    cfg.Domainname ??= "";
    cfg.AttachStdin ??= false;
    cfg.AttachStdout ??= false;
    cfg.AttachStderr ??= false;
    cfg.Tty ??= false;
    cfg.OpenStdin ??= false;
    cfg.StdinOnce ??= false;
    host.NetworkMode = !host.NetworkMode || host.NetworkMode === "default" ? "bridge" : host.NetworkMode;
    host.RestartPolicy = host.RestartPolicy?.Name ? host.RestartPolicy : { Name: "no", MaximumRetryCount: 0 };
    host.RestartPolicy.MaximumRetryCount ??= 0;
    host.Binds ??= null;
    host.AutoRemove ??= false;
    // dockerd fills in its default log driver; docker-py's run() reads LogConfig.Type to know
    // whether logs can be read back. Logs are kept by the engine whatever the driver.
    const logConfig = host.LogConfig as { Type?: string; Config?: Record<string, string> } | undefined;
    host.LogConfig = { Type: logConfig?.Type || "json-file", Config: logConfig?.Config ?? {} };
    if (!this.backend.capabilities.ports && host.PortBindings && Object.keys(host.PortBindings).length) {
      warnings.push(
        `The ${this.backend.name} backend does not publish ports on this host: published ports are not reachable.`,
      );
    }

    const networks = this.initialNetworks(host.NetworkMode, netCfg?.EndpointsConfig ?? {});
    const mounts = await this.resolveMounts(cfg, host);
    const argv = [...(cfg.Entrypoint ?? []), ...(cfg.Cmd ?? [])];
    const rec: ContainerRecord = {
      Id: id,
      Name: fullName ?? "/" + this.generateName(),
      Created: formatNs(nowNs()), // strictly increasing, so "newest first" is exact
      Path: argv[0],
      Args: argv.slice(1),
      Config: cfg,
      HostConfig: host,
      Image: image.id,
      ImageRef: req.Image,
      State: {
        Status: "created",
        Running: false,
        Paused: false,
        Restarting: false,
        OOMKilled: false,
        Dead: false,
        Pid: 0,
        ExitCode: 0,
        Error: "",
        StartedAt: ZERO_TIME,
        FinishedAt: ZERO_TIME,
      },
      RestartCount: 0,
      Networks: {},
      Mounts: mounts,
      ManuallyStopped: false,
    };
    await fs.mkdir(this.dir(id), { recursive: true });
    this.records.set(id, rec);
    this.runtimes.set(id, new Runtime(new LogFile(path.join(this.dir(id), "log.bin"))));
    try {
      for (const [netName, ep] of Object.entries(networks)) this.attachNetwork(rec, netName, ep);
      await this.backend.prepare(this.runSpec(rec));
      await this.save(rec);
    } catch (e) {
      this.records.delete(id);
      this.runtimes.delete(id);
      this.files.delete(id);
      await fs.rm(this.dir(id), { recursive: true, force: true });
      throw e;
    }
    this.emit(rec, "create");
    log.debug({ id }, "created");
    return { Id: id, Warnings: warnings };
  }

  private generateName(): string {
    const left = [
      "admiring",
      "brave",
      "clever",
      "dreamy",
      "eager",
      "festive",
      "gallant",
      "happy",
      "jolly",
      "keen",
      "lucid",
      "modest",
      "nifty",
      "quirky",
      "serene",
      "vibrant",
      "zen",
    ];
    const right = [
      "turing",
      "hopper",
      "lovelace",
      "curie",
      "noether",
      "ritchie",
      "thompson",
      "knuth",
      "dijkstra",
      "liskov",
      "hamilton",
      "babbage",
      "pike",
      "torvalds",
      "kay",
      "wing",
      "goldberg",
    ];
    for (;;) {
      const n = `${left[Math.floor(Math.random() * left.length)]}_${right[Math.floor(Math.random() * right.length)]}`;
      const candidate = this.find(n) ? `${n}${Math.floor(Math.random() * 10)}` : n;
      if (!this.find(candidate)) return candidate;
    }
  }

  private initialNetworks(
    mode: string,
    endpoints: Record<string, EndpointSettings>,
  ): Record<string, EndpointSettings> {
    if (mode.startsWith("container:")) {
      this.get(mode.slice("container:".length));
      return {};
    }
    const out: Record<string, EndpointSettings> = {};
    const primary = this.networks.get(mode); // 404 "network X not found" as dockerd
    out[primary.Name] =
      endpoints[mode] ?? endpoints[primary.Name] ?? endpoints[primary.Id] ?? endpoints["default"] ?? {};
    for (const [k, ep] of Object.entries(endpoints)) {
      if (k === "default") continue; // the CLI's name for the primary network
      const n = this.networks.get(k);
      if (!(n.Name in out)) out[n.Name] = ep;
    }
    if (Object.keys(out).length > 1 && (primary.Name === "host" || primary.Name === "none")) {
      throw badRequest(`container cannot be disconnected from host network or connected to host network`);
    }
    return out;
  }

  private async resolveMounts(cfg: ContainerConfig, host: HostConfig): Promise<MountPoint[]> {
    const out: MountPoint[] = [];
    for (const m of wantedMounts(cfg, host)) {
      if (m.type === "bind") {
        // a platform's bind sources are its host's paths: only it can check them
        if (!this.backend.capabilities.platformBinds) await ensureBindSource(m.source, m.target, host);
        out.push({
          Type: "bind",
          Source: m.source,
          Destination: m.target,
          Mode: m.readOnly ? "ro" : "",
          RW: !m.readOnly,
          Propagation: "rprivate",
        });
      } else if (m.type === "volume") {
        const v = await this.volumes.create({ Name: m.source || undefined, anonymous: !m.source });
        out.push({
          Type: "volume",
          Name: v.Name,
          Source: v.Mountpoint,
          Destination: m.target,
          Driver: "local",
          // dockerd shows "z" for named volumes, nothing for anonymous ones.
          Mode: m.readOnly ? "ro" : m.source ? "z" : "",
          RW: !m.readOnly,
          Propagation: "",
        });
      } else {
        const dir = path.join(this.root, "tmpfs", newId());
        await fs.mkdir(dir, { recursive: true });
        out.push({ Type: "tmpfs", Source: dir, Destination: m.target, Mode: "", RW: true, Propagation: "" });
      }
    }
    return out;
  }

  attachNetwork(c: ContainerRecord, netRef: string, ep: EndpointSettings): void {
    const n = this.networks.get(netRef);
    if (c.Networks[n.Name]) throw forbiddenEndpoint(c, n.Name);
    const settings: EndpointSettings = {
      ...ep,
      Aliases: ep.Aliases ?? null,
      NetworkID: n.Id,
      EndpointID: newId(),
      DNSNames: null,
    };
    if (n.Name !== "host" && n.Name !== "none") {
      const a = this.networks.allocate(n, ep.IPAMConfig?.IPv4Address || undefined);
      if (a) {
        settings.IPAddress = a.ip;
        settings.IPPrefixLen = a.prefix;
        settings.Gateway = a.gateway;
        settings.MacAddress =
          "02:42:" +
          a.ip
            .split(".")
            .map((o) => Number(o).toString(16).padStart(2, "0"))
            .join(":");
      }
      if (n.Name !== "bridge")
        settings.DNSNames = [c.Name.slice(1), c.Id.slice(0, 12), ...(ep.Aliases ?? [])].filter(
          (v, i, a) => a.indexOf(v) === i,
        );
    }
    c.Networks[n.Name] = settings;
  }

  /** Up to API 1.44 dockerd adds the short id to the Aliases of a user-defined network once the endpoint is joined. */
  private joinAliases(c: ContainerRecord, only?: string): void {
    const short = c.Id.slice(0, 12);
    for (const [name, ep] of Object.entries(c.Networks)) {
      if (PREDEFINED.includes(name) || (only && name !== only)) continue;
      if (!ep.Aliases?.includes(short)) ep.Aliases = [...(ep.Aliases ?? []), short];
    }
  }

  // ---------------------------------------------------------------- list / inspect

  private imageSize(id: string): number {
    return (this.backend.images ? this.backend.images.cached(id) : this.images.get(id))?.size ?? 0;
  }

  inspect(ref: string, size = false) {
    const c = this.get(ref);
    return inspectContainer(
      c,
      (id) => this.networks.find(id),
      size ? { rw: 0, rootFs: this.imageSize(c.Image) ?? 0 } : undefined,
    );
  }

  async inspectWithSize(ref: string) {
    const c = this.get(ref);
    const rw = await this.backend.sizeRw(this.runSpec(c));
    return inspectContainer(c, (id) => this.networks.find(id), {
      rw,
      rootFs: rw + (this.imageSize(c.Image) ?? 0),
    });
  }

  async list(opts: { all: boolean; limit?: number; size: boolean; filters: Filters }) {
    const f = opts.filters;
    checkFilterKeys(f, [
      "id",
      "name",
      "label",
      "label!",
      "status",
      "ancestor",
      "exited",
      "network",
      "volume",
      "health",
      "before",
      "since",
      "is-task",
      "publish",
      "expose",
    ]);
    for (const s of f.get("status") ?? []) {
      if (!["created", "restarting", "running", "removing", "paused", "exited", "dead"].includes(s)) {
        throw badRequest(`invalid filter 'status=${s}'`);
      }
    }
    for (const h of f.get("health") ?? []) {
      if (!["starting", "healthy", "unhealthy", "none"].includes(h))
        throw badRequest(`Unrecognised filter value for health: ${h}`);
    }
    let list = [...this.records.values()].sort((a, b) => (a.Created < b.Created ? 1 : -1));
    const before = f.get("before")?.[0];
    const since = f.get("since")?.[0];
    if (before) {
      const ref = this.get(before);
      list = list.filter((c) => c.Created < ref.Created);
    }
    if (since) {
      const ref = this.get(since);
      list = list.filter((c) => c.Created > ref.Created);
    }
    const any = (key: string, pred: (v: string) => boolean) => {
      const vals = f.get(key);
      return !vals || vals.length === 0 || vals.some(pred);
    };
    const ancestors = (f.get("ancestor") ?? []).map((a) => this.images.resolve(a)?.id ?? a);
    list = list.filter((c) => {
      const name = c.Name.slice(1);
      const labels = c.Config.Labels ?? {};
      if (f.get("label!")?.some((l) => matchLabels(labels, [l]))) return false;
      return (
        any("id", (v) => c.Id.startsWith(v)) &&
        any("name", (v) => new RegExp(v).test(name) || new RegExp(v).test(c.Name)) &&
        matchLabels(labels, f.get("label")) &&
        any("status", (v) => c.State.Status === v) &&
        any("exited", (v) => c.State.Status === "exited" && c.State.ExitCode === Number(v)) &&
        (!f.get("ancestor") || ancestors.some((a) => a === c.Image || a === c.ImageRef)) &&
        any("network", (v) =>
          Object.entries(c.Networks).some(([n, ep]) => n === v || ep.NetworkID?.startsWith(v)),
        ) &&
        any("volume", (v) => c.Mounts.some((m) => m.Name === v || m.Destination === v || m.Source === v)) &&
        any("health", (v) => (c.State.Health?.Status ?? "none") === v)
      );
    });
    const hasStatusFilter = !!f.get("status") || !!f.get("exited");
    if (!opts.all && !hasStatusFilter && !opts.limit)
      list = list.filter((c) => c.State.Running || c.State.Restarting);
    if (opts.limit && opts.limit > 0) list = list.slice(0, opts.limit);
    return Promise.all(list.map((c) => this.summary(c, opts.size)));
  }

  private async summary(c: ContainerRecord, size: boolean) {
    const ns = networkSettings(c, (id) => this.networks.find(id));
    const rw = size ? await this.backend.sizeRw(this.runSpec(c)) : 0;
    return {
      Id: c.Id,
      Names: [c.Name],
      Image: c.ImageRef,
      ImageID: c.Image,
      Command: [c.Path, ...c.Args].map((a) => (a.includes(" ") ? `"${a}"` : a)).join(" "),
      Created: Math.floor(Date.parse(c.Created) / 1000),
      Ports: portList(c),
      ...(size ? { SizeRw: rw, SizeRootFs: rw + (this.imageSize(c.Image) ?? 0) } : {}),
      Labels: c.Config.Labels ?? {},
      State: c.State.Status,
      Status: statusText(c),
      HostConfig: { NetworkMode: c.HostConfig.NetworkMode ?? "bridge" },
      NetworkSettings: { Networks: ns.Networks },
      Mounts: summarizeMounts(c),
    };
  }

  // ---------------------------------------------------------------- run spec

  runSpec(c: ContainerRecord): RunSpec {
    return {
      id: c.Id,
      imageId: c.Image,
      argv: [c.Path, ...c.Args],
      env: c.Config.Env ?? [],
      cwd: c.Config.WorkingDir || "/",
      user: c.Config.User ?? "",
      hostname: c.Config.Hostname ?? c.Id.slice(0, 12),
      tty: !!c.Config.Tty,
      openStdin: !!c.Config.OpenStdin,
      mounts: c.Mounts.map((m) => ({ hostPath: m.Source, containerPath: m.Destination, readOnly: !m.RW })),
      hosts: this.hostsFor(c),
      memoryBytes:
        typeof c.HostConfig.Memory === "number" && c.HostConfig.Memory > 0 ? c.HostConfig.Memory : undefined,
      container: c,
      networkContainerId: c.HostConfig.NetworkMode?.startsWith("container:")
        ? this.find(c.HostConfig.NetworkMode.slice("container:".length))?.Id
        : undefined,
    };
  }

  /** /etc/hosts lines: this container and every peer on the user networks it shares. */
  hostsFor(c: ContainerRecord): string[] {
    const lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"];
    const own = Object.values(c.Networks).find((ep) => ep.IPAddress)?.IPAddress;
    if (own) lines.push(`${own}\t${c.Config.Hostname}`);
    for (const x of c.HostConfig.ExtraHosts ?? []) {
      const host = parseExtraHost(x);
      if (host) lines.push(`${host[1]}\t${host[0]}`);
    }
    for (const [net, ep] of Object.entries(c.Networks)) {
      if (net === "bridge" || !ep.IPAddress) continue;
      for (const peer of this.records.values()) {
        const pep = peer.Networks[net];
        if (peer.Id === c.Id || !pep?.IPAddress || !(peer.State.Running || peer.State.Status === "created"))
          continue;
        lines.push(`${pep.IPAddress}\t${[...(pep.DNSNames ?? [peer.Name.slice(1)])].join(" ")}`);
      }
    }
    return lines;
  }

  /**
   * dockerd's embedded DNS sees peers come and go; /etc/hosts is our only resolver, so rewrite it in
   * the running containers that share a user network with `c` whenever `c` joins or leaves one.
   */
  private async refreshPeerHosts(c: ContainerRecord, nets: string[] = Object.keys(c.Networks)) {
    const refresh = this.backend.refreshHosts?.bind(this.backend);
    if (!refresh) return;
    const userNets = nets.filter((n) => n !== "bridge");
    const peers = [...this.records.values()].filter(
      (p) => p.State.Running && userNets.some((n) => p.Networks[n]),
    );
    // awaited, so that peers resolve the name once the API call that changed it has answered
    await Promise.all(
      peers.map((peer) =>
        refresh(this.runSpec(peer)).catch((e) =>
          log.warn({ err: e, id: peer.Id }, "updating /etc/hosts failed"),
        ),
      ),
    );
  }

  // ---------------------------------------------------------------- lifecycle

  start(ref: string): Promise<void> {
    const c = this.get(ref);
    return this.locked(c.Id, () => this.startLocked(c));
  }

  private async startLocked(c: ContainerRecord, isRestart = false): Promise<void> {
    if (!this.records.has(c.Id)) throw noSuchContainer(c.Id);
    if (c.State.Paused) throw conflict("cannot start a paused container, try unpause instead");
    if (c.State.Running) throw notModified();
    const rt = this.runtime(c.Id);
    if (rt.restartTimer) {
      clearTimeout(rt.restartTimer);
      rt.restartTimer = undefined;
    }
    for (const [name, ep] of Object.entries(c.Networks))
      if (ep.NetworkID && !this.networks.find(ep.NetworkID)) throw notFound(`network ${name} not found`);
    let proc;
    try {
      proc = await this.backend.start(this.runSpec(c));
    } catch (e) {
      const err = e instanceof DockerError ? e : new DockerError(500, String((e as Error).message ?? e));
      c.State.Error = err.message;
      c.State.ExitCode = /not found|no such file/i.test(err.message) ? 127 : 126;
      if (c.State.Status === "restarting") c.State.Status = "exited";
      c.State.Restarting = false;
      await this.save(c);
      this.emit(c, "die", { exitCode: String(c.State.ExitCode) });
      // dockerd removes an AutoRemove container whose start failed, releasing `wait?condition=removed`
      if (c.HostConfig.AutoRemove) await this.removeLocked(c, { force: true, volumes: true });
      throw err;
    }
    const pid = nextPid++;
    rt.bind(proc, pid);
    Object.assign(c.State, {
      Status: "running",
      Running: true,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: pid,
      ExitCode: 0,
      Error: "",
      StartedAt: nowIso(),
    });
    c.ManuallyStopped = false;
    this.joinAliases(c);
    if (isRestart) c.RestartCount++;
    if (c.Config.Healthcheck?.Test?.length && c.Config.Healthcheck.Test[0] !== "NONE") {
      c.State.Health = { Status: "starting", FailingStreak: 0, Log: [] };
    } else delete c.State.Health;
    // A process that is already gone has no pid or addresses worth waiting for (the platform may
    // be busy tearing its network down, which would hold up the start answer).
    if (this.backend.observe) await Promise.race([this.applyObserved(c), proc.exited]);
    await this.save(c);
    this.emit(c, "start");
    log.debug({ id: c.Id }, "started");
    this.onStarted(c, rt);
    proc.exited.then((code) => this.handleExit(c, rt, code, proc.exitError));
    await this.refreshPeerHosts(c);
  }

  /** Pid and addresses as the platform assigned them replace the engine's own numbers. */
  private async applyObserved(c: ContainerRecord): Promise<void> {
    const seen = await this.backend.observe!(c.Id).catch((e) => {
      log.warn({ err: e, id: c.Id }, "reading what the platform assigned the container failed");
      return undefined;
    });
    if (!seen || !c.State.Running) return; // exited meanwhile: nothing of this run to show
    if (seen.pid) c.State.Pid = seen.pid;
    if (seen.ports) c.PublishedPorts = seen.ports;
    for (const [net, ep] of Object.entries(seen.endpoints))
      if (c.Networks[net]) Object.assign(c.Networks[net], ep);
  }

  private async handleExit(c: ContainerRecord, rt: Runtime, code: number, error?: string): Promise<void> {
    log.debug({ id: c.Id, code }, "exited");
    rt.log.close();
    rt.proc = undefined;
    this.onStopped(c);
    if (!this.records.has(c.Id)) return;
    Object.assign(c.State, {
      Status: "exited",
      Running: false,
      Paused: false,
      Pid: 0,
      ExitCode: code,
      FinishedAt: nowIso(),
    });
    if (error) c.State.Error = error;
    await this.refreshPeerHosts(c);
    if (c.State.Health) c.State.Health.Status = "unhealthy";
    delete c.State.Health;
    const policy = c.HostConfig.RestartPolicy ?? { Name: "no" };
    const max = policy.MaximumRetryCount ?? 0;
    const restart =
      !rt.stopping &&
      !c.ManuallyStopped &&
      (policy.Name === "always" ||
        policy.Name === "unless-stopped" ||
        (policy.Name === "on-failure" && code !== 0 && (max === 0 || c.RestartCount < max)));
    if (restart) {
      c.State.Status = "restarting";
      c.State.Restarting = true;
    }
    await this.save(c);
    this.emit(c, "die", { exitCode: String(code) });
    rt.emit("exit", code);
    if (restart) {
      // dockerd backs off 100ms, doubling, up to a minute
      const delay = Math.min(100 * 2 ** Math.min(c.RestartCount, 10), 60_000);
      rt.restartTimer = setTimeout(() => {
        rt.restartTimer = undefined;
        this.locked(c.Id, () => (c.State.Restarting ? this.startLocked(c, true) : Promise.resolve())).catch(
          (e) => log.warn({ err: e, id: c.Id }, "restart failed"),
        );
      }, delay);
      return;
    }
    if (c.HostConfig.AutoRemove && !rt.stopping) {
      await this.locked(c.Id, () => this.removeLocked(c, { force: true, volumes: true })).catch(() => {});
    }
  }

  /** The signal stop sends, and how long it waits before SIGKILL (seconds; -1 waits forever). */
  async stop(ref: string, opts: { signal?: string; timeout?: number }): Promise<void> {
    const c = this.get(ref);
    await this.locked(c.Id, () => this.stopLocked(c, opts));
    if (c.HostConfig.AutoRemove && this.records.has(c.Id)) {
      await this.locked(c.Id, () => this.removeLocked(c, { force: true, volumes: true }));
    }
  }

  private async stopLocked(c: ContainerRecord, opts: { signal?: string; timeout?: number }): Promise<void> {
    const rt = this.runtime(c.Id);
    if (c.State.Restarting) {
      clearTimeout(rt.restartTimer);
      rt.restartTimer = undefined;
      c.ManuallyStopped = true;
      Object.assign(c.State, { Status: "exited", Restarting: false });
      await this.save(c);
      this.emit(c, "stop");
      return;
    }
    if (!c.State.Running || !rt.proc) throw notModified();
    c.ManuallyStopped = true;
    const sig = normalizeSignal(opts.signal ?? c.Config.StopSignal ?? undefined, "SIGTERM");
    const timeout = opts.timeout ?? (typeof c.Config.StopTimeout === "number" ? c.Config.StopTimeout : 10);
    rt.stopping = true;
    try {
      const exit = rt.nextExit();
      this.emit(c, "kill", { signal: String(SIGNALS[sig]) });
      rt.proc.signal(sig);
      const done =
        timeout < 0
          ? await exit
          : await Promise.race([exit, sleep(timeout * 1000).then(() => "timeout" as const)]);
      if (done === "timeout" && rt.proc) {
        this.emit(c, "kill", { signal: "9" });
        rt.proc.signal("SIGKILL");
        await exit;
      }
    } finally {
      rt.stopping = false;
    }
    this.emit(c, "stop");
  }

  async restart(ref: string, opts: { signal?: string; timeout?: number }): Promise<void> {
    const c = this.get(ref);
    await this.locked(c.Id, async () => {
      if (c.State.Running) await this.stopLocked(c, opts);
      await this.startLocked(c, false);
      this.emit(c, "restart");
    });
  }

  async kill(ref: string, signal?: string): Promise<void> {
    const c = this.get(ref);
    const sig = normalizeSignal(signal, "SIGKILL");
    const rt = this.runtime(c.Id);
    if (!c.State.Running || !rt.proc)
      throw conflict(`Cannot kill container: ${ref}: Container ${c.Id} is not running`);
    if (sig === "SIGKILL") c.ManuallyStopped = true;
    this.emit(c, "kill", { signal: String(SIGNALS[sig]) });
    const exit = rt.nextExit();
    rt.proc.signal(sig);
    if (sig === "SIGKILL") await exit;
  }

  async wait(
    ref: string,
    condition: string | undefined,
  ): Promise<{ StatusCode: number; Error: null | { Message: string } }> {
    const c = this.get(ref);
    const rt = this.runtime(c.Id);
    const cond = condition || "not-running";
    if (!["not-running", "next-exit", "removed"].includes(cond))
      throw badRequest(`invalid condition: "${cond}"`);
    if (cond === "not-running" && !c.State.Running && !c.State.Restarting)
      return { StatusCode: c.State.ExitCode, Error: null };
    if (cond === "removed") {
      return new Promise((resolve) => {
        let last = c.State.ExitCode;
        const onExit = (code: number) => (last = code);
        rt.on("exit", onExit);
        rt.once("removed", () => {
          rt.off("exit", onExit);
          resolve({ StatusCode: last, Error: null });
        });
      });
    }
    for (;;) {
      const code = await rt.nextExit();
      if (code === undefined) return { StatusCode: c.State.ExitCode, Error: null };
      // not-running keeps waiting while a restart policy brings it back
      if (cond === "next-exit" || !c.State.Restarting) return { StatusCode: code, Error: null };
    }
  }

  async remove(ref: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const c = this.get(ref);
    await this.locked(c.Id, () => this.removeLocked(c, opts));
  }

  private async removeLocked(c: ContainerRecord, opts: { force: boolean; volumes: boolean }): Promise<void> {
    if (!this.records.has(c.Id)) return;
    const rt = this.runtime(c.Id);
    if (c.State.Running || c.State.Restarting) {
      if (!opts.force) {
        throw conflict(
          `You cannot remove a ${c.State.Paused ? "paused" : "running"} container ${c.Id}. Stop the container before attempting removal or force remove`,
        );
      }
      clearTimeout(rt.restartTimer);
      c.ManuallyStopped = true;
      if (rt.proc) {
        rt.stopping = true;
        const exit = rt.nextExit();
        this.emit(c, "kill", { signal: "9" });
        rt.proc.signal("SIGKILL");
        await exit;
        rt.stopping = false;
      }
    }
    this.records.delete(c.Id);
    await this.refreshPeerHosts(c);
    // One rename makes the removal durable; the files go in the background.
    const trash = path.join(this.root, "containers", `.removed-${c.Id}`);
    await fs.rename(this.dir(c.Id), trash);
    void fs.rm(trash, { recursive: true, force: true });
    await this.backend.remove(c.Id);
    for (const m of c.Mounts) {
      if (m.Type === "tmpfs") await fs.rm(m.Source, { recursive: true, force: true });
      if (
        opts.volumes &&
        m.Type === "volume" &&
        m.Name &&
        this.volumes.has(m.Name) &&
        this.volumes.get(m.Name).Anonymous
      ) {
        await this.volumes.remove(m.Name).catch(() => {});
      }
    }
    this.emit(c, "destroy");
    log.debug({ id: c.Id }, "removed");
    rt.emit("removed");
    this.runtimes.delete(c.Id);
  }

  async rename(ref: string, newName: string): Promise<void> {
    const c = this.get(ref);
    if (!newName) throw badRequest("Neither old nor new names may be empty");
    const full = validateName(newName);
    if (full === c.Name) throw conflict(`Renaming a container with the same name as its current name`);
    const other = this.find(full.slice(1));
    if (other && other.Name === full) {
      throw conflict(
        `Error when allocating new name: Conflict. The container name "${full}" is already in use by container "${other.Id}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    const old = c.Name;
    c.Name = full;
    for (const ep of Object.values(c.Networks)) {
      if (ep.DNSNames) ep.DNSNames = ep.DNSNames.map((n) => (n === old.slice(1) ? full.slice(1) : n));
    }
    await this.backend.recordChanged?.(c);
    await this.save(c);
    this.emit(c, "rename", { oldName: old });
  }

  async update(ref: string, body: HostConfig): Promise<{ Warnings: string[] }> {
    const c = this.get(ref);
    if (body.RestartPolicy) {
      if (c.HostConfig.AutoRemove && body.RestartPolicy.Name && body.RestartPolicy.Name !== "no") {
        throw badRequest(
          `Cannot update container ${c.Id}: Restart policy cannot be updated because AutoRemove is enabled for the container`,
        );
      }
      validateCreate({ Cmd: ["x"] }, { RestartPolicy: body.RestartPolicy });
    }
    // the platform applies resource limits first: if it refuses them, nothing changes here
    const { RestartPolicy: _r, ...resources } = body;
    if (this.backend.update && Object.keys(resources).length) await this.backend.update(c.Id, resources);
    if (body.RestartPolicy) c.HostConfig.RestartPolicy = { MaximumRetryCount: 0, ...body.RestartPolicy };
    for (const [k, v] of Object.entries(body)) {
      if (k !== "RestartPolicy" && v !== undefined && v !== null && v !== 0 && v !== "")
        (c.HostConfig as Record<string, unknown>)[k] = v;
    }
    await this.save(c);
    this.emit(c, "update");
    return { Warnings: [] };
  }

  async prune(filters: Filters): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    checkFilterKeys(filters, ["until", "label", "label!"]);
    const until = filters.get("until")?.[0];
    const cutoff = until ? parseTimeArg(until) : undefined;
    const deleted: string[] = [];
    let space = 0;
    for (const c of [...this.records.values()]) {
      if (c.State.Running || c.State.Restarting) continue;
      if (cutoff !== undefined && Date.parse(c.Created) >= cutoff) continue;
      const labels = c.Config.Labels ?? {};
      if (!matchLabels(labels, filters.get("label"))) continue;
      if (filters.get("label!")?.some((l) => matchLabels(labels, [l]))) continue;
      space += await this.backend.sizeRw(this.runSpec(c));
      await this.remove(c.Id, { force: false, volumes: false });
      deleted.push(c.Id);
    }
    this.events.emit("container", "prune", "", { reclaimed: String(space) });
    return { ContainersDeleted: deleted, SpaceReclaimed: space };
  }

  // ---------------------------------------------------------------- streams

  async logs(
    ref: string,
    q: LogQuery & { follow: boolean },
    onRecord: (r: LogRecord) => void | Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const c = this.get(ref);
    const rt = this.runtime(c.Id);
    const follow = q.follow && c.State.Running;
    if (this.backend.readLogs) {
      const ended = follow ? rt.nextExit() : undefined;
      return this.backend.readLogs(c, q, ended && { ended }, onRecord, signal);
    }
    const live: LogRecord[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    const onLive = (r: LogRecord) => {
      live.push(r);
      wake?.();
    };
    // Subscribe before reading the file so nothing falls between the two.
    if (follow) {
      rt.log.on("record", onLive);
      rt.nextExit().then(() => {
        ended = true;
        wake?.();
      });
      signal.addEventListener("abort", () => wake?.());
    }
    try {
      if (c.State.Running) rt.log.flush();
      const stored = await rt.log.readAll();
      const seen = stored.length ? stored[stored.length - 1].timeNs : -1n;
      for (const r of selectRecords(stored, q)) await onRecord(r);
      if (!follow) return;
      const liveQuery = { ...q, tail: undefined };
      while (!signal.aborted) {
        while (live.length) {
          const r = live.shift()!;
          if (r.timeNs > seen && selectRecords([r], liveQuery).length) await onRecord(r);
        }
        if (ended) break;
        await new Promise<void>((res) => (wake = res));
        wake = undefined;
      }
    } finally {
      rt.log.off("record", onLive);
    }
  }

  /** Attach a client to the container's stdio; `done` resolves at the container's next exit. */
  attach(ref: string, opts: { stdin: boolean; stdout: boolean; stderr: boolean }, listener: OutputListener) {
    const c = this.get(ref);
    const rt = this.runtime(c.Id);
    const filtered: OutputListener = (stream, data) => {
      if ((stream === "stdout" && opts.stdout) || (stream === "stderr" && opts.stderr))
        listener(stream, data);
    };
    rt.attached.add(filtered);
    const done = rt.nextExit().finally(() => rt.attached.delete(filtered));
    const stdinOpen = opts.stdin && !!c.Config.OpenStdin;
    return {
      tty: !!c.Config.Tty,
      done,
      writeStdin: (b: Buffer) => {
        if (stdinOpen) rt.writeStdin(b);
      },
      /** the client closed its stdin: with StdinOnce, the process gets EOF */
      endStdin: () => {
        if (stdinOpen && c.Config.StdinOnce) rt.endStdin();
      },
      detach: () => rt.attached.delete(filtered),
    };
  }

  async pause(ref: string): Promise<void> {
    const c = this.get(ref);
    if (!this.backend.capabilities.pause || !this.backend.pause)
      throw notImplemented(`pause is not supported by the ${this.backend.name} backend`);
    await this.locked(c.Id, async () => {
      if (!c.State.Running || c.State.Restarting) throw conflict(`Container ${c.Id} is not running`);
      if (c.State.Paused) throw conflict(`Container ${c.Id} is already paused`);
      await this.backend.pause!(c.Id);
      Object.assign(c.State, { Status: "paused", Paused: true });
      await this.save(c);
      this.emit(c, "pause");
    });
  }

  async unpause(ref: string): Promise<void> {
    const c = this.get(ref);
    if (!this.backend.capabilities.pause || !this.backend.unpause)
      throw notImplemented(`unpause is not supported by the ${this.backend.name} backend`);
    await this.locked(c.Id, async () => {
      if (!c.State.Paused) throw conflict(`Container ${c.Id} is not paused`);
      await this.backend.unpause!(c.Id);
      Object.assign(c.State, { Status: "running", Paused: false });
      await this.save(c);
      this.emit(c, "unpause");
    });
  }

  resize(ref: string, h: number, w: number): void {
    const c = this.get(ref);
    if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
    this.runtime(c.Id).proc?.resize(h, w);
  }

  async top(ref: string, psArgs?: string) {
    const c = this.get(ref);
    if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
    if (this.backend.top) return this.backend.top(c.Id, psArgs).catch((e) => rethrowNamed(e, c, ref));
    const started = new Date(c.State.StartedAt).toTimeString().slice(0, 5);
    return {
      Titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
      Processes: [
        [
          c.Config.User || "root",
          String(c.State.Pid),
          "0",
          "0",
          started,
          c.Config.Tty ? "pts/0" : "?",
          "00:00:00",
          [c.Path, ...c.Args].join(" "),
        ],
      ],
    };
  }

  async stats(ref: string) {
    const c = this.get(ref);
    // a stopped container has no usage to read (dockerd answers zeros too)
    const s = c.State.Running ? await this.backend.stats(c.Id) : { cpuNanos: 0, memoryBytes: 0, pids: 0 };
    const now = nowIso();
    const cpu = {
      cpu_usage: { total_usage: s.cpuNanos, usage_in_kernelmode: 0, usage_in_usermode: s.cpuNanos },
      system_cpu_usage: Number(process.hrtime.bigint()),
      online_cpus: 1,
      throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
    };
    const limit =
      typeof c.HostConfig.Memory === "number" && c.HostConfig.Memory > 0 ? c.HostConfig.Memory : 0;
    return {
      name: c.Name,
      id: c.Id,
      read: c.State.Running ? now : ZERO_TIME,
      preread: ZERO_TIME,
      pids_stats: { current: c.State.Running ? s.pids : 0 },
      blkio_stats: { io_service_bytes_recursive: null, io_serviced_recursive: null },
      num_procs: 0,
      storage_stats: {},
      cpu_stats: cpu,
      precpu_stats: { cpu_usage: { total_usage: 0 }, throttling_data: cpu.throttling_data },
      memory_stats: c.State.Running ? { usage: s.memoryBytes, stats: {}, limit } : {},
    };
  }

  async changes(ref: string) {
    return this.backend.changes(this.runSpec(this.get(ref)));
  }

  async exportFs(ref: string): Promise<Readable> {
    const c = this.get(ref);
    this.emit(c, "export");
    return this.backend.exportFs(this.runSpec(c));
  }

  async statPath(ref: string, p: string) {
    const c = this.get(ref);
    return this.backend.statPath(this.runSpec(c), p).catch((e) => rethrowNamed(e, c, ref));
  }

  async getArchive(ref: string, p: string) {
    const c = this.get(ref);
    const r = await this.backend.getArchive(this.runSpec(c), p).catch((e) => rethrowNamed(e, c, ref));
    this.emit(c, "archive-path");
    return r;
  }

  async putArchive(ref: string, p: string, tar: Readable, noOverwriteDirNonDir: boolean) {
    const c = this.get(ref);
    const readOnly = c.HostConfig.ReadonlyRootfs === true;
    if (readOnly) throw new DockerError(403, "container rootfs is marked read-only");
    await this.backend
      .putArchive(this.runSpec(c), p, tar, { noOverwriteDirNonDir })
      .catch((e) => rethrowNamed(e, c, ref));
    this.emit(c, "extract-to-dir");
  }

  async connect(ref: string, netRef: string, ep: EndpointSettings): Promise<void> {
    const c = this.get(ref);
    const n = this.networks.get(netRef);
    const mode = c.HostConfig.NetworkMode ?? "";
    if (mode === "host" || mode === "none" || mode.startsWith("container:")) {
      throw badRequest(
        `container sharing network namespace with another container or host cannot be connected to any other network`,
      );
    }
    this.attachNetwork(c, n.Name, ep);
    try {
      await this.backend.networks?.connect(c.Id, n, c.Networks[n.Name]);
    } catch (e) {
      delete c.Networks[n.Name];
      throw e;
    }
    if (c.State.Running) this.joinAliases(c, n.Name);
    if (c.State.Running && this.backend.observe) await this.applyObserved(c);
    await this.save(c);
    if (c.State.Running) await this.refreshPeerHosts(c, [n.Name]);
    this.events.emit("network", "connect", n.Id, { container: c.Id, name: n.Name, type: n.Driver });
  }

  async disconnect(ref: string, netRef: string, force: boolean): Promise<void> {
    const n = this.networks.get(netRef);
    const c = this.find(ref);
    if (!c) {
      if (force) return;
      throw noSuchContainer(ref);
    }
    if (!c.Networks[n.Name]) {
      throw new DockerError(403, `container ${c.Id} is not connected to network ${n.Name}`);
    }
    await this.backend.networks?.disconnect(c.Id, n, force);
    delete c.Networks[n.Name];
    await this.save(c);
    if (c.State.Running) {
      await this.refreshPeerHosts(c, [n.Name]);
      await this.backend.refreshHosts?.(this.runSpec(c)); // its former peers are gone from its own
    }
    this.events.emit("network", "disconnect", n.Id, { container: c.Id, name: n.Name, type: n.Driver });
  }
}

/** `docker ps` PORTS: the published bindings of a running container (none on the memory backend). */
function portList(c: ContainerRecord) {
  if (!c.State.Running || !c.PublishedPorts) return [];
  const out: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] = [];
  for (const [key, bindings] of Object.entries(c.PublishedPorts)) {
    const [port, type = "tcp"] = key.split("/");
    if (!bindings?.length) out.push({ PrivatePort: Number(port), Type: type });
    for (const b of bindings ?? [])
      out.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type });
  }
  return out;
}

/** Backends name containers by id; dockerd's messages name them as the user did. */
function rethrowNamed(e: unknown, c: ContainerRecord, ref: string): never {
  if (e instanceof DockerError && e.message.includes(c.Id))
    throw new DockerError(e.status, e.message.replace(c.Id, ref));
  throw e;
}

function forbiddenEndpoint(c: ContainerRecord, net: string) {
  return new DockerError(403, `endpoint with name ${c.Name.slice(1)} already exists in network ${net}`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A missing bind source: `--mount` is refused, `-v` creates the host directory (as dockerd). */
async function ensureBindSource(source: string, target: string, host: HostConfig): Promise<void> {
  try {
    await fs.stat(source);
  } catch {
    if ((host.Mounts ?? []).some((x) => x.Target === target && x.Type === "bind"))
      throw badRequest(`invalid mount config for type "bind": bind source path does not exist: ${source}`);
    await fs.mkdir(source, { recursive: true });
  }
}
