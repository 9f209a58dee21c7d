/** Shapes of the Docker Engine API v1.44 image responses, and of OCI manifests. */

export interface ImageDeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

export interface ImagePruneReport {
  ImagesDeleted: ImageDeleteResponseItem[] | null;
  SpaceReclaimed: number;
}

export interface ImagePruneFilters {
  /** true (default): only untagged images; false: all images not used by a container. */
  dangling?: boolean;
  /** Go duration ("24h"), unix timestamp or RFC3339 date: only images created before. */
  until?: string | string[];
  /** "key" or "key=value": images must carry all of these labels. */
  label?: string[];
  /** "key" or "key=value": images must carry none of these labels. */
  "label!"?: string[];
}

export interface ImageHistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  Labels: Record<string, string> | null;
  Containers: number;
}

export interface ImageInspectConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, object>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[] | null;
  Cmd: string[] | null;
  Healthcheck?: object;
  ArgsEscaped?: boolean;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string> | null;
  StopSignal?: string;
  Shell?: string[];
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Container: string;
  ContainerConfig: ImageInspectConfig;
  DockerVersion: string;
  Author: string;
  Config: ImageInspectConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

/** OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: {
    os: string;
    architecture: string;
    variant?: string;
    "os.version"?: string;
    "os.features"?: string[];
  };
}

export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
}

/** The image config blob (application/vnd.oci.image.config.v1+json). */
export interface ImageConfigBlob {
  created?: string;
  author?: string;
  architecture?: string;
  os?: string;
  variant?: string;
  comment?: string;
  config?: import("./types.js").ImageConfig & { ArgsEscaped?: boolean };
  rootfs?: { type?: string; diff_ids?: string[] };
  history?: import("./types.js").HistoryEntry[];
  docker_version?: string;
  container?: string;
}
