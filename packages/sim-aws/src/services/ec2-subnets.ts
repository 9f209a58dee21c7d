import { items } from "../protocols/query.js";
import type { QueryHandler, Simulator } from "../sim.js";
import { cidrParam, contains, overlaps, parseCidr, usableAddresses } from "./ec2-cidr.js";
import { filters, list, nested, required, tagSpecs } from "./ec2-params.js";
import {
  ec2Error,
  ec2Id,
  ec2State,
  invalidValue,
  matches,
  nextSeq,
  paged,
  subnetNotFound,
  tagSet,
  vpcNotFound,
  type Subnet,
} from "./ec2-store.js";
import { zones } from "./ec2-zones.js";

export function subnetHandlers(sim: Simulator): Record<string, QueryHandler> {
  const st = ec2State(sim);
  const owner = sim.opts.account;
  /** addresses held by network interfaces, which also keep the subnet from being deleted */
  const usedIps = (subnetId: string) =>
    Object.values(st.data.enis).filter((e) => e.subnetId === subnetId).length;

  const subnetXml = (s: Subnet, region: string) => ({
    subnetId: s.id,
    subnetArn: sim.arn("ec2", `subnet/${s.id}`, region),
    state: "available",
    vpcId: s.vpcId,
    cidrBlock: s.cidr,
    availableIpAddressCount: usableAddresses(parseCidr(s.cidr)!) - usedIps(s.id),
    availabilityZone: s.az,
    availabilityZoneId: s.azId,
    defaultForAz: s.defaultForAz,
    mapPublicIpOnLaunch: s.mapPublicIpOnLaunch,
    ownerId: owner,
    assignIpv6AddressOnCreation: false,
    ipv6CidrBlockAssociationSet: items([]),
    ipv6Native: false,
    enableDns64: false,
    mapCustomerOwnedIpOnLaunch: false,
    privateDnsNameOptionsOnLaunch: {
      hostnameType: "ip-name",
      enableResourceNameDnsARecord: false,
      enableResourceNameDnsAAAARecord: false,
    },
    ...tagSet(s.tags),
  });

  const subnetFields = (s: Subnet) => (name: string) =>
    ({
      "subnet-id": [s.id],
      subnetId: [s.id],
      "vpc-id": [s.vpcId],
      vpcId: [s.vpcId],
      "cidr-block": [s.cidr],
      cidr: [s.cidr],
      cidrBlock: [s.cidr],
      "availability-zone": [s.az],
      availabilityZone: [s.az],
      "availability-zone-id": [s.azId],
      availabilityZoneId: [s.azId],
      "default-for-az": [s.defaultForAz],
      defaultForAz: [s.defaultForAz],
      "map-public-ip-on-launch": [s.mapPublicIpOnLaunch],
      state: ["available"],
      "owner-id": [owner],
      "available-ip-address-count": [usableAddresses(parseCidr(s.cidr)!) - usedIps(s.id)],
    })[name];

  return {
    CreateSubnet(params, call) {
      const p = nested(params);
      const vpcId = required(p, "VpcId", "vpcId");
      const cidrText = required(p, "CidrBlock", "cidrBlock");
      const vpc = st.data.vpcs[vpcId];
      if (!vpc) throw vpcNotFound(vpcId);
      const c = cidrParam(cidrText);
      if (c.bits < 16 || c.bits > 28 || !contains(parseCidr(vpc.cidr)!, c))
        throw ec2Error("InvalidSubnet.Range", `The CIDR '${cidrText}' is invalid.`);
      const siblings = Object.values(st.data.subnets).filter((s) => s.vpcId === vpcId);
      if (siblings.some((s) => overlaps(parseCidr(s.cidr)!, c)))
        throw ec2Error("InvalidSubnet.Conflict", `The CIDR '${cidrText}' conflicts with another subnet`);
      const all = zones(call.region);
      let zone = all.find((z) => z.name === p.AvailabilityZone || z.id === p.AvailabilityZoneId);
      if ((p.AvailabilityZone || p.AvailabilityZoneId) && !zone)
        throw invalidValue(
          `Value (${p.AvailabilityZone ?? p.AvailabilityZoneId}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: ${all.map((z) => z.name).join(", ")}.`,
        );
      // without a zone, AWS picks one; spreading subnets over zones is what callers expect
      zone ??= [...all].sort(
        (a, b) =>
          siblings.filter((s) => s.az === a.name).length - siblings.filter((s) => s.az === b.name).length,
      )[0];
      const s: Subnet = {
        id: ec2Id("subnet"),
        seq: nextSeq(st),
        tags: tagSpecs(p, "subnet"),
        vpcId,
        cidr: cidrText,
        az: zone.name,
        azId: zone.id,
        defaultForAz: false,
        mapPublicIpOnLaunch: false,
      };
      st.data.subnets[s.id] = s;
      st.changed();
      return { subnet: subnetXml(s, call.region) };
    },

    DescribeSubnets(params, call) {
      const p = nested(params);
      const ids = list(p, "SubnetId");
      const missingIds = ids.filter((id) => !st.data.subnets[id]);
      if (missingIds.length) throw subnetNotFound(missingIds.join(", "));
      const f = filters(p);
      const found = Object.values(st.data.subnets).filter(
        (s) => (!ids.length || ids.includes(s.id)) && matches(f, s.tags, subnetFields(s)),
      );
      const { page, nextToken } = paged(found, p);
      return { subnetSet: items(page.map((s) => subnetXml(s, call.region))), nextToken };
    },

    DeleteSubnet(params) {
      const id = required(nested(params), "SubnetId");
      if (!st.data.subnets[id]) throw subnetNotFound(id);
      if (usedIps(id))
        throw ec2Error("DependencyViolation", `The subnet '${id}' has dependencies and cannot be deleted.`);
      delete st.data.subnets[id];
      st.changed();
      return { return: true };
    },
  };
}
