import { mkdirSync, rmSync } from "node:fs";
import type { Simulator } from "../sim.js";
import { directorySize, fileSystemDir } from "./efs-dirs.js";
import {
  EfsError,
  badRequest,
  efsId,
  efsRoute,
  efsState,
  idOf,
  nameTag,
  paginate,
  validTags,
  type FileSystem,
} from "./efs-store.js";
import { zones } from "./ec2-zones.js";

const BASE = "/2015-02-01/file-systems";

export const fileSystemNotFound = (id: string) =>
  new EfsError("FileSystemNotFound", `File system '${id}' does not exist.`);

export function fileSystemById(sim: Simulator, idOrArn: string): FileSystem {
  const id = idOf(idOrArn);
  const fs = efsState(sim).data.fileSystems[id];
  if (!fs) throw fileSystemNotFound(id);
  return fs;
}

export function registerFileSystems(sim: Simulator): void {
  const st = efsState(sim);
  const mountTargets = (id: string) =>
    Object.values(st.data.mountTargets).filter((m) => m.fileSystemId === id);

  const describe = async (f: FileSystem) => {
    const size = await directorySize(fileSystemDir(sim, f.id));
    const now = Math.floor(Date.now() / 1000);
    return {
      OwnerId: sim.opts.account,
      CreationToken: f.creationToken,
      FileSystemId: f.id,
      FileSystemArn: f.arn,
      CreationTime: f.created,
      LifeCycleState: "available",
      Name: nameTag(f.tags),
      NumberOfMountTargets: mountTargets(f.id).length,
      SizeInBytes: { Value: size, Timestamp: now, ValueInStandard: size, ValueInIA: 0, ValueInArchive: 0 },
      PerformanceMode: f.performanceMode,
      Encrypted: f.encrypted,
      KmsKeyId: f.kmsKeyId,
      ThroughputMode: f.throughputMode,
      ProvisionedThroughputInMibps: f.provisionedThroughputInMibps,
      AvailabilityZoneName: f.availabilityZoneName,
      AvailabilityZoneId: f.availabilityZoneId,
      Tags: f.tags,
      FileSystemProtection: { ReplicationOverwriteProtection: "ENABLED" },
    };
  };

  const throughput = (body: Record<string, any>, current?: FileSystem) => {
    const mode = body.ThroughputMode ?? current?.throughputMode ?? "bursting";
    if (!["bursting", "provisioned", "elastic"].includes(mode))
      throw badRequest(`Invalid ThroughputMode: ${mode}`);
    const mibps = body.ProvisionedThroughputInMibps ?? current?.provisionedThroughputInMibps;
    if (mode === "provisioned" && !(typeof mibps === "number" && mibps >= 1))
      throw badRequest("ProvisionedThroughputInMibps is required when ThroughputMode is provisioned");
    return { mode, mibps: mode === "provisioned" ? mibps : undefined };
  };

  sim.registerRest(
    "elasticfilesystem",
    "POST",
    BASE,
    efsRoute(async ({ json, call }) => {
      const body = await json();
      const token = body.CreationToken;
      if (typeof token !== "string" || token.length < 1 || token.length > 64)
        throw badRequest("CreationToken must be a string of 1 to 64 characters");
      // CreationToken makes creation idempotent: a second create names the first file system
      const prior = Object.values(st.data.fileSystems).find((f) => f.creationToken === token);
      if (prior)
        throw new EfsError(
          "FileSystemAlreadyExists",
          `File system '${prior.id}' already exists with creation token '${token}'`,
          {
            FileSystemId: prior.id,
          },
        );
      const perf = body.PerformanceMode ?? "generalPurpose";
      if (!["generalPurpose", "maxIO"].includes(perf)) throw badRequest(`Invalid PerformanceMode: ${perf}`);
      const { mode, mibps } = throughput(body);
      let zone: { name: string; id: string } | undefined;
      if (body.AvailabilityZoneName !== undefined) {
        zone = zones(call.region).find((z) => z.name === body.AvailabilityZoneName);
        if (!zone)
          throw new EfsError(
            "UnsupportedAvailabilityZone",
            `Availability zone '${body.AvailabilityZoneName}' is not supported`,
          );
        if (perf === "maxIO")
          throw badRequest("One Zone file systems support only the generalPurpose performance mode");
      }
      const id = efsId("fs");
      const f: FileSystem = {
        id,
        arn: sim.arn("elasticfilesystem", `file-system/${id}`, call.region),
        creationToken: token,
        created: Math.floor(Date.now() / 1000),
        performanceMode: perf,
        throughputMode: mode,
        provisionedThroughputInMibps: mibps,
        encrypted: body.Encrypted === true,
        kmsKeyId: body.KmsKeyId,
        availabilityZoneName: zone?.name,
        availabilityZoneId: zone?.id,
        tags: validTags(body.Tags),
      };
      // the file system is a real directory, so tasks can mount it
      mkdirSync(fileSystemDir(sim, id), { recursive: true });
      st.data.fileSystems[id] = f;
      st.changed();
      return { status: 201, body: await describe(f) };
    }),
  );

  sim.registerRest(
    "elasticfilesystem",
    "GET",
    BASE,
    efsRoute(async ({ query }) => {
      const id = query.get("FileSystemId");
      const token = query.get("CreationToken");
      if (id && token) throw badRequest("Specify either FileSystemId or CreationToken, not both");
      let list = Object.values(st.data.fileSystems).sort((a, b) => a.created - b.created);
      if (id) list = [fileSystemById(sim, id)];
      if (token) list = list.filter((f) => f.creationToken === token);
      const marker = query.get("Marker");
      const { page, next } = paginate(list, marker, query.get("MaxItems"));
      return {
        body: {
          FileSystems: await Promise.all(page.map(describe)),
          Marker: marker ?? undefined,
          NextMarker: next,
        },
      };
    }),
  );

  sim.registerRest(
    "elasticfilesystem",
    "PUT",
    `${BASE}/:FileSystemId`,
    efsRoute(async ({ params, json }) => {
      const f = fileSystemById(sim, params.FileSystemId);
      const { mode, mibps } = throughput(await json(), f);
      f.throughputMode = mode;
      f.provisionedThroughputInMibps = mibps;
      st.changed();
      return { status: 202, body: await describe(f) };
    }),
  );

  sim.registerRest(
    "elasticfilesystem",
    "DELETE",
    `${BASE}/:FileSystemId`,
    efsRoute(async ({ params }) => {
      const f = fileSystemById(sim, params.FileSystemId);
      if (mountTargets(f.id).length)
        throw new EfsError(
          "FileSystemInUse",
          `File system '${f.id}' has mount targets and cannot be deleted.`,
        );
      if (Object.values(st.data.accessPoints).some((a) => a.fileSystemId === f.id))
        throw new EfsError(
          "FileSystemInUse",
          `File system '${f.id}' has access points and cannot be deleted.`,
        );
      delete st.data.fileSystems[f.id];
      st.changed();
      // deleting a file system deletes its data
      rmSync(fileSystemDir(sim, f.id), { recursive: true, force: true });
      return { status: 204 };
    }),
  );
}
