import { promises as fs } from "node:fs";
import path from "node:path";
import { badRequest } from "@sockerless/api";
import type { Backend, ExecSpec, RunningProcess, RunSpec } from "@sockerless/engine";
import type { ImageStore } from "@sockerless/images";
import { resolveCommand, resolveUser, spawnSandbox, type SandboxSpec } from "@sockerless/sandbox";
import { exportTar, getArchive, putArchive, statPath, type FsView } from "./archive.js";
import { diffTrees } from "./changes.js";
import { layerTar } from "./layer.js";
import { RootfsPool } from "./rootfs-pool.js";

/** Files the daemon manages in every container; not reported by `docker diff`. */
const MANAGED = new Set(["/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/.dockerenv"]);

export interface MemoryBackendOptions {
  dataRoot: string;
  /** Where containers' filesystems live (a tmpfs by default); defaults to <dataRoot>/memory. */
  rootfsRoot?: string;
  images: ImageStore;
  /** Kill a container's process after this long (ms); undefined = no limit. */
  maxRunMs?: number;
  /** Upper bound of interpreter memory for any container, bytes. */
  maxMemoryBytes?: number;
}

/**
 * The embedded backend: a container's filesystem is a real directory (the image's unpacked
 * layers copied, then written to), and its processes run in the in-process bash sandbox.
 */
export class MemoryBackend implements Backend {
  readonly name = "memory";
  readonly capabilities = {
    exec: true,
    attach: true,
    archive: true,
    pause: false,
    hostBinds: true,
    tty: true,
  };
  private readonly running = new Map<string, number>(); // container id -> live processes
  private readonly pool: RootfsPool;
  /** /etc files last written per container, to skip rewriting them on every start */
  private readonly managed = new Map<string, string>();
  private readonly managedWrites = new Map<string, Promise<void>>();

  constructor(private readonly opts: MemoryBackendOptions) {
    this.pool = new RootfsPool(path.join(this.base(), ".pool"));
  }

  private base() {
    return this.opts.rootfsRoot ?? path.join(this.opts.dataRoot, "memory");
  }

  async init(): Promise<void> {
    await fs.mkdir(this.base(), { recursive: true });
    // leftovers of a crash: removals and copies that did not finish
    for (const name of await fs.readdir(this.base())) {
      if (name.endsWith(".removed"))
        await fs.rm(path.join(this.base(), name), { recursive: true, force: true });
    }
    await this.pool.init();
  }

  private dir(id: string) {
    return path.join(this.base(), id);
  }

  private rootfs(id: string) {
    return path.join(this.dir(id), "rootfs");
  }

  private view(spec: RunSpec): FsView {
    return { rootfs: this.rootfs(spec.id), mounts: spec.mounts, containerId: spec.id };
  }

  async prepare(spec: RunSpec): Promise<void> {
    const root = this.rootfs(spec.id);
    try {
      await fs.access(root);
    } catch {
      const image = await this.opts.images.rootfsPath(spec.imageId);
      const tmp = root + ".tmp"; // a copy cut short by a crash is thrown away here
      await fs.rm(tmp, { recursive: true, force: true });
      await fs.mkdir(path.dirname(root), { recursive: true });
      await this.pool.take(image, tmp);
      await fs.rename(tmp, root);
    }
    await this.writeManagedFiles(spec);
    await this.makeMountPoints(spec);
  }

  refreshHosts(spec: RunSpec): Promise<void> {
    return this.writeManagedFiles(spec);
  }

  private async makeMountPoints(spec: RunSpec) {
    const root = this.rootfs(spec.id);
    for (const m of spec.mounts)
      await fs.mkdir(path.join(root, m.containerPath), { recursive: true }).catch(() => {});
    if (spec.cwd && spec.cwd !== "/")
      await fs.mkdir(path.join(root, spec.cwd), { recursive: true }).catch(() => {});
  }

  /**
   * Writes for one container run one after the other, in call order (peers starting in parallel
   * each refresh its /etc/hosts), and each file is replaced by a rename: a reader never sees it
   * half written.
   */
  private writeManagedFiles(spec: RunSpec): Promise<void> {
    const prev = this.managedWrites.get(spec.id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => this.writeManagedFilesNow(spec));
    this.managedWrites.set(spec.id, next);
    const forget = () => {
      if (this.managedWrites.get(spec.id) === next) this.managedWrites.delete(spec.id);
    };
    next.then(forget, forget);
    return next;
  }

