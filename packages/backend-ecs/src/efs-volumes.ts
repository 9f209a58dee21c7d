import { randomUUID } from "node:crypto";
import {
  CreateAccessPointCommand,
  CreateFileSystemCommand,
  CreateMountTargetCommand,
  DeleteAccessPointCommand,
  DescribeAccessPointsCommand,
  DescribeFileSystemsCommand,
  type EFSClient,
} from "@aws-sdk/client-efs";
import type { Volume } from "@aws-sdk/client-ecs";
import { log } from "@sockerless/api";
import type { MountPoint } from "@sockerless/engine";
import { pollUntil, TAG_MANAGED } from "@sockerless/cloud-aws";

const TAG_VOLUME = "sockerless-volume";

/**
 * Docker named volumes as EFS access points: one file system per cluster (created on first use,
 * with a mount target in each subnet), one access point per volume rooted at /volumes/<name>, so
 * every task that mounts the volume sees the same files.
 */
export class EfsVolumes {
  private fileSystem: Promise<string> | undefined;
  private readonly accessPoints = new Map<string, Promise<string>>();

  constructor(
    private readonly efs: EFSClient,
    private readonly cluster: string,
    private readonly subnets: () => string[],
    private readonly securityGroups: string[],
  ) {}

  private get token() {
    return `sockerless-${this.cluster}`.slice(0, 64);
  }

  private fs(): Promise<string> {
    this.fileSystem ??= this.findOrCreateFs().catch((e) => {
      this.fileSystem = undefined;
      throw e;
    });
    return this.fileSystem;
  }

  private async findOrCreateFs(): Promise<string> {
    const found = await this.efs.send(new DescribeFileSystemsCommand({ CreationToken: this.token }));
    const existing = found.FileSystems?.[0]?.FileSystemId;
    if (existing) return existing;
    const created = await this.efs.send(
      new CreateFileSystemCommand({
        CreationToken: this.token,
        Encrypted: true,
        Tags: [
          { Key: "Name", Value: this.token },
          { Key: TAG_MANAGED, Value: "true" },
        ],
      }),
    );
    const id = created.FileSystemId!;
    await pollUntil(
      async () => {
        const d = await this.efs.send(new DescribeFileSystemsCommand({ FileSystemId: id }));
        return d.FileSystems?.[0]?.LifeCycleState === "available" ? true : undefined;
      },
      { intervalMs: 500, timeoutMs: 300_000, what: `EFS file system ${id}` },
    );
    for (const subnet of this.subnets()) {
      await this.efs
        .send(
          new CreateMountTargetCommand({
            FileSystemId: id,
            SubnetId: subnet,
            SecurityGroups: this.securityGroups.length ? this.securityGroups : undefined,
          }),
        )
        .catch((e) => {
          // one mount target per zone: a second subnet of a zone conflicts, and that is fine
          if ((e as Error).name !== "MountTargetConflict") throw e;
        });
    }
    return id;
  }

  private accessPoint(volume: string): Promise<string> {
    let p = this.accessPoints.get(volume);
    if (!p) {
      p = this.findOrCreateAccessPoint(volume).catch((e) => {
        this.accessPoints.delete(volume);
        throw e;
      });
      this.accessPoints.set(volume, p);
    }
    return p;
  }

  private async findAccessPoint(fsId: string, volume: string): Promise<string | undefined> {
    let NextToken: string | undefined;
    do {
      const page = await this.efs.send(new DescribeAccessPointsCommand({ FileSystemId: fsId, NextToken }));
      const hit = page.AccessPoints?.find((a) =>
        a.Tags?.some((t) => t.Key === TAG_VOLUME && t.Value === volume),
      );
      if (hit) return hit.AccessPointId;
      NextToken = page.NextToken;
    } while (NextToken);
    return undefined;
  }

  private async findOrCreateAccessPoint(volume: string): Promise<string> {
    const fsId = await this.fs();
    const found = await this.findAccessPoint(fsId, volume);
    if (found) return found;
    // a fresh directory per volume: EFS keeps files after an access point is deleted, and a volume
    // created again after `docker volume rm` must start empty
    const dir = `${volume}-${randomUUID().slice(0, 8)}`;
    const ap = await this.efs.send(
      new CreateAccessPointCommand({
        ClientToken: `sockerless-${dir}`.slice(0, 64),
        FileSystemId: fsId,
        // Docker's new volumes are root-owned 0755 directories
        RootDirectory: {
          Path: `/volumes/${dir}`,
          CreationInfo: { OwnerUid: 0, OwnerGid: 0, Permissions: "755" },
        },
        Tags: [
          { Key: TAG_MANAGED, Value: "true" },
          { Key: TAG_VOLUME, Value: volume },
        ],
      }),
    );
    return ap.AccessPointId!;
  }

  /** `docker volume create`: the access point now; the mount point names it. */
  async create(volume: string): Promise<string> {
    const fsId = await this.fs();
    return `efs://${fsId}/${await this.accessPoint(volume)}`;
  }

  /** Task definition volumes and mount points for a container's named volumes. */
  async forMounts(mounts: MountPoint[]): Promise<{
    volumes: Volume[];
    mountPoints: { sourceVolume: string; containerPath: string; readOnly: boolean }[];
  }> {
    if (!mounts.length) return { volumes: [], mountPoints: [] };
    const fsId = await this.fs();
    const volumes: Volume[] = [];
    const mountPoints = [];
    for (const [i, m] of mounts.entries()) {
      const name = `vol${i}`;
      volumes.push({
        name,
        efsVolumeConfiguration: {
          fileSystemId: fsId,
          transitEncryption: "ENABLED",
          authorizationConfig: { accessPointId: await this.accessPoint(m.Name!), iam: "DISABLED" },
        },
      });
      mountPoints.push({ sourceVolume: name, containerPath: m.Destination, readOnly: !m.RW });
    }
    return { volumes, mountPoints };
  }

  /** `docker volume rm`: the access point goes (the files under it stay on the file system, as EFS keeps them). */
  async remove(volume: string): Promise<void> {
    if (
      !this.fileSystem &&
      !(await this.efs.send(new DescribeFileSystemsCommand({ CreationToken: this.token }))).FileSystems
        ?.length
    )
      return;
    const id = await this.findAccessPoint(await this.fs(), volume);
    this.accessPoints.delete(volume);
    if (id) await this.efs.send(new DeleteAccessPointCommand({ AccessPointId: id }));
    else log.debug({ volume }, "ecs: no EFS access point for the volume");
  }
}
