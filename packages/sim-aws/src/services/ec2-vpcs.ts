import { items } from "../protocols/query.js";
import type { QueryHandler, Simulator } from "../sim.js";
import { cidrParam } from "./ec2-cidr.js";
import { createGroup } from "./ec2-groups.js";
import { filters, list, nested, required, tagSpecs } from "./ec2-params.js";
import {
  ec2Error,
  ec2Id,
  ec2State,
  matches,
  nextSeq,
  paged,
  tagSet,
  vpcNotFound,
  type Subnet,
  type Vpc,
} from "./ec2-store.js";
import { zones } from "./ec2-zones.js";

/** A real account starts with a default VPC in each region: 172.31.0.0/16, a /20 subnet per zone, a default group. */
export function ensureDefaultNetwork(sim: Simulator): void {
  const st = ec2State(sim);
  if (st.data.defaultsCreated) return;
  const vpc: Vpc = {
    id: ec2Id("vpc"),
    seq: nextSeq(st),
    tags: {},
    cidr: "172.31.0.0/16",
    cidrAssociationId: ec2Id("vpc-cidr-assoc"),
    isDefault: true,
    dhcpOptionsId: ec2Id("dopt"),
  };
  st.data.vpcs[vpc.id] = vpc;
  createGroup(sim, {
    name: "default",
    description: "default VPC security group",
    vpcId: vpc.id,
    isDefault: true,
  });
  zones(sim.opts.region).forEach((z, i) => {
    const s: Subnet = {
      id: ec2Id("subnet"),
      seq: nextSeq(st),
      tags: {},
      vpcId: vpc.id,
      cidr: `172.31.${i * 16}.0/20`,
      az: z.name,
      azId: z.id,
      defaultForAz: true,
      mapPublicIpOnLaunch: true,
    };
    st.data.subnets[s.id] = s;
  });
  st.data.defaultsCreated = true;
  st.changed();
}

export function vpcHandlers(sim: Simulator): Record<string, QueryHandler> {
  const st = ec2State(sim);
  const owner = sim.opts.account;

  const vpcXml = (v: Vpc, state = "available") => ({
    vpcId: v.id,
    ownerId: owner,
    state,
    cidrBlock: v.cidr,
    cidrBlockAssociationSet: items([
      { associationId: v.cidrAssociationId, cidrBlock: v.cidr, cidrBlockState: { state: "associated" } },
    ]),
    dhcpOptionsId: v.dhcpOptionsId,
    instanceTenancy: "default",
    isDefault: v.isDefault,
    ...tagSet(v.tags),
  });

  const vpcFields = (v: Vpc) => (name: string) =>
    ({
      "vpc-id": [v.id],
      cidr: [v.cidr],
      "cidr-block": [v.cidr],
      cidrBlock: [v.cidr],
      "cidr-block-association.cidr-block": [v.cidr],
      "cidr-block-association.association-id": [v.cidrAssociationId],
      "cidr-block-association.state": ["associated"],
      state: ["available"],
      "is-default": [v.isDefault],
      isDefault: [v.isDefault],
      "owner-id": [owner],
      "dhcp-options-id": [v.dhcpOptionsId],
      "instance-tenancy": ["default"],
    })[name];

  return {
    CreateVpc(params) {
      const p = nested(params);
      if (!p.CidrBlock)
        throw ec2Error("MissingParameter", "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.");
      const c = cidrParam(p.CidrBlock);
      if (c.bits < 16 || c.bits > 28)
        throw ec2Error("InvalidVpc.Range", `The CIDR '${p.CidrBlock}' is invalid.`);
      const v: Vpc = {
        id: ec2Id("vpc"),
        seq: nextSeq(st),
        tags: tagSpecs(p, "vpc"),
        cidr: p.CidrBlock,
        cidrAssociationId: ec2Id("vpc-cidr-assoc"),
        isDefault: false,
        dhcpOptionsId: ec2Id("dopt"),
      };
      st.data.vpcs[v.id] = v;
      createGroup(sim, {
        name: "default",
        description: "default VPC security group",
        vpcId: v.id,
        isDefault: true,
      });
      st.changed();
      // AWS answers "pending"; the VPC is usable at once here, so describing it shows "available"
      return { vpc: vpcXml(v, "pending") };
    },

    DescribeVpcs(params) {
      const p = nested(params);
      const ids = list(p, "VpcId");
      const missingIds = ids.filter((id) => !st.data.vpcs[id]);
      if (missingIds.length) throw vpcNotFound(missingIds.join(", "));
      const f = filters(p);
      const found = Object.values(st.data.vpcs).filter(
        (v) => (!ids.length || ids.includes(v.id)) && matches(f, v.tags, vpcFields(v)),
      );
      const { page, nextToken } = paged(found, p);
      return { vpcSet: items(page.map((v) => vpcXml(v))), nextToken };
    },

    DeleteVpc(params) {
      const id = required(nested(params), "VpcId");
      if (!st.data.vpcs[id]) throw vpcNotFound(id);
      const busy =
        Object.values(st.data.subnets).some((s) => s.vpcId === id) ||
        Object.values(st.data.groups).some((g) => g.vpcId === id && g.name !== "default");
      if (busy)
        throw ec2Error("DependencyViolation", `The vpc '${id}' has dependencies and cannot be deleted.`);
      for (const g of Object.values(st.data.groups)) if (g.vpcId === id) delete st.data.groups[g.id];
      delete st.data.vpcs[id];
      st.changed();
      return { return: true };
    },
  };
}
