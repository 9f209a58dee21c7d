import { items } from "../protocols/query.js";
import type { Simulator } from "../sim.js";
import { parseCidr } from "./ec2-cidr.js";
import { list } from "./ec2-params.js";
import { ec2Error, ec2State, groupNotFound, invalidValue, type Rule } from "./ec2-store.js";

/** Security group rules: reading them from requests, comparing them, and reporting them as EC2 does. */
const PROTOCOLS: Record<string, string> = {
  "-1": "-1",
  all: "-1",
  tcp: "tcp",
  "6": "tcp",
  udp: "udp",
  "17": "udp",
  icmp: "icmp",
  "1": "icmp",
  icmpv6: "icmpv6",
  "58": "icmpv6",
};

function protocol(value: unknown): string {
  const v = String(value ?? "").toLowerCase();
  if (PROTOCOLS[v]) return PROTOCOLS[v];
  if (/^\d+$/.test(v) && Number(v) <= 255) return v;
  throw invalidValue(`Invalid value '${value}' for IP protocol. Unknown protocol.`);
}

export type RuleSpec = Omit<Rule, "id">;

/** Rules a request names: IpPermissions.N.*, or the older flat CidrIp/IpProtocol/FromPort/ToPort. */
export function ruleSpecs(sim: Simulator, p: Record<string, any>, egress: boolean): RuleSpec[] {
  const st = ec2State(sim);
  const perms = list(p, "IpPermissions");
  if (!perms.length && p.IpProtocol !== undefined)
    perms.push({
      IpProtocol: p.IpProtocol,
      FromPort: p.FromPort,
      ToPort: p.ToPort,
      IpRanges: p.CidrIp ? [{ CidrIp: p.CidrIp }] : [],
    });
  if (!perms.length)
    throw ec2Error("MissingParameter", "The request must contain the parameter ipPermissions");
  const out: RuleSpec[] = [];
  for (const perm of perms) {
    const proto = protocol(perm.IpProtocol);
    let from: number | undefined;
    let to: number | undefined;
    if (proto !== "-1") {
      from = perm.FromPort === undefined ? undefined : Number(perm.FromPort);
      to = perm.ToPort === undefined ? undefined : Number(perm.ToPort);
      if ((proto === "tcp" || proto === "udp") && (from === undefined || to === undefined))
        throw invalidValue("Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange");
      if ((proto === "tcp" || proto === "udp") && (from! < 0 || to! > 65535 || from! > to!))
        throw invalidValue(`Invalid value '${from}-${to}' for portRange`);
    }
    const base = { egress, protocol: proto, from, to };
    const peers = [
      ...list(perm, "IpRanges").map((r) => {
        if (!parseCidr(String(r.CidrIp))) throw invalidValue(`CIDR block ${r.CidrIp} is malformed`);
        return { ...base, cidr: String(r.CidrIp), description: r.Description };
      }),
      ...list(perm, "Ipv6Ranges").map((r) => ({
        ...base,
        cidrV6: String(r.CidrIpv6),
        description: r.Description,
      })),
      ...list(perm, "Groups").map((g) => {
        if (!st.data.groups[g.GroupId]) throw groupNotFound(String(g.GroupId));
        return { ...base, groupId: String(g.GroupId), description: g.Description };
      }),
    ];
    if (!peers.length)
      throw ec2Error("MissingParameter", "The request must contain the parameter ipRanges or groups");
    out.push(...peers);
  }
  return out;
}

export const sameRule = (a: RuleSpec, b: RuleSpec) =>
  a.egress === b.egress &&
  a.protocol === b.protocol &&
  a.from === b.from &&
  a.to === b.to &&
  a.cidr === b.cidr &&
  a.cidrV6 === b.cidrV6 &&
  a.groupId === b.groupId;

export function describeRule(r: RuleSpec): string {
  const peer = r.cidr ?? r.cidrV6 ?? r.groupId;
  const ports =
    r.protocol === "-1" ? "ALL" : `${r.protocol.toUpperCase()}, from port: ${r.from}, to port: ${r.to}`;
  return `peer: ${peer}, ${ports}, ALLOW`;
}

/** Rules grouped the way EC2 reports them: one IpPermission per (protocol, ports). */
export function permissionsXml(rules: Rule[], owner: string) {
  const byKey = new Map<string, Rule[]>();
  for (const r of rules) {
    const k = `${r.protocol}|${r.from}|${r.to}`;
    byKey.set(k, [...(byKey.get(k) ?? []), r]);
  }
  return items(
    [...byKey.values()].map((rs) => ({
      ipProtocol: rs[0].protocol,
      ...(rs[0].protocol === "-1" ? {} : { fromPort: rs[0].from, toPort: rs[0].to }),
      groups: items(
        rs
          .filter((r) => r.groupId)
          .map((r) => ({ userId: owner, groupId: r.groupId, description: r.description })),
      ),
      ipRanges: items(rs.filter((r) => r.cidr).map((r) => ({ cidrIp: r.cidr, description: r.description }))),
      ipv6Ranges: items(
        rs.filter((r) => r.cidrV6).map((r) => ({ cidrIpv6: r.cidrV6, description: r.description })),
      ),
      prefixListIds: items([]),
    })),
  );
}
