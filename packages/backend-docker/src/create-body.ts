import { notFound } from "@sockerless/api";
import type { ContainerRecord, EndpointSettings } from "@sockerless/engine";

/** Labels every object Sockerless creates on the engine carries. */
export const LABEL_ID = "sockerless.id";
export const LABEL_DAEMON = "sockerless.daemon";

/**
 * What the engine's POST /networks/{id}/connect and create's EndpointsConfig take from ours. On a
 * user network the container answers to its Sockerless name and short id besides its aliases
 * (DNSNames); the engine knows it as sockerless-<id>, so they all go as aliases to its DNS.
 */
export function endpointConfig(ep: EndpointSettings) {
  return {
    Aliases: ep.DNSNames ?? ep.Aliases ?? undefined,
    Links: ep.Links ?? undefined,
    IPAMConfig: ep.IPAMConfig ?? undefined,
    DriverOpts: ep.DriverOpts ?? undefined,
  };
}

/**
 * The engine's create body for one of our containers. The Sockerless engine keeps what it owns:
 * restart policy and auto-remove (it restarts and removes), health checks (it runs them through
 * exec), and mounts as it resolved them (volumes by name, binds by host path). The rest of the
 * user's config passes through, so the real container is what they asked for.
 */
export function createBody(
  c: Readonly<ContainerRecord>,
  labels: Record<string, string>,
  engineNetwork: (name: string) => string,
  /** engine-side name of the container whose network namespace this one joins */
  netContainer?: string,
) {
  let mode = c.HostConfig.NetworkMode || "bridge";
  if (mode.startsWith("container:")) {
    // the engine knows our containers by their engine-side name
    if (!netContainer) throw notFound(`No such container: ${mode.slice("container:".length)}`);
    mode = `container:${netContainer}`;
  }
  const networks = Object.keys(c.Networks);
  const primary = networks[0];
  // `--mount type=bind` goes to the engine as the user wrote it: the engine then refuses a missing
  // source as dockerd does, where a `-v` bind (Binds) makes the engine create the directory.
  const mountBinds = (c.HostConfig.Mounts ?? []).filter((m) => m.Type === "bind");
  const binds = c.Mounts.filter(
    (m) => m.Type === "bind" && !mountBinds.some((b) => b.Target === m.Destination),
  ).map((m) => `${m.Source}:${m.Destination}${m.RW ? "" : ":ro"}`);
  const mounts = [
    ...mountBinds,
    ...c.Mounts.filter((m) => m.Type !== "bind").map((m) =>
      m.Type === "volume"
        ? { Type: "volume", Source: m.Name, Target: m.Destination, ReadOnly: !m.RW }
        : { Type: "tmpfs", Target: m.Destination, ReadOnly: !m.RW },
    ),
  ];
  // HostConfig.Tmpfs is carried by the tmpfs mounts the engine resolved; Mounts by `mounts`.
  const { Binds: _b, Mounts: _m, Tmpfs: _t, RestartPolicy: _r, AutoRemove: _a, ...host } = c.HostConfig;
  const { Healthcheck: _h, Volumes: _v, Labels: userLabels, ...cfg } = c.Config;
  if (mode.startsWith("container:")) {
    // the hostname is the other container's; the engine refuses one of our own
    delete cfg.Hostname;
    delete cfg.Domainname;
  }
  return {
    body: {
      ...cfg,
      Image: c.Image,
      Entrypoint: cfg.Entrypoint ?? [],
      Cmd: cfg.Cmd ?? [],
      Labels: { ...(userLabels ?? {}), ...labels },
      // the image's health check would run twice: the Sockerless engine runs it
      Healthcheck: { Test: ["NONE"] },
      HostConfig: {
        ...host,
        NetworkMode: primary ? engineNetwork(primary) : mode,
        Binds: binds,
        Mounts: mounts,
        RestartPolicy: { Name: "no" },
        AutoRemove: false,
      },
      NetworkingConfig: primary
        ? { EndpointsConfig: { [engineNetwork(primary)]: endpointConfig(c.Networks[primary]) } }
        : undefined,
    },
    /** networks beyond the first: engines before API 1.44 connect only one at create */
    extraNetworks: networks.slice(1),
  };
}
