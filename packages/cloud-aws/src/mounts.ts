import { notImplemented } from "@sockerless/api";
import type { ContainerRecord, MountPoint } from "@sockerless/engine";

/**
 * Mounts a cloud workload cannot have: the daemon host's directories do not exist in the cloud.
 * `allowVolumes`: named volumes are backed by the platform (EFS on ECS).
 */
export function checkCloudMounts(rec: ContainerRecord, backend: string, allowVolumes: boolean): MountPoint[] {
  // one kind after the other, so the answer does not depend on the order of the mounts
  const bind = rec.Mounts.find((m) => m.Type === "bind");
  if (bind)
    throw notImplemented(
      `bind mounts are not supported by the ${backend} backend: ${bind.Source} is a directory of the daemon's host, which the cloud cannot reach${allowVolumes ? "; use a named volume" : ""}`,
    );
  if (rec.Mounts.some((m) => m.Type === "tmpfs"))
    throw notImplemented(`tmpfs mounts are not supported by the ${backend} backend`);
  const volumes = rec.Mounts.filter((m) => m.Type === "volume");
  if (volumes.length && !allowVolumes)
    throw notImplemented(
      `volumes are not supported by the ${backend} backend (${volumes[0].Name} on ${volumes[0].Destination})`,
    );
  return volumes;
}
