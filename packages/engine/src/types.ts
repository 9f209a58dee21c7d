import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import type {
  ImageConfig,
  ImageDeleteResponseItem,
  ImageHistoryItem,
  ImageInspect,
  ImagePruneReport,
  ImageRecord,
  ImageSummary,
  ProgressMessage,
  RegistryAuth,
} from "@sockerless/images";
import type { LogQuery, LogRecord } from "./logs.js";
import type { Network } from "./networks.js";
import type { Volume } from "./volumes.js";

/** Container.Config as the Docker API sends it on create and echoes on inspect. */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: ImageConfig["Healthcheck"];
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  NetworkDisabled?: boolean;
  MacAddress?: string;
  OnBuild?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number | null;
  Shell?: string[] | null;
}

export interface MountSpec {
  Type: "bind" | "volume" | "tmpfs";
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  VolumeOptions?: { Labels?: Record<string, string>; NoCopy?: boolean };
}

export interface RestartPolicy {
  Name: "" | "no" | "always" | "unless-stopped" | "on-failure";
  MaximumRetryCount?: number;
}

export interface HostConfig {
  Binds?: string[] | null;
  Mounts?: MountSpec[] | null;
  Tmpfs?: Record<string, string> | null;
  NetworkMode?: string;
  PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null;
  PublishAllPorts?: boolean;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  ExtraHosts?: string[] | null;
  Memory?: number;
  Privileged?: boolean;
  Init?: boolean | null;
  [key: string]: unknown;
}

export interface EndpointSettings {
  IPAMConfig?: { IPv4Address?: string } | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  MacAddress?: string;
  NetworkID?: string;
  EndpointID?: string;
  Gateway?: string;
  IPAddress?: string;
  IPPrefixLen?: number;
  IPv6Gateway?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  DriverOpts?: Record<string, string> | null;
  DNSNames?: string[] | null;
}

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: "starting" | "healthy" | "unhealthy";
  FailingStreak: number;
  Log: HealthLogEntry[];
}

export interface ContainerState {
  Status: "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: HealthState;
}

export interface MountPoint {
  Type: "bind" | "volume" | "tmpfs";
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

/** Everything the engine persists about one container. */
export interface ContainerRecord {
  Id: string;
  Name: string; // with leading "/"
  Created: string;
  Path: string;
  Args: string[];
  Config: ContainerConfig;
  HostConfig: HostConfig;
  Image: string; // image id
  ImageRef: string; // as the user asked (Config.Image)
  State: ContainerState;
  RestartCount: number;
  Networks: Record<string, EndpointSettings>;
  Mounts: MountPoint[];
  /** Set when the user stopped the container, so unless-stopped / always know not to restart it. */
  ManuallyStopped: boolean;
  /** Ports the platform really published at the last start (backends that publish; see Observed). */
  PublishedPorts?: PortMap;
}

/** NetworkSettings.Ports: container port ("80/tcp") -> host bindings, null when not published. */
export type PortMap = Record<string, { HostIp: string; HostPort: string }[] | null>;

/** A running process (the container's main process or an exec), as a backend gives it to the engine. */
export interface RunningProcess {
  onOutput(listener: (stream: "stdout" | "stderr", data: Buffer) => void): void;
  writeStdin(data: Buffer): void;
  endStdin(): void;
  signal(sig: string): void;
  resize(rows: number, cols: number): void;
  readonly exited: Promise<number>;
  /** Why the process ended, when the platform says more than an exit code (State.Error). */
  readonly exitError?: string;
}

export interface ExecSpec {
  Cmd: string[];
  Env: string[];
  WorkingDir: string;
  User: string;
  Tty: boolean;
  OpenStdin: boolean;
}

/** Stat info for archive HEAD/GET, in Docker's X-Docker-Container-Path-Stat shape. */
export interface PathStat {
  name: string;
  size: number;
  mode: number; // Go os.FileMode bits
  mtime: string;
  linkTarget: string;
}

export interface ContainerStats {
  cpuNanos: number;
  memoryBytes: number;
  pids: number;
}

export interface BackendCapabilities {
  exec: boolean;
  attach: boolean;
  archive: boolean;
  pause: boolean;
  hostBinds: boolean;
  tty: boolean;
  /**
   * Bind sources are paths on the platform's host (a remote Docker Engine), not on ours: the
   * engine passes them through unchecked and the platform reports a missing path.
   */
  platformBinds?: boolean;
  /** Published ports are really published by the platform. */
  ports?: boolean;
}

/** Resolved mounts handed to a backend: host directories for volumes and binds. */
export interface ResolvedMount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
}

