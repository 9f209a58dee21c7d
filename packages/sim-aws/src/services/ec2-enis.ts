import { randomBytes } from "node:crypto";
import { items } from "../protocols/query.js";
import type { QueryHandler, Simulator } from "../sim.js";
import { RESERVED_LOW, containsIp, ipString, parseCidr, parseIp, size } from "./ec2-cidr.js";
import { filters, list, nested } from "./ec2-params.js";
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
  type Eni,
} from "./ec2-store.js";

export interface EniOptions {
  description?: string;
  /** security group ids; the VPC's default group when absent */
  groups?: string[];
  /** a specific address (EFS CreateMountTarget's IpAddress) */
  ip?: string;
  interfaceType?: string;
}

/** A network interface with the lowest free address of the subnet (AWS reserves the first four and the last). */
export function createNetworkInterface(sim: Simulator, subnetId: string, opts: EniOptions = {}): Eni {
  const st = ec2State(sim);
  const subnet = st.data.subnets[subnetId];
  if (!subnet) throw subnetNotFound(subnetId);
  const cidr = parseCidr(subnet.cidr)!;
  const used = new Set(
    Object.values(st.data.enis)
      .filter((e) => e.subnetId === subnetId)
      .map((e) => e.ip),
  );
  let ip: string | undefined;
  if (opts.ip) {
    const n = parseIp(opts.ip);
    if (
      n === undefined ||
      !containsIp(cidr, n) ||
      n < cidr.base + RESERVED_LOW ||
      n === cidr.base + size(cidr) - 1
    )
      throw invalidValue(`Address ${opts.ip} does not fall within the subnet's address range`);
    if (used.has(opts.ip)) throw ec2Error("InvalidIPAddress.InUse", `Address ${opts.ip} is in use.`);
    ip = opts.ip;
  } else {
    for (let n = cidr.base + RESERVED_LOW; n < cidr.base + size(cidr) - 1; n++)
      if (!used.has(ipString(n))) {
        ip = ipString(n);
        break;
      }
  }
  if (!ip)
    throw ec2Error(
      "InsufficientFreeAddressesInSubnet",
      `There are not enough free addresses in subnet '${subnetId}' to satisfy the requested number of instances.`,
    );
  const defaultGroup = Object.values(st.data.groups).find(
    (g) => g.vpcId === subnet.vpcId && g.name === "default",
  );
  const eni: Eni = {
    id: ec2Id("eni"),
    seq: nextSeq(st),
    tags: {},
    subnetId,
    ip,
    mac: ["0e", ...randomBytes(5).toString("hex").match(/../g)!].join(":"),
    description: opts.description ?? "",
    groups: opts.groups ?? (defaultGroup ? [defaultGroup.id] : []),
    interfaceType: opts.interfaceType ?? "interface",
  };
  st.data.enis[eni.id] = eni;
  st.changed();
  return eni;
}

export function deleteNetworkInterface(sim: Simulator, id: string): void {
  const st = ec2State(sim);
  if (st.data.enis[id]) {
    delete st.data.enis[id];
    st.changed();
  }
}

export function eniHandlers(sim: Simulator): Record<string, QueryHandler> {
  const st = ec2State(sim);
  const owner = sim.opts.account;
  const dnsName = (ip: string, region: string) =>
    `ip-${ip.replace(/\./g, "-")}.${region === "us-east-1" ? "ec2.internal" : `${region}.compute.internal`}`;
  const groupsOf = (e: Eni) =>
    e.groups.map((id) => ({ groupId: id, groupName: st.data.groups[id]?.name ?? "" }));

  return {
    DescribeNetworkInterfaces(params, call) {
      const p = nested(params);
      const ids = list(p, "NetworkInterfaceId").map(String);
      const missingIds = ids.filter((id) => !st.data.enis[id]);
      if (missingIds.length)
        throw ec2Error(
          "InvalidNetworkInterfaceID.NotFound",
          `The networkInterface ID '${missingIds.join(", ")}' does not exist`,
        );
      const f = filters(p);
      const found = Object.values(st.data.enis).filter((e) => {
        const subnet = st.data.subnets[e.subnetId];
        return (
          (!ids.length || ids.includes(e.id)) &&
          matches(
            f,
            e.tags,
            (name) =>
              ({
                "network-interface-id": [e.id],
                "subnet-id": [e.subnetId],
                "vpc-id": [subnet?.vpcId],
                "availability-zone": [subnet?.az],
                "private-ip-address": [e.ip],
                "addresses.private-ip-address": [e.ip],
                "mac-address": [e.mac],
                status: ["in-use"],
                description: [e.description],
                "group-id": e.groups,
                "group-name": groupsOf(e).map((g) => g.groupName),
                "owner-id": [owner],
                "interface-type": [e.interfaceType],
              })[name],
          )
        );
      });
      const { page, nextToken } = paged(found, p);
      return {
        networkInterfaceSet: items(
          page.map((e) => {
            const subnet = st.data.subnets[e.subnetId];
            return {
              networkInterfaceId: e.id,
              subnetId: e.subnetId,
              vpcId: subnet?.vpcId,
              availabilityZone: subnet?.az,
              description: e.description,
              ownerId: owner,
              requesterManaged: false,
              status: "in-use",
              macAddress: e.mac,
              privateIpAddress: e.ip,
              privateDnsName: dnsName(e.ip, call.region),
              sourceDestCheck: true,
              groupSet: items(groupsOf(e)),
              interfaceType: e.interfaceType,
              privateIpAddressesSet: items([
                { privateIpAddress: e.ip, privateDnsName: dnsName(e.ip, call.region), primary: true },
              ]),
              ipv6AddressesSet: items([]),
              ...tagSet(e.tags),
            };
          }),
        ),
        nextToken,
      };
    },
  };
}
