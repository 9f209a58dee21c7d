/** Image config as in the OCI/Docker image config JSON (`config` member). */
export interface ImageConfig {
  User?: string;
  Env?: string[];
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: {
    Test?: string[];
    Interval?: number;
    Timeout?: number;
    StartPeriod?: number;
    StartInterval?: number;
    Retries?: number;
  };
  OnBuild?: string[] | null;
  Shell?: string[];
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
  author?: string;
}

/** One image in the local store. `id` is "sha256:<hex>" of the config blob. */
export interface ImageRecord {
  id: string;
  repoTags: string[]; // e.g. "busybox:latest", "127.0.0.1:5000/busybox:latest" (familiar form, as docker shows)
  repoDigests: string[]; // e.g. "127.0.0.1:5000/busybox@sha256:..."
  created: string; // RFC3339
  architecture: string;
  os: string;
  variant?: string;
  author?: string;
  comment?: string;
  config: ImageConfig;
  diffIds: string[]; // rootfs.diff_ids
  layers: string[]; // compressed layer blob digests, same order as diffIds
  size: number; // sum of uncompressed layer sizes
  history: HistoryEntry[];
  parent?: string;
  /** Uncompressed size of each layer (as dockerd's DiffSize: file bytes + symlink target lengths), same order as diffIds. */
  layerSizes?: number[];
  /** Digest of the platform-specific manifest that was pulled (stored as a blob). */
  manifestDigest?: string;
  /** RFC3339 time of the last `docker tag` on this image (Metadata.LastTagTime). */
  lastTagTime?: string;
}

/** docker's X-Registry-Auth payload (already base64-decoded and parsed). */
export interface RegistryAuth {
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  serveraddress?: string;
}

/** A JSON message as the docker CLI renders in pull progress. */
export interface ProgressMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message: string };
  /** Text output (load: "Loaded image: x:y\n"). */
  stream?: string;
  /** Extra result data (push: {Tag, Digest, Size}). */
  aux?: unknown;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface RegistryOptions {
  /** "host:port" entries (or CIDRs) reached over plain HTTP, like dockerd's --insecure-registry. */
  insecureRegistries: string[];
  /** Mirror base URLs for Docker Hub, like dockerd's --registry-mirror. */
  mirrors: string[];
}

export interface ParsedReference {
  domain: string; // "docker.io", "127.0.0.1:5000"
  path: string; // "library/busybox"
  tag?: string;
  digest?: string;
  /** familiar name as docker prints it: "busybox", "127.0.0.1:5000/busybox" */
  familiarName: string;
}
