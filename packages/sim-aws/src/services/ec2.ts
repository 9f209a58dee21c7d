import { AwsError } from "../errors.js";
import type { QueryHandler, Simulator } from "../sim.js";
import { createNetworkInterface, deleteNetworkInterface, eniHandlers } from "./ec2-enis.js";
import { groupHandlers } from "./ec2-groups.js";
import { ec2State } from "./ec2-store.js";
import { tagHandlers } from "./ec2-tags.js";
import { subnetHandlers } from "./ec2-subnets.js";
import { ensureDefaultNetwork, vpcHandlers } from "./ec2-vpcs.js";
import { zoneHandlers } from "./ec2-zones.js";

/** EC2 networking (Query protocol, EC2 flavour): VPCs, subnets, security groups, tags, zones, interfaces. */
export function register(sim: Simulator): void {
  ensureDefaultNetwork(sim);
  sim.registerQuery({
    signingName: "ec2",
    xmlns: "http://ec2.amazonaws.com/doc/2016-11-15/",
    style: "ec2",
    handlers: dryRunnable({
      ...vpcHandlers(sim),
      ...subnetHandlers(sim),
      ...zoneHandlers,
      ...groupHandlers(sim),
      ...tagHandlers(sim),
      ...eniHandlers(sim),
    }),
  });
}

/**
 * DryRun=true asks whether the call would be allowed; the simulator allows everything, so the
 * answer is always EC2's DryRunOperation (HTTP 412), without doing anything.
 */
function dryRunnable(handlers: Record<string, QueryHandler>): Record<string, QueryHandler> {
  return Object.fromEntries(
    Object.entries(handlers).map(([name, h]) => [
      name,
      (params, call) => {
        if (params.DryRun === "true")
          throw new AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412);
        return h(params, call);
      },
    ]),
  );
}

/** Where a subnet is, for placing awsvpc tasks. */
export function subnetInfo(
  sim: Simulator,
  subnetId: string,
): { vpcId: string; cidr: string; az: string } | undefined {
  const s = ec2State(sim).data.subnets[subnetId];
  return s && { vpcId: s.vpcId, cidr: s.cidr, az: s.az };
}

export function vpcExists(sim: Simulator, vpcId: string): boolean {
  return ec2State(sim).data.vpcs[vpcId] !== undefined;
}

/** The VPC of a security group, if the group exists. */
export function securityGroupVpc(sim: Simulator, groupId: string): string | undefined {
  return ec2State(sim).data.groups[groupId]?.vpcId;
}

/**
 * A free private address in the subnet, held by a new network interface (visible in
 * DescribeNetworkInterfaces) until releasePrivateIp. Throws EC2's errors for a missing or full subnet.
 */
export function allocatePrivateIp(
  sim: Simulator,
  subnetId: string,
  opts: { description?: string; groups?: string[] } = {},
): string {
  return createNetworkInterface(sim, subnetId, opts).ip;
}

/** Give an address back (the task stopped). */
export function releasePrivateIp(sim: Simulator, subnetId: string, ip: string): void {
  const eni = Object.values(ec2State(sim).data.enis).find((e) => e.subnetId === subnetId && e.ip === ip);
  if (eni) deleteNetworkInterface(sim, eni.id);
}

export { createNetworkInterface, deleteNetworkInterface };