/** What a backend needs to run a container; built by the engine. */
export interface RunSpec {
  id: string;
  imageId: string;
  argv: string[];
  env: string[];
  cwd: string;
  user: string;
  hostname: string;
  tty: boolean;
  openStdin: boolean;
  mounts: ResolvedMount[];
  /** Lines for /etc/hosts (name resolution between containers on a network). */
  hosts: string[];
  memoryBytes?: number;
  /**
   * The whole record. Passthrough backends (docker) map the user's Docker config onto their
   * platform from it; read-only for a backend.
   */
  container: Readonly<ContainerRecord>;
  /** `--network container:NAME`: the id of that container, resolved now (it may have been renamed). */
  networkContainerId?: string;
}

/**
 * The Backend contract: only what touches the platform. The engine owns every Docker object and
 * its semantics; a backend never sees HTTP.
 */
export interface Backend {
  readonly name: string;
  readonly capabilities: BackendCapabilities;
  /** Called once before the engine serves anything. */
  init(): Promise<void>;
  /** Make the container's filesystem ready (before start and before archive PUT on a created container). */
  prepare(spec: RunSpec): Promise<void>;
  /** Fail like dockerd's `start` would if the command cannot run (e.g. executable not found). */
  start(spec: RunSpec): Promise<RunningProcess>;
  /** Rewrite a running container's /etc/hosts from `spec.hosts` (peers joined or left its networks). */
  refreshHosts?(spec: RunSpec): Promise<void>;
  exec(spec: RunSpec, exec: ExecSpec): Promise<RunningProcess>;
  remove(id: string): Promise<void>;
  statPath(spec: RunSpec, path: string): Promise<PathStat>;
  getArchive(spec: RunSpec, path: string): Promise<{ stat: PathStat; tar: Readable }>;
  putArchive(
    spec: RunSpec,
    path: string,
    tar: Readable,
    opts: { noOverwriteDirNonDir: boolean },
  ): Promise<void>;
  exportFs(spec: RunSpec): Promise<Readable>;
  changes(spec: RunSpec): Promise<{ Path: string; Kind: 0 | 1 | 2 }[]>;
  /**
   * The container's writable layer as an uncompressed tar in the Docker layer format (added and
   * changed paths, `.wh.` whiteouts for deletions), for commit and build. Optional: without it
   * commit and build answer 501.
   */
  diffTar?(spec: RunSpec): Promise<Readable>;
  sizeRw(spec: RunSpec): Promise<number>;
  /** usage of a running container */
  stats(id: string): ContainerStats | Promise<ContainerStats>;

  // ---- Optional extensions (see "Platform-owned objects" below). A backend that leaves them out
  // (memory) gets the engine's own stores and a 501 for pause; none of them sees HTTP.

  /** The platform keeps images (pull, list, inspect, tag, remove); the engine's store is unused. */
  readonly images?: ImageProvider;
  /** Networks created through Sockerless also become networks of the platform. */
  readonly networks?: NetworkHooks;
  /** Named volumes created through Sockerless also become volumes of the platform. */
  readonly volumes?: VolumeHooks;
  /** Freeze / thaw every process of the container (capabilities.pause must be true). */
  pause?(id: string): Promise<void>;
  unpause?(id: string): Promise<void>;
  /** Apply `docker update`'s resource limits (not the restart policy, which the engine owns). */
  update?(id: string, resources: Omit<HostConfig, "RestartPolicy">): Promise<void>;
  /** Fields of /info the platform answers for itself (a Docker Engine: its containerd/runc/init commits). */
  info?(): Promise<Record<string, unknown>>;
  /** The container's real process table, in the Docker API's shape. */
  top?(id: string, psArgs: string | undefined): Promise<{ Titles: string[]; Processes: string[][] }>;
  /**
   * After a daemon restart: the platform's view of the containers the engine knows, by id. A
   * running one comes with its live process (re-attached); an id missing from the map is gone.
   */
  recover?(specs: RunSpec[]): Promise<Map<string, RecoveredContainer>>;
  /**
   * What the platform assigned a container at start: its main process' pid and its network
   * endpoints (addresses); they replace the engine's own numbers in inspect.
   */
  observe?(id: string): Promise<Observed>;

