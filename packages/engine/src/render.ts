import path from "node:path";
import type { ContainerRecord, HostConfig, MountPoint, PortMap } from "./types.js";
import type { Network } from "./networks.js";

/** go-units HumanDuration, which `docker ps` prints in Status. */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.round(ms / 60000);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.round(ms / 3600000);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

export function statusText(c: ContainerRecord, now = Date.now()): string {
  const s = c.State;
  if (s.Restarting) return `Restarting (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
  if (s.Running) {
    const health = s.Health
      ? s.Health.Status === "starting"
        ? " (health: starting)"
        : ` (${s.Health.Status})`
      : "";
    return `Up ${humanDuration(now - Date.parse(s.StartedAt))}${s.Paused ? " (Paused)" : ""}${health}`;
  }
  if (s.Status === "created") return "Created";
  if (s.Status === "dead") return "Dead";
  if (s.Status === "removing") return "Removal In Progress";
  return `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
}

export function networkSettings(c: ContainerRecord, networks: (id: string) => Network | undefined) {
  const nets: Record<string, unknown> = {};
  for (const [name, ep] of Object.entries(c.Networks)) {
    nets[name] = {
      IPAMConfig: ep.IPAMConfig ?? null,
      Links: ep.Links ?? null,
      Aliases: ep.Aliases ?? null,
      MacAddress: ep.MacAddress ?? "",
      DriverOpts: ep.DriverOpts ?? null,
      NetworkID: ep.NetworkID ?? networks(name)?.Id ?? "",
      EndpointID: ep.EndpointID ?? "",
      Gateway: ep.Gateway ?? "",
      IPAddress: ep.IPAddress ?? "",
      IPPrefixLen: ep.IPPrefixLen ?? 0,
      IPv6Gateway: "",
      GlobalIPv6Address: "",
      GlobalIPv6PrefixLen: 0,
      DNSNames: ep.DNSNames ?? null,
    };
  }
  const bridge = c.Networks["bridge"];
  return {
    Bridge: "",
    SandboxID: c.State.Running ? c.Id : "",
    SandboxKey: c.State.Running ? `/var/run/docker/netns/${c.Id.slice(0, 12)}` : "",
    Ports: portMap(c),
    HairpinMode: false,
    LinkLocalIPv6Address: "",
    LinkLocalIPv6PrefixLen: 0,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: bridge?.EndpointID ?? "",
    Gateway: bridge?.Gateway ?? "",
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    IPAddress: bridge?.IPAddress ?? "",
    IPPrefixLen: bridge?.IPPrefixLen ?? 0,
    IPv6Gateway: "",
    MacAddress: bridge?.MacAddress ?? "",
    Networks: nets,
  };
}

/**
 * NetworkSettings.Ports: the bindings a publishing backend reported, else exposed ports with no
 * host binding (the memory sandbox has no network; dockerd shows `null` for unpublished ports).
 */
function portMap(c: ContainerRecord): PortMap {
  const ports: PortMap = {};
  if (!c.State.Running) return ports;
  if (c.PublishedPorts) return c.PublishedPorts; // what the platform really published
  for (const p of Object.keys(c.Config.ExposedPorts ?? {})) ports[p] = null;
  for (const p of Object.keys(c.HostConfig.PortBindings ?? {})) ports[p] = null;
  return ports;
}

export function inspectContainer(
  c: ContainerRecord,
  networks: (id: string) => Network | undefined,
  sizes?: { rw: number; rootFs: number },
) {
  const { ManuallyStopped: _m, ImageRef: _r, Networks: _n, PublishedPorts: _p, ...rest } = c;
  return {
    Id: rest.Id,
    Created: rest.Created,
    Path: rest.Path,
    Args: rest.Args,
    State: rest.State,
    Image: rest.Image,
    ResolvConfPath: "",
    HostnamePath: "",
    HostsPath: "",
    LogPath: "",
    Name: rest.Name,
    RestartCount: rest.RestartCount,
    Driver: "sockerless",
    Platform: "linux",
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: null as string[] | null,
    // dockerd always reports the log driver; clients read it (docker-py's run() does, to fetch logs).
    HostConfig: { ...rest.HostConfig, LogConfig: logConfig(rest.HostConfig) },
    GraphDriver: { Data: null, Name: "sockerless" },
    ...(sizes ? { SizeRw: sizes.rw, SizeRootFs: sizes.rootFs } : {}),
    Mounts: visibleMounts(c),
    Config: rest.Config,
    NetworkSettings: networkSettings(c, networks),
  };
}

/** dockerd lists binds, volumes and --mount tmpfs mounts, but not the --tmpfs ones (HostConfig.Tmpfs). */
export function visibleMounts(c: ContainerRecord): MountPoint[] {
  const tmpfs = new Set(Object.keys(c.HostConfig.Tmpfs ?? {}).map((t) => path.posix.normalize(t)));
  return c.Mounts.filter((m) => m.Type !== "tmpfs" || !tmpfs.has(m.Destination));
}

export function summarizeMounts(c: ContainerRecord) {
  return visibleMounts(c).map((m) => ({
    Type: m.Type,
    ...(m.Name ? { Name: m.Name } : {}),
    Source: m.Source,
    Destination: m.Destination,
    ...(m.Driver ? { Driver: m.Driver } : {}),
    Mode: m.Mode,
    RW: m.RW,
    Propagation: m.Propagation,
  }));
}

/** The container's log driver: Sockerless keeps its own framed log file, read like json-file. */
function logConfig(h: HostConfig) {
  const given = h.LogConfig as { Type?: string; Config?: Record<string, string> } | undefined;
  return { Type: given?.Type || "json-file", Config: given?.Config ?? {} };
}
