import path from "node:path";
import { badRequest } from "@sockerless/api";
import type { ImageConfig, ImageRecord } from "@sockerless/images";
import type { ContainerConfig, HostConfig, MountSpec } from "./types.js";

const envKey = (e: string) => (e.includes("=") ? e.slice(0, e.indexOf("=")) : e);

/** Create: the user's env first, then the image's variables the user did not set (PATH survives), as dockerd. */
export function mergeImageEnv(imageEnv: string[] | undefined, env: string[] | null | undefined): string[] {
  const user = env ?? [];
  const keys = new Set(user.map(envKey));
  return [...user, ...(imageEnv ?? []).filter((e) => !keys.has(envKey(e)))];
}

/** Exec: the container's env with the exec's values replaced in place or appended. */
export function replaceOrAppendEnv(base: string[], overrides: string[]): string[] {
  const out = [...base];
  for (const e of overrides) {
    const i = out.findIndex((x) => envKey(x) === envKey(e));
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

/** Fill a create request's config from the image the way dockerd does. */
export function applyImageConfig(cfg: ContainerConfig, image: ImageRecord): ContainerConfig {
  const ic = image.config;
  const out: ContainerConfig = { ...cfg };
  out.Env = mergeImageEnv(ic.Env, cfg.Env);
  // An explicit Entrypoint drops the image's Cmd; otherwise Cmd falls back to the image's.
  // [""] (`--entrypoint ""`) resets the image's entrypoint and drops its Cmd too.
  if (cfg.Entrypoint?.length === 1 && cfg.Entrypoint[0] === "") {
    out.Entrypoint = null;
    if (!cfg.Cmd) out.Cmd = null;
  } else if (!cfg.Entrypoint || cfg.Entrypoint.length === 0) {
    out.Entrypoint = ic.Entrypoint ?? null;
    if (!cfg.Cmd || cfg.Cmd.length === 0) out.Cmd = ic.Cmd ?? null;
  } else if (!cfg.Cmd) {
    out.Cmd = null;
  }
  if (!cfg.WorkingDir) out.WorkingDir = ic.WorkingDir ?? "";
  if (!cfg.User) out.User = ic.User ?? "";
  const ports = { ...(ic.ExposedPorts ?? {}), ...(cfg.ExposedPorts ?? {}) };
  if (Object.keys(ports).length) out.ExposedPorts = ports;
  else delete out.ExposedPorts;
  const volumes = { ...(ic.Volumes ?? {}), ...(cfg.Volumes ?? {}) };
  out.Volumes = Object.keys(volumes).length ? volumes : null;
  out.Labels = { ...(ic.Labels ?? {}), ...(cfg.Labels ?? {}) };
  if (!cfg.Healthcheck && ic.Healthcheck) out.Healthcheck = ic.Healthcheck;
  if (!cfg.StopSignal && ic.StopSignal) out.StopSignal = ic.StopSignal;
  if (!cfg.OnBuild) out.OnBuild = null;
  return out;
}

export function validateCreate(cfg: ContainerConfig, host: HostConfig): void {
  const argv = [...(cfg.Entrypoint ?? []), ...(cfg.Cmd ?? [])];
  if (argv.length === 0) throw badRequest("no command specified");
  const rp = host.RestartPolicy;
  if (rp && rp.Name && !["no", "always", "unless-stopped", "on-failure"].includes(rp.Name)) {
    throw badRequest(
      `invalid restart policy: unknown policy '${rp.Name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`,
    );
  }
  if (rp && rp.Name !== "on-failure" && (rp.MaximumRetryCount ?? 0) > 0) {
    throw badRequest(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  }
  if ((rp?.MaximumRetryCount ?? 0) < 0)
    throw badRequest("invalid restart policy: maximum retry count cannot be negative");
  if (host.AutoRemove && rp && rp.Name && rp.Name !== "no") {
    throw badRequest("conflicting options: cannot specify both --restart and --rm");
  }
  if (cfg.Env) {
    for (const e of cfg.Env)
      if (typeof e !== "string") throw badRequest("invalid environment variable: not a string");
  }
  const hc = cfg.Healthcheck;
  if (hc) {
    for (const k of ["Interval", "Timeout", "StartPeriod"] as const) {
      const v = hc[k]; // docker-py sends null for an unset duration
      if (v != null && v !== 0 && v < 1_000_000) {
        throw badRequest(`${k} in Healthcheck cannot be less than 1ms`);
      }
    }
    if (hc.Retries != null && hc.Retries < 0) throw badRequest("Retries in Healthcheck cannot be negative");
  }
}

/** Mounts requested by Binds, Mounts, Tmpfs and the image's/config's anonymous Volumes. */
export interface WantedMount {
  type: "bind" | "volume" | "tmpfs";
  source: string; // host path for binds, volume name ("" = anonymous) for volumes
  target: string;
  readOnly: boolean;
}

export function wantedMounts(cfg: ContainerConfig, host: HostConfig): WantedMount[] {
  const out = new Map<string, WantedMount>();
  const add = (m: WantedMount) => {
    if (!path.posix.isAbsolute(m.target))
      throw badRequest(`invalid mount config: mount path must be absolute: ${m.target}`);
    const t = path.posix.normalize(m.target);
    if (t === "/") throw badRequest("invalid specification: destination can't be '/'");
    const prev = out.get(t);
    if (prev && prev.source !== "") throw badRequest(`Duplicate mount point: ${t}`);
    out.set(t, { ...m, target: t });
  };
  for (const v of Object.keys(cfg.Volumes ?? {}))
    out.set(path.posix.normalize(v), { type: "volume", source: "", target: v, readOnly: false });
  for (const b of host.Binds ?? []) {
    const parts = b.split(":");
    if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1])
      throw badRequest(`invalid volume specification: '${b}'`);
    const [src, dst, mode = ""] = parts;
    const opts = mode.split(",").filter(Boolean);
    for (const o of opts) {
      if (
        ![
          "ro",
          "rw",
          "z",
          "Z",
          "nocopy",
          "rprivate",
          "private",
          "rshared",
          "shared",
          "rslave",
          "slave",
        ].includes(o)
      ) {
        throw badRequest(`invalid mode: ${o}`);
      }
    }
    add({
      type: src.startsWith("/") ? "bind" : "volume",
      source: src,
      target: dst,
      readOnly: opts.includes("ro"),
    });
  }
  for (const m of (host.Mounts ?? []) as MountSpec[]) {
    if (!m.Target) throw badRequest("invalid mount config: Target must not be empty");
    if (m.Type === "bind") {
      if (!m.Source) throw badRequest(`invalid mount config for type "bind": field Source must not be empty`);
    } else if (m.Type !== "volume" && m.Type !== "tmpfs") {
      throw badRequest(`invalid mount config for type "${m.Type}": mount type unknown`);
    }
    add({ type: m.Type, source: m.Source ?? "", target: m.Target, readOnly: !!m.ReadOnly });
  }
  for (const t of Object.keys(host.Tmpfs ?? {}))
    add({ type: "tmpfs", source: "", target: t, readOnly: false });
  return [...out.values()];
}

/**
 * dockerd's merge() for commit: what the new config (after --change) leaves empty comes from the
 * container's config; Env, Labels, ExposedPorts and Volumes gain the container's missing keys.
 */
export function mergeCommitConfig(user: ContainerConfig, from: ContainerConfig): ContainerConfig {
  const out: ContainerConfig = { ...user };
  if (!out.User) out.User = from.User;
  if (!out.ExposedPorts || Object.keys(out.ExposedPorts).length === 0) out.ExposedPorts = from.ExposedPorts;
  else out.ExposedPorts = { ...(from.ExposedPorts ?? {}), ...out.ExposedPorts };
  if (!out.Env?.length) out.Env = from.Env;
  else {
    const keys = new Set(out.Env.map(envKey));
    out.Env = [...out.Env, ...(from.Env ?? []).filter((e) => !keys.has(envKey(e)))];
  }
  if (!out.Labels) out.Labels = from.Labels;
  else out.Labels = { ...(from.Labels ?? {}), ...out.Labels };
  if (!out.Entrypoint?.length) {
    if (!out.Cmd?.length) out.Cmd = from.Cmd;
    if (out.Entrypoint === undefined) out.Entrypoint = from.Entrypoint;
  }
  if (!out.Healthcheck) out.Healthcheck = from.Healthcheck;
  else if (from.Healthcheck) {
    const h = { ...out.Healthcheck };
    if (!h.Test?.length) h.Test = from.Healthcheck.Test;
    h.Interval ||= from.Healthcheck.Interval;
    h.Timeout ||= from.Healthcheck.Timeout;
    h.StartPeriod ||= from.Healthcheck.StartPeriod;
    h.Retries ||= from.Healthcheck.Retries;
    out.Healthcheck = h;
  }
  if (!out.WorkingDir) out.WorkingDir = from.WorkingDir;
  if (!out.Volumes || Object.keys(out.Volumes).length === 0) out.Volumes = from.Volumes;
  else out.Volumes = { ...(from.Volumes ?? {}), ...out.Volumes };
  if (!out.StopSignal) out.StopSignal = from.StopSignal;
  return out;
}

/** The image-relevant part of a container config (what an image config's `config` holds). */
export function imageConfigOf(c: ContainerConfig): ImageConfig & { ArgsEscaped?: boolean } {
  const out: ImageConfig & { ArgsEscaped?: boolean } = {};
  if (c.User) out.User = c.User;
  if (c.ExposedPorts && Object.keys(c.ExposedPorts).length) out.ExposedPorts = c.ExposedPorts;
  if (c.Env?.length) out.Env = c.Env;
  if (c.Cmd?.length) out.Cmd = c.Cmd;
  if (c.Healthcheck) out.Healthcheck = c.Healthcheck;
  if (c.ArgsEscaped) out.ArgsEscaped = true;
  if (c.Volumes && Object.keys(c.Volumes).length) out.Volumes = c.Volumes;
  if (c.WorkingDir) out.WorkingDir = c.WorkingDir;
  if (c.Entrypoint?.length) out.Entrypoint = c.Entrypoint;
  if (c.OnBuild?.length) out.OnBuild = c.OnBuild;
  if (c.Labels && Object.keys(c.Labels).length) out.Labels = c.Labels;
  if (c.StopSignal) out.StopSignal = c.StopSignal;
  if (c.Shell?.length) out.Shell = c.Shell;
  return out;
}
