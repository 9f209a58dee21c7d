import path from "node:path";
import { badRequest, conflict, forbidden, noSuchNetwork } from "@sockerless/api";
import type { EventBus } from "./events.js";
import type { NetworkHooks } from "./types.js";
import {
  checkFilterKeys,
  type Filters,
  matchLabels,
  newId,
  nowIso,
  parseTimeArg,
  readJson,
  writeAtomic,
} from "./util.js";

export interface IpamConfig {
  Subnet?: string;
  Gateway?: string;
  IPRange?: string;
}

export interface Network {
  Name: string;
  Id: string;
  Created: string;
  Scope: "local";
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: IpamConfig[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

export const PREDEFINED = ["bridge", "host", "none"];

const ipToInt = (ip: string) => ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
const intToIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");

function parseCidr(cidr: string): { base: number; bits: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!m || Number(m[2]) > 30 || m[1].split(".").some((o) => Number(o) > 255)) {
    throw badRequest(`invalid CIDR address: ${cidr}`);
  }
  const bits = Number(m[2]);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (ipToInt(m[1]) & mask) >>> 0, bits };
}

/** A network's requested subnet, refused with dockerd's wording. */
function parseSubnet(cidr: string): { base: number; bits: number } {
  try {
    return parseCidr(cidr);
  } catch (e) {
    throw badRequest(`Invalid subnet ${cidr} : ${(e as Error).message}`);
  }
}

/** Networks with a real IPAM: each user network gets its own subnet; addresses are unique per network. */
export class NetworkStore {
  private networks = new Map<string, Network>();
  private readonly file: string;

  constructor(
    root: string,
    private readonly events: EventBus,
    /** container id -> IPv4 address in use, for one network */
    private readonly addressesIn: (networkId: string) => Map<string, string>,
    /** how many running containers have an endpoint on the network (dockerd's "in use" for prune) */
    private readonly runningIn: (networkId: string) => number,
    /** the platform's own networks, when the backend mirrors them */
    private readonly hooks?: NetworkHooks,
  ) {
    this.file = path.join(root, "networks.json");
  }

  async init(): Promise<void> {
    for (const n of (await readJson<Network[]>(this.file)) ?? []) this.networks.set(n.Id, n);
    const mk = (name: string, driver: string, config: IpamConfig[]) => {
      if (this.byName(name)) return;
      const n = this.blank(name, driver, config);
      if (name === "bridge") n.Options = { "com.docker.network.bridge.default_bridge": "true" };
      this.networks.set(n.Id, n);
    };
    mk("bridge", "bridge", [{ Subnet: "172.17.0.0/16", Gateway: "172.17.0.1" }]);
    mk("host", "host", []);
    mk("none", "null", []);
    await this.save();
  }

