import { statSync } from "node:fs";
import path from "node:path";
import { AwsError } from "../errors.js";
import type { Simulator } from "../sim.js";
import type { Json } from "./ecs-model.js";
import { efsHostPath } from "./efs.js";

/**
 * EFS volumes of a task: what Fargate mounts over NFS with EFS utils, the simulator bind-mounts
 * from the host directory that backs the file system (or the access point's root directory).
 * Failures read as ECS reports them: the task stops with ResourceInitializationError.
 */

const PREFIX = "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes";

/** The host directory for one efsVolumeConfiguration, or the reason the task cannot start. */
export function efsVolumeSource(
  sim: Simulator,
  region: string,
  cfg: Json,
): { source: string } | { error: string } {
  const fsId = String(cfg.fileSystemId ?? "");
  const apId = cfg.authorizationConfig?.accessPointId as string | undefined;
  const host = `${fsId}.efs.${region}.amazonaws.com`;
  let base: string;
  try {
    base = efsHostPath(sim, fsId, apId);
  } catch (e) {
    if (!(e instanceof AwsError)) throw e;
    // efs-utils resolves the file system's DNS name first; a wrong access point is refused by the server
    if (e.code === "FileSystemNotFound")
      return {
        error: `${PREFIX}: stderr: Failed to resolve "${host}" - check that your file system ID is correct, and ensure that the VPC has an EFS mount target for this file system ID. (${fsId} not found) : unsuccessful EFS utils command execution; code: 1`,
      };
    return {
      error: `${PREFIX}: stderr: b'mount.nfs4: access denied by server while mounting 127.0.0.1:/' (${e.message}) : unsuccessful EFS utils command execution; code: 32`,
    };
  }
  // with an access point, its root directory is the mount's root (ECS allows only "/" then)
  const root = apId ? "/" : String(cfg.rootDirectory ?? "/");
  const dir = path.resolve(base, `.${path.posix.normalize(`/${root}`)}`);
  const inside = dir === base || dir.startsWith(base + path.sep);
  const isDir = inside && (statSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false);
  if (!isDir)
    return {
      error: `${PREFIX}: stderr: mount.nfs4: mounting ${host}:${root} failed, reason given by server: No such file or directory : unsuccessful EFS utils command execution; code: 32`,
    };
  return { source: dir };
}
