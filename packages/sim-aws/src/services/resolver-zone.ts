import { randomInt } from "node:crypto";
import type { Answer, Question, SoaAnswer } from "dns-packet";
import type { Simulator } from "../sim.js";
import { cloudMapState, type Instance, type Namespace, type Service } from "./cloudmap-store.js";

/**
 * The records of Cloud Map's private DNS namespaces, as the Route 53 hosted zones Cloud Map keeps
 * for them would hold (see the Cloud Map guide, "service DNS configuration"), computed from the
 * Cloud Map store at query time, so a (de)registration shows at once.
 */

export interface ZoneAnswer {
  rcode: "NOERROR" | "NXDOMAIN";
  answers: Answer[];
  authorities: Answer[];
}

/** Route 53 answers a multivalue name with up to eight of its records. */
const MULTIVALUE_MAX = 8;

const canonical = (name: string) => name.toLowerCase().replace(/\.$/, "");

/** The private namespaces associated with the VPC whose zone holds `name`: the longest suffix wins. */
function zoneOf(sim: Simulator, vpcId: string, name: string): Namespace | undefined {
  let best: Namespace | undefined;
  for (const ns of Object.values(cloudMapState(sim).data.namespaces)) {
    if (ns.type !== "DNS_PRIVATE" || ns.vpc !== vpcId) continue;
    const zone = canonical(ns.name);
    if ((name === zone || name.endsWith(`.${zone}`)) && (!best || zone.length > canonical(best.name).length))
      best = ns;
  }
  return best;
}

/** The zone's SOA: Route 53's for private hosted zones, with the namespace's SOA TTL (also its negative-caching TTL). */
function soa(ns: Namespace): SoaAnswer {
  return {
    name: canonical(ns.name),
    type: "SOA",
    class: "IN",
    ttl: ns.soaTtl ?? 15,
    data: {
      mname: "ns-1536.awsdns-00.co.uk",
      rname: "awsdns-hostmaster.amazon.com",
      serial: 1,
      refresh: 7200,
      retry: 900,
      expire: 1209600,
      minimum: 86400,
    },
  };
}

/** Instances a query sees: the healthy ones of a service with a health check, all when none is healthy (as Route 53). */
function routed(s: Service): Instance[] {
  const all = Object.values(s.instances);
  if (!(s.healthCheckConfig || s.healthCheckCustomConfig)) return all;
  const healthy = all.filter((i) => i.health === "HEALTHY");
  return healthy.length ? healthy : all;
}

/** WEIGHTED: one instance at random; MULTIVALUE: up to eight (a random eight when there are more). */
function pick(s: Service, instances: Instance[]): Instance[] {
  const shuffled = [...instances];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  return shuffled.slice(0, s.dnsConfig?.RoutingPolicy === "WEIGHTED" ? 1 : MULTIVALUE_MAX);
}

/** Address records of one instance at `name`. */
function addresses(name: string, i: Instance, ttl: (type: string) => number | undefined): Answer[] {
  const out: Answer[] = [];
  const v4 = i.attributes.AWS_INSTANCE_IPV4;
  const v6 = i.attributes.AWS_INSTANCE_IPV6;
  const ttl4 = ttl("A");
  const ttl6 = ttl("AAAA");
  if (v4 && ttl4 !== undefined) out.push({ name, type: "A", class: "IN", ttl: ttl4, data: v4 });
  if (v6 && ttl6 !== undefined) out.push({ name, type: "AAAA", class: "IN", ttl: ttl6, data: v6 });
  return out;
}

/** Every record of the namespace's zone (names canonical) — zones are small: one per Docker network. */
function records(sim: Simulator, ns: Namespace): Answer[] {
  const zone = canonical(ns.name);
  const out: Answer[] = [];
  for (const s of Object.values(cloudMapState(sim).data.services)) {
    if (s.namespaceId !== ns.id || !s.dnsConfig) continue;
    const name = `${canonical(s.name)}.${zone}`;
    const ttlOf = new Map(s.dnsConfig.DnsRecords.map((r) => [r.Type, r.TTL]));
    // instances registered with AWS_ALIAS_DNS_NAME point at a load balancer the simulator does not have
    const chosen = pick(
      s,
      routed(s).filter((i) => !i.attributes.AWS_ALIAS_DNS_NAME),
    );
    for (const i of chosen) {
      out.push(...addresses(name, i, (t) => ttlOf.get(t)));
      const cname = i.attributes.AWS_INSTANCE_CNAME;
      const ttlCname = ttlOf.get("CNAME");
      if (cname && ttlCname !== undefined)
        out.push({ name, type: "CNAME", class: "IN", ttl: ttlCname, data: canonical(cname) });
      const ttlSrv = ttlOf.get("SRV");
      const port = Number(i.attributes.AWS_INSTANCE_PORT);
      if (ttlSrv !== undefined && Number.isInteger(port)) {
        // SRV: "1 1 port <instance id>.<service>.<namespace>", that host name holding the instance's addresses
        const target = `${i.id.toLowerCase()}.${name}`;
        out.push({
          name,
          type: "SRV",
          class: "IN",
          ttl: ttlSrv,
          data: { priority: 1, weight: 1, port, target },
        });
      }
    }
    if (ttlOf.has("SRV"))
      for (const i of Object.values(s.instances))
        out.push(...addresses(`${i.id.toLowerCase()}.${name}`, i, () => ttlOf.get("SRV")));
  }
  return out;
}

/**
 * The answer for a question inside one of the VPC's private namespaces; undefined when the name
 * is outside all of them (the resolver forwards it). NXDOMAIN for a name that holds no records
 * and has none below it; NOERROR without answers (NODATA) for a name that exists with other types.
 */
export function answerFromCloudMap(sim: Simulator, vpcId: string, q: Question): ZoneAnswer | undefined {
  const name = canonical(q.name);
  const qtype = q.type as string; // dns-packet decodes type 255 as "ANY", which its types leave out
  const ns = zoneOf(sim, vpcId, name);
  if (!ns) return undefined;
  const zone = canonical(ns.name);
  const all = records(sim, ns);
  const at = all.filter((r) => r.name === name);
  // answers carry the name as asked (resolvers may randomize its case)
  const asAsked = (r: Answer): Answer => (r.name === name ? { ...r, name: q.name.replace(/\.$/, "") } : r);
  const negative = (rcode: ZoneAnswer["rcode"]): ZoneAnswer => ({
    rcode,
    answers: [],
    authorities: [soa(ns)],
  });

  if (name === zone && (qtype === "SOA" || qtype === "ANY"))
    return { rcode: "NOERROR", answers: [asAsked(soa(ns))], authorities: [] };
  const cname = at.find((r) => r.type === "CNAME");
  if (cname && qtype !== "CNAME" && qtype !== "ANY") {
    // follow the alias while it stays in the zone; a stub resolver gets the rest from its own query
    const target = (cname as { data: string }).data;
    return {
      rcode: "NOERROR",
      answers: [asAsked(cname), ...all.filter((r) => r.name === target && r.type === qtype)],
      authorities: [],
    };
  }
  const matching = at.filter((r) => qtype === "ANY" || r.type === qtype);
  if (matching.length) return { rcode: "NOERROR", answers: matching.map(asAsked), authorities: [] };
  const exists = name === zone || all.some((r) => r.name === name || r.name.endsWith(`.${name}`));
  return negative(exists ? "NOERROR" : "NXDOMAIN");
}