  private blank(name: string, driver: string, config: IpamConfig[]): Network {
    return {
      Name: name,
      Id: newId(),
      Created: nowIso(),
      Scope: "local",
      Driver: driver,
      EnableIPv6: false,
      IPAM: { Driver: "default", Options: null, Config: config },
      Internal: false,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: "" },
      ConfigOnly: false,
      Options: {},
      Labels: {},
    };
  }

  private save(): Promise<void> {
    return writeAtomic(this.file, JSON.stringify([...this.networks.values()]));
  }

  private byName(name: string): Network | undefined {
    for (const n of this.networks.values()) if (n.Name === name) return n;
    return undefined;
  }

  /** Full id, then exact name, then unique id prefix (dockerd's order). */
  find(ref: string): Network | undefined {
    const exact = this.networks.get(ref) ?? this.byName(ref);
    if (exact) return exact;
    const matches = [...this.networks.values()].filter((n) => n.Id.startsWith(ref));
    if (matches.length > 1)
      throw badRequest(`network ${ref} is ambiguous (${matches.length} matches found on name)`);
    return matches[0];
  }

  get(ref: string): Network {
    const n = this.find(ref);
    if (!n) throw noSuchNetwork(ref);
    return n;
  }

  all(): Network[] {
    return [...this.networks.values()];
  }

  async create(req: {
    Name?: string;
    Driver?: string;
    Internal?: boolean;
    Attachable?: boolean;
    EnableIPv6?: boolean;
    IPAM?: { Driver?: string; Config?: IpamConfig[]; Options?: Record<string, string> };
    Options?: Record<string, string>;
    Labels?: Record<string, string>;
    CheckDuplicate?: boolean;
  }): Promise<Network> {
    if (!req.Name) throw badRequest("network name is required");
    if (PREDEFINED.includes(req.Name))
      throw forbidden(`operation is not permitted on predefined ${req.Name} network `);
    if (this.byName(req.Name)) throw conflict(`network with name ${req.Name} already exists`);
    const driver = req.Driver || "bridge";
    if (driver !== "bridge")
      throw badRequest(`could not find plugin ${driver} in v1 plugin registry: plugin not found`);
    const config = (req.IPAM?.Config ?? []).map((c) => ({ ...c }));
    // a platform with its own networks picks the subnet itself (the hook reports it back)
    if (config.length === 0 && !this.hooks) config.push({ Subnet: this.nextFreeSubnet() });
    for (const c of config) {
      if (!c.Subnet) throw badRequest("ipam config: subnet is required");
      const { base, bits } = parseSubnet(c.Subnet);
      for (const other of this.all()) {
        for (const oc of other.IPAM.Config) {
          if (oc.Subnet && overlaps(c.Subnet, oc.Subnet)) {
            throw forbidden(`Pool overlaps with other one on this address space`);
          }
        }
      }
      if (!c.Gateway) c.Gateway = intToIp(base + 1);
      else if (!inSubnet(c.Gateway, base, bits)) {
        throw badRequest(`invalid gateway address ${c.Gateway} for subnet ${c.Subnet}`);
      }
    }
    const n = this.blank(req.Name, driver, config);
    n.Internal = !!req.Internal;
    n.Attachable = !!req.Attachable;
    n.Options = req.Options ?? {};
    n.Labels = req.Labels ?? {};
    n.IPAM.Options = req.IPAM?.Options ?? {};
    await this.hooks?.create(n);
    this.networks.set(n.Id, n);
    await this.save();
    this.events.emit("network", "create", n.Id, { name: n.Name, type: driver });
    return n;
  }

  private nextFreeSubnet(): string {
    for (let second = 18; second < 32; second++) {
      const cand = `172.${second}.0.0/16`;
      if (!this.all().some((n) => n.IPAM.Config.some((c) => c.Subnet && overlaps(c.Subnet, cand))))
        return cand;
    }
    for (let third = 0; third < 256; third++) {
      const cand = `192.168.${third}.0/24`;
      if (!this.all().some((n) => n.IPAM.Config.some((c) => c.Subnet && overlaps(c.Subnet, cand))))
        return cand;
    }
    throw forbidden(
      "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
    );
  }

  /** A free address in the network's first subnet, or the requested one if free. */
  allocate(n: Network, wanted?: string): { ip: string; prefix: number; gateway: string } | undefined {
    const c = n.IPAM.Config[0];
    if (!c?.Subnet) return undefined;
    const { base, bits } = parseCidr(c.Subnet);
    const used = new Set(this.addressesIn(n.Id).values());
    used.add(c.Gateway ?? "");
    if (wanted) {
      if (!inSubnet(wanted, base, bits))
        throw badRequest(`no configured subnet contains IP address ${wanted}`);
      if (used.has(wanted)) throw forbidden(`Address already in use`);
      return { ip: wanted, prefix: bits, gateway: c.Gateway ?? "" };
    }
    const size = 2 ** (32 - bits);
    for (let i = 2; i < size - 1; i++) {
      const ip = intToIp(base + i);
      if (!used.has(ip)) return { ip, prefix: bits, gateway: c.Gateway ?? "" };
    }
    throw forbidden(`no available IPv4 addresses on this network's address pools: ${n.Name} (${n.Id})`);
  }

  async remove(ref: string): Promise<void> {
    const n = this.get(ref);
    if (PREDEFINED.includes(n.Name))
      throw forbidden(`${n.Name} is a pre-defined network and cannot be removed`);
    // a created-not-started container has no endpoint yet on dockerd: it does not keep the network
    if (this.runningIn(n.Id) > 0) {
      throw forbidden(`error while removing network: network ${n.Name} id ${n.Id} has active endpoints`);
    }
    await this.hooks?.remove(n);
    this.networks.delete(n.Id);
    await this.save();
    this.events.emit("network", "destroy", n.Id, { name: n.Name, type: n.Driver });
  }

  list(filters: Filters): Network[] {
    checkFilterKeys(filters, ["name", "id", "driver", "label", "type", "scope", "dangling"]);
    return this.all().filter((n) => {
      const f = (k: string, pred: (v: string) => boolean) => {
        const vals = filters.get(k);
        return !vals || vals.some(pred);
      };
      const custom = !PREDEFINED.includes(n.Name);
      return (
        f("name", (v) => n.Name.includes(v)) &&
        f("id", (v) => n.Id.startsWith(v)) &&
        f("driver", (v) => n.Driver === v) &&
        f("type", (v) => (v === "custom" ? custom : v === "builtin" ? !custom : false)) &&
        f("scope", (v) => v === "local") &&
        f("dangling", (v) => (v === "true" || v === "1") === (this.addressesIn(n.Id).size === 0)) &&
        matchLabels(n.Labels, filters.get("label"))
      );
    });
  }

  async prune(filters: Filters): Promise<{ NetworksDeleted: string[] }> {
    checkFilterKeys(filters, ["until", "label", "label!"]);
    const until = filters.get("until")?.[0];
    const cutoff = until ? parseTimeArg(until) : undefined;
    const deleted: string[] = [];
    for (const n of this.all()) {
      if (PREDEFINED.includes(n.Name) || this.runningIn(n.Id) > 0) continue;
      if (cutoff !== undefined && Date.parse(n.Created) >= cutoff) continue;
      if (!matchLabels(n.Labels, filters.get("label"))) continue;
      const not = filters.get("label!");
      if (not && not.some((l) => matchLabels(n.Labels, [l]))) continue;
      await this.remove(n.Id);
      deleted.push(n.Name);
    }
    return { NetworksDeleted: deleted };
  }
}

function inSubnet(ip: string, base: number, bits: number): boolean {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (ipToInt(ip) & mask) >>> 0 === base;
}

/** Two CIDRs overlap when either contains the other's base address. */
function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  return inSubnet(intToIp(x.base), y.base, y.bits) || inSubnet(intToIp(y.base), x.base, x.bits);
}
