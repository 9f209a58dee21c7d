import { notImplemented } from "@sockerless/api";
import type { ContainerRecord, MountPoint } from "@sockerless/engine";

/**
 * Mounts a cloud workload cannot have: the daemon host's directories do not exist in the cloud.
 * `allowVolumes`: named volumes are backed by the platform (EFS on ECS).
 */
export function checkCloudMounts(rec: ContainerRecord, backend: string, allowVolumes: boolean): MountPoint[] {
  for (const m of rec.Mounts) {
    if (m.Type === "bind")
      throw notImplemented(
        `bind mounts are not supported by the ${backend} backend: ${m.Source} is a directory of the daemon's host, which the cloud cannot reach${allowVolumes ? "; use a named volume" : ""}`,
      );
    if (m.Type === "tmpfs") throw notImplemented(`tmpfs mounts are not supported by the ${backend} backend`);
    if (!allowVolumes)
      throw notImplemented(
        `volumes are not supported by the ${backend} backend (${m.Name} on ${m.Destination})`,
      );
  }
  return rec.Mounts.filter((m) => m.Type === "volume");
}
