import { AwsError } from "../errors.js";
import type { Simulator } from "../sim.js";
import { createNetworkInterface, deleteNetworkInterface, securityGroupVpc, subnetInfo } from "./ec2.js";
import { ec2State } from "./ec2-store.js";
import { zones } from "./ec2-zones.js";
import { accessPointById } from "./efs-access-points.js";
import { fileSystemById } from "./efs-filesystems.js";
import { EfsError, badRequest, efsId, efsRoute, efsState, paginate, type MountTarget } from "./efs-store.js";

const BASE = "/2015-02-01/mount-targets";

const mountTargetNotFound = (id: string) =>
  new EfsError("MountTargetNotFound", `Mount target '${id}' does not exist.`);

/** Security groups for a mount target: each must exist in the mount target's VPC; at most five. */
function securityGroups(sim: Simulator, groups: unknown, vpcId: string): string[] {
  if (groups === undefined) {
    const def = Object.values(ec2State(sim).data.groups).find(
      (g) => g.vpcId === vpcId && g.name === "default",
    );
    return def ? [def.id] : [];
  }
  if (!Array.isArray(groups) || groups.some((g) => typeof g !== "string"))
    throw badRequest("SecurityGroups must be a list of ids");
  if (groups.length > 5)
    throw new EfsError("SecurityGroupLimitExceeded", "A mount target can have at most 5 security groups");
  for (const g of groups)
    if (securityGroupVpc(sim, g) !== vpcId)
      throw new EfsError("SecurityGroupNotFound", `Security group '${g}' does not exist in VPC '${vpcId}'`);
  return groups;
}

export function registerMountTargets(sim: Simulator): void {
  const st = efsState(sim);
  const byId = (id: string) => {
    const m = st.data.mountTargets[id];
    if (!m) throw mountTargetNotFound(id);
    return m;
  };
  const describe = (m: MountTarget) => ({
    OwnerId: sim.opts.account,
    MountTargetId: m.id,
    FileSystemId: m.fileSystemId,
    SubnetId: m.subnetId,
    LifeCycleState: "available",
    IpAddress: m.ip,
    NetworkInterfaceId: m.eniId,
    AvailabilityZoneId: zones(sim.opts.region).find((z) => z.name === m.az)?.id,
    AvailabilityZoneName: m.az,
    VpcId: m.vpcId,
  });

  sim.registerRest(
    "elasticfilesystem",
    "POST",
    BASE,
    efsRoute(async ({ json }) => {
      const body = await json();
      if (typeof body.FileSystemId !== "string") throw badRequest("FileSystemId is required");
      if (typeof body.SubnetId !== "string") throw badRequest("SubnetId is required");
      const fs = fileSystemById(sim, body.FileSystemId);
      const subnet = subnetInfo(sim, body.SubnetId);
      if (!subnet) throw new EfsError("SubnetNotFound", `The subnet ID '${body.SubnetId}' does not exist`);
      if (fs.availabilityZoneName && fs.availabilityZoneName !== subnet.az)
        throw new EfsError(
          "AvailabilityZonesMismatch",
          `One Zone file system '${fs.id}' is in ${fs.availabilityZoneName}, the subnet in ${subnet.az}`,
        );
      const siblings = Object.values(st.data.mountTargets).filter((m) => m.fileSystemId === fs.id);
      if (siblings.some((m) => m.vpcId !== subnet.vpcId))
        throw new EfsError(
          "MountTargetConflict",
          "requested subnet for new mount target is not in the same VPC as existing mount targets",
        );
      if (siblings.some((m) => m.az === subnet.az))
        throw new EfsError("MountTargetConflict", "mount target already exists in this AZ");
      const groups = securityGroups(sim, body.SecurityGroups, subnet.vpcId);
      const id = efsId("fsmt");
      let eni;
      try {
        eni = createNetworkInterface(sim, body.SubnetId, {
          description: `EFS mount target for ${fs.id} (${id})`,
          groups,
          ip: body.IpAddress,
          interfaceType: "efs",
        });
      } catch (e) {
        // EC2's address errors, as EFS names them
        const code = e instanceof AwsError ? e.code : "";
        if (code === "InvalidIPAddress.InUse") throw new EfsError("IpAddressInUse", (e as Error).message);
        if (code === "InsufficientFreeAddressesInSubnet")
          throw new EfsError("NoFreeAddressesInSubnet", (e as Error).message);
        if (code === "InvalidParameterValue") throw badRequest((e as Error).message);
        throw e;
      }
      const m: MountTarget = {
        id,
        fileSystemId: fs.id,
        subnetId: body.SubnetId,
        vpcId: subnet.vpcId,
        az: subnet.az,
        ip: eni.ip,
        eniId: eni.id,
        securityGroups: groups,
      };
      st.data.mountTargets[id] = m;
      st.changed();
      return { body: describe(m) };
    }),
  );

  sim.registerRest(
    "elasticfilesystem",
    "GET",
    BASE,
    efsRoute(async ({ query }) => {
      const fsId = query.get("FileSystemId");
      const mtId = query.get("MountTargetId");
      const apId = query.get("AccessPointId");
      if ([fsId, mtId, apId].filter(Boolean).length !== 1)
        throw badRequest("Specify exactly one of FileSystemId, MountTargetId or AccessPointId");
      let list: MountTarget[];
      if (mtId) list = [byId(mtId)];
      else {
        const fs = fsId ? fileSystemById(sim, fsId).id : accessPointById(sim, apId!).fileSystemId;
        list = Object.values(st.data.mountTargets).filter((m) => m.fileSystemId === fs);
      }
      const marker = query.get("Marker");
      const { page, next } = paginate(list, marker, query.get("MaxItems"));
      return { body: { MountTargets: page.map(describe), Marker: marker ?? undefined, NextMarker: next } };
    }),
  );

  sim.registerRest(
    "elasticfilesystem",
    "DELETE",
    `${BASE}/:MountTargetId`,
    efsRoute(async ({ params }) => {
      const m = byId(params.MountTargetId);
      deleteNetworkInterface(sim, m.eniId);
      delete st.data.mountTargets[m.id];
      st.changed();
      return { status: 204 };
    }),
  );

  sim.registerRest(
    "elasticfilesystem",
    "GET",
    `${BASE}/:MountTargetId/security-groups`,
    efsRoute(async ({ params }) => ({ body: { SecurityGroups: byId(params.MountTargetId).securityGroups } })),
  );

  sim.registerRest(
    "elasticfilesystem",
    "PUT",
    `${BASE}/:MountTargetId/security-groups`,
    efsRoute(async ({ params, json }) => {
      const m = byId(params.MountTargetId);
      m.securityGroups = securityGroups(sim, (await json()).SecurityGroups ?? [], m.vpcId);
      const eni = ec2State(sim).data.enis[m.eniId];
      if (eni) eni.groups = m.securityGroups;
      ec2State(sim).changed();
      st.changed();
      return { status: 204 };
    }),
  );
}
