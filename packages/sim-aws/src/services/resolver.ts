import { randomInt } from "node:crypto";
import type { Simulator } from "../sim.js";
import type { Persistent } from "../store.js";
import { parseUpstream, resolvConfServers, type Upstream } from "./resolver-forward.js";
import { respond } from "./resolver-message.js";
import { DnsListener } from "./resolver-server.js";
import { answerFromCloudMap } from "./resolver-zone.js";

/**
 * The VPC resolver (Route 53 Resolver, AWS's "AmazonProvidedDNS" at the VPC's base address + 2):
 * a DNS server per VPC that answers the Cloud Map private DNS namespaces associated with that VPC
 * and forwards every other name to the host's resolvers.
 *
 * Tasks run with the engine's host networking, so a query's source address cannot tell which VPC
 * it comes from: each VPC gets its own server address instead, picked in 127.53.0.0/16 (Linux
 * routes all of 127.0.0.0/8 to the loopback interface, so no address is added to the host, and
 * several simulators on one host each get their own). resolv.conf cannot name a port, so it is
 * port 53, which needs root or CAP_NET_BIND_SERVICE. The address of a VPC is kept under
 * --data-dir, so tasks that outlive a simulator restart keep resolving.
 */

interface ResolverState {
  /** VPC id -> the loopback address its resolver listens on */
  addresses: Record<string, string>;
}

const DNS_PORT = 53;
/** Addresses tried per VPC before giving up (another simulator may hold one). */
const ATTEMPTS = 8;

const randomAddress = () => `127.53.${randomInt(256)}.${randomInt(1, 255)}`;

export class VpcResolvers {
  private readonly listeners = new Map<string, Promise<DnsListener | undefined>>();
  private readonly st: Persistent<ResolverState>;
  /** --dns-upstream, checked at start-up */
  private readonly given: Upstream[] | undefined;
  private closed = false;

  constructor(private readonly sim: Simulator) {
    this.st = sim.state<ResolverState>("resolver", { addresses: {} });
    this.given = sim.opts.dnsUpstreams?.map(parseUpstream);
  }

  /**
   * The address of the VPC's resolver, started on first use; undefined when it cannot listen (a
   * warning says why, once): the VPC's tasks then use the engine's default DNS.
   */
  serverFor(vpcId: string): Promise<string | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    let l = this.listeners.get(vpcId);
    if (!l) {
      l = this.start(vpcId);
      this.listeners.set(vpcId, l);
    }
    return l.then((x) => x?.address);
  }

  /** Resolvers of VPCs that had one before a restart: their tasks may still be running. */
  restore(): void {
    for (const vpc of Object.keys(this.st.data.addresses)) void this.serverFor(vpc);
  }

  private async start(vpcId: string): Promise<DnsListener | undefined> {
    const known = this.st.data.addresses[vpcId];
    const candidates = [...(known ? [known] : []), ...Array.from({ length: ATTEMPTS }, randomAddress)];
    let lastError: NodeJS.ErrnoException | undefined;
    for (const address of candidates) {
      try {
        const l = await DnsListener.bind(address, DNS_PORT, (q, tcp) =>
          respond(q, tcp, {
            zone: (question) => answerFromCloudMap(this.sim, vpcId, question),
            upstreams: () => this.upstreams(),
          }),
        );
        if (known && address !== known)
          console.warn(
            `sim-aws: the resolver of ${vpcId} moved from ${known} (in use) to ${address}: tasks started before keep asking ${known}`,
          );
        this.st.data.addresses[vpcId] = address;
        this.st.changed();
        return l;
      } catch (e) {
        lastError = e as NodeJS.ErrnoException;
        if (lastError.code !== "EADDRINUSE") break; // EACCES and the like: another address will not help
      }
    }
    console.warn(
      `sim-aws: no DNS resolver for ${vpcId}: cannot listen on port ${DNS_PORT} of a loopback address (${lastError?.code ?? lastError?.message}; port 53 needs root or CAP_NET_BIND_SERVICE). Its tasks use the engine's default DNS, where Cloud Map names do not resolve.`,
    );
    return undefined;
  }

  /** --dns-upstream, else the host's resolv.conf nameservers, never a resolver of this simulator (no loops). */
  private async upstreams(): Promise<Upstream[]> {
    const own = new Set(Object.values(this.st.data.addresses));
    const all = this.given ?? (await resolvConfServers());
    return all.filter((u) => !(own.has(u.host) && u.port === DNS_PORT));
  }

  async close(): Promise<void> {
    this.closed = true;
    const ls = await Promise.all(this.listeners.values());
    await Promise.all(ls.map((l) => l?.close()));
    this.listeners.clear();
  }
}

const resolvers = new WeakMap<Simulator, VpcResolvers>();

export function vpcResolvers(sim: Simulator): VpcResolvers {
  let r = resolvers.get(sim);
  if (!r) {
    r = new VpcResolvers(sim);
    resolvers.set(sim, r);
  }
  return r;
}

export function register(sim: Simulator): void {
  const r = vpcResolvers(sim);
  r.restore();
  sim.onShutdown(() => r.close());
}
