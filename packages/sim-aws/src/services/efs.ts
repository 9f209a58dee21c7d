import { mkdirSync } from "node:fs";
import type { Simulator } from "../sim.js";
import { accessPointById, registerAccessPoints } from "./efs-access-points.js";
import { accessPointDir, efsRoot, fileSystemDir } from "./efs-dirs.js";
import { fileSystemById, registerFileSystems } from "./efs-filesystems.js";
import { registerMountTargets } from "./efs-mount-targets.js";
import { badRequest } from "./efs-store.js";
import { registerTags } from "./efs-tags.js";

/** Amazon EFS (REST-JSON under /2015-02-01); each file system is a real directory on the host. */
export function register(sim: Simulator): void {
  efsRoot(sim);
  registerFileSystems(sim);
  registerAccessPoints(sim);
  registerMountTargets(sim);
  registerTags(sim);
}

/**
 * The host directory to bind-mount for a task's EFS volume: the file system's directory, or
 * the access point's root directory inside it (created when missing, as EFS does on first mount
 * with CreationInfo). Throws EFS's FileSystemNotFound / AccessPointNotFound.
 */
export function efsHostPath(sim: Simulator, fileSystemId: string, accessPointId?: string): string {
  const fs = fileSystemById(sim, fileSystemId);
  if (!accessPointId) {
    const dir = fileSystemDir(sim, fs.id);
    mkdirSync(dir, { recursive: true });
    return dir;
  }
  const ap = accessPointById(sim, accessPointId);
  if (ap.fileSystemId !== fs.id)
    throw badRequest(`Access point ${ap.id} belongs to file system ${ap.fileSystemId}, not ${fs.id}`);
  return accessPointDir(sim, ap);
}