  // Backends whose platform is the source of truth (the cloud backends: records live in tags).
  /**
   * At daemon start, before `recover`: every container the platform holds for this daemon's
   * settings. The engine adds those this data root lacks (a second daemon, another data root) and
   * forgets those the platform no longer holds (removed by another daemon).
   */
  discover?(): Promise<ContainerRecord[]>;
  /** The record changed in a way the platform must remember (rename). */
  recordChanged?(record: ContainerRecord): Promise<void>;
  /**
   * Logs kept by the platform instead of the engine's log file. With `follow`, keep reading
   * until `ended` resolves (the container stopped), then drain what is left.
   */
  readLogs?(
    record: ContainerRecord,
    q: LogQuery,
    follow: { ended: Promise<unknown> } | undefined,
    onRecord: (r: LogRecord) => void | Promise<void>,
    signal: AbortSignal,
  ): Promise<void>;
}

/*
 * Platform-owned objects. The engine still owns Docker semantics for every object (names, ids,
 * filters, events, error codes); when a backend supplies these hooks it also mirrors the object onto
 * its platform, so what the platform runs is connected and mounted as the user asked. A hook that
 * throws aborts the engine's operation before anything is saved.
 */

/** Images kept by the platform (a Docker Engine pulls with its own registry configuration). */
export interface ImageProvider {
  /** Image config and id for `create`; undefined when the platform has no such image. */
  resolve(ref: string): Promise<ImageRecord | undefined>;
  /** Sync lookup of an image seen before (for sizes in listings); may miss. */
  cached(id: string): ImageRecord | undefined;
  list(query: { all: boolean; filters: string | undefined; digests: boolean }): Promise<ImageSummary[]>;
  inspect(ref: string): Promise<ImageInspect>;
  history(ref: string): Promise<ImageHistoryItem[]>;
  pull(
    ref: string,
    auth: RegistryAuth | undefined,
    platform: string | undefined,
    onProgress: (m: ProgressMessage) => void,
  ): Promise<void>;
  tag(ref: string, repo: string, tag: string | undefined): Promise<void>;
  remove(ref: string, force: boolean, noprune: boolean): Promise<ImageDeleteResponseItem[]>;
  prune(filters: string | undefined): Promise<ImagePruneReport>;
  /**
   * Image operations the platform does itself (build, commit, push, save, load, import): the
   * client's request goes to it (its path unversioned, `query` rewritten where names differ) and
   * its answer comes back as it is. Without it they answer 501.
   */
  forward?(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void>;
  /** The platform's name of container `id`, for a forwarded commit. */
  containerRef?(id: string): string;
}

export interface NetworkHooks {
  /** May fill in what the platform chose (n.IPAM.Config: the subnet it picked when none was asked). */
  create(n: Network): Promise<void>;
  remove(n: Network): Promise<void>;
  /** Only called for containers that exist on the platform (after create). */
  connect(containerId: string, n: Network, ep: EndpointSettings): Promise<void>;
  disconnect(containerId: string, n: Network, force: boolean): Promise<void>;
}

export interface VolumeHooks {
  /** Returns where the platform keeps the volume's data (shown as Mountpoint). */
  create(v: Volume): Promise<{ mountpoint: string }>;
  remove(v: Volume): Promise<void>;
}

export interface Observed {
  pid?: number;
  endpoints: Record<string, Partial<EndpointSettings>>;
  /** the ports the platform published */
  ports?: PortMap;
}

/** Output the platform kept while we were away: what was written after `sinceNs` (ns since the epoch). */
export type MissedOutput = (sinceNs: bigint) => Promise<{ stream: "stdout" | "stderr"; data: Buffer }[]>;

export type RecoveredContainer =
  | {
      state: "running";
      proc: RunningProcess;
      startedAt: string;
      paused: boolean;
      pid?: number;
      missed?: MissedOutput;
    }
  | { state: "exited"; exitCode: number; finishedAt: string; oomKilled: boolean; missed?: MissedOutput }
  | { state: "created" };