  private async writeManagedFilesNow(spec: RunSpec) {
    const hosts = spec.hosts.join("\n") + "\n";
    const key = hosts + spec.hostname;
    if (this.managed.get(spec.id) === key) return;
    const etc = path.join(this.rootfs(spec.id), "etc");
    await fs.mkdir(etc, { recursive: true });
    const replace = async (name: string, text: string) => {
      const tmp = path.join(etc, `.${name}.sockerless-new`);
      await fs.writeFile(tmp, text);
      await fs.rename(tmp, path.join(etc, name));
    };
    await replace("hosts", hosts);
    await replace("hostname", spec.hostname + "\n");
    await replace("resolv.conf", "# the memory backend has no network\n");
    // dockerd puts an empty /.dockerenv in every container; programs test for it to know they run in one
    await fs.writeFile(path.join(this.rootfs(spec.id), ".dockerenv"), "", { flag: "a" });
    this.managed.set(spec.id, key);
  }

  private sandboxSpec(spec: RunSpec, over: Partial<SandboxSpec>): SandboxSpec {
    const limits: SandboxSpec["limits"] = {};
    const mem = Math.min(spec.memoryBytes ?? Infinity, this.opts.maxMemoryBytes ?? Infinity);
    if (Number.isFinite(mem)) limits.memoryBytes = mem;
    if (this.opts.maxRunMs) limits.timeoutMs = this.opts.maxRunMs;
    return {
      rootfs: this.rootfs(spec.id),
      mounts: spec.mounts.map((m) => ({
        hostPath: m.hostPath,
        containerPath: m.containerPath,
        readOnly: m.readOnly,
      })),
      readOnlyRootfs: spec.container?.HostConfig.ReadonlyRootfs === true,
      argv: spec.argv,
      env: spec.env,
      cwd: spec.cwd,
      user: spec.user,
      hostname: spec.hostname,
      tty: spec.tty,
      openStdin: spec.openStdin,
      isInit: true,
      limits,
      shareKey: spec.imageId,
      ...over,
    };
  }

  private track(id: string, proc: RunningProcess): RunningProcess {
    this.running.set(id, (this.running.get(id) ?? 0) + 1);
    proc.exited.then(() => this.running.set(id, Math.max(0, (this.running.get(id) ?? 1) - 1)));
    return proc;
  }

  async start(spec: RunSpec): Promise<RunningProcess> {
    await this.prepare(spec);
    const sspec = this.sandboxSpec(spec, {});
    // an unknown user fails the start itself, with dockerd's bare message (docker run exits 125)
    const userError = resolveUser(sspec).error;
    if (userError) throw badRequest(userError.message);
    const cmd = resolveCommand(sspec);
    if (cmd.error) {
      // dockerd's wording, so clients map it to exit code 127 (not found) or 126 (cannot execute)
      throw badRequest(
        `failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: ${cmd.error.message}: unknown`,
      );
    }
    return this.track(spec.id, spawnSandbox(sspec));
  }

  async exec(spec: RunSpec, exec: ExecSpec): Promise<RunningProcess> {
    const sspec = this.sandboxSpec(spec, {
      argv: exec.Cmd,
      env: exec.Env,
      cwd: exec.WorkingDir,
      user: exec.User,
      tty: exec.Tty,
      openStdin: exec.OpenStdin,
      isInit: false,
    });
    return this.track(spec.id, spawnSandbox(sspec));
  }

  async remove(id: string): Promise<void> {
    this.running.delete(id);
    this.managed.delete(id);
    const trash = `${this.dir(id)}.removed`;
    await fs.rename(this.dir(id), trash).catch(() => {});
    void fs.rm(trash, { recursive: true, force: true });
  }

  statPath(spec: RunSpec, p: string) {
    return statPath(this.view(spec), p);
  }

  getArchive(spec: RunSpec, p: string) {
    return getArchive(this.view(spec), p);
  }

  async putArchive(
    spec: RunSpec,
    p: string,
    tar: import("node:stream").Readable,
    opts: { noOverwriteDirNonDir: boolean },
  ) {
    await this.prepare(spec);
    return putArchive(this.view(spec), p, tar, opts);
  }

  async exportFs(spec: RunSpec) {
    return exportTar(this.rootfs(spec.id));
  }

  async changes(spec: RunSpec) {
    const image = await this.opts.images.rootfsPath(spec.imageId);
    const ignore = new Set([...MANAGED, ...spec.mounts.map((m) => m.containerPath)]);
    return diffTrees(image, this.rootfs(spec.id), ignore);
  }

  async diffTar(spec: RunSpec) {
    return layerTar(this.rootfs(spec.id), await this.changes(spec));
  }

  async sizeRw(spec: RunSpec): Promise<number> {
    // What the container wrote: sizes of files added or changed against its image.
    const root = this.rootfs(spec.id);
    let total = 0;
    for (const ch of await this.changes(spec)) {
      if (ch.Kind === 2) continue;
      const st = await fs.lstat(path.join(root, ch.Path)).catch(() => undefined);
      if (st?.isFile()) total += st.size;
    }
    return total;
  }

  stats(id: string) {
    // The sandbox cannot measure per-container CPU or memory; only the process count is real.
    return { cpuNanos: 0, memoryBytes: 0, pids: this.running.get(id) ?? 0 };
  }
}
