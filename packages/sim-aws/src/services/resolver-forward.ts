import dgram from "node:dgram";
import { readFile } from "node:fs/promises";
import net from "node:net";
import { tcpFrame, tcpMessage } from "./resolver-server.js";

/**
 * Names outside the VPC's private namespaces go to the host's resolvers, as the Route 53 Resolver
 * recurses for names it does not hold. The query is relayed byte for byte and so is the answer
 * (a truncated UDP answer included: the client retries over TCP, which is relayed over TCP).
 */

export interface Upstream {
  host: string;
  port: number;
}

const UDP_TIMEOUT_MS = 2000;
const TCP_TIMEOUT_MS = 5000;

/** "10.0.0.2", "10.0.0.2:5353", "::1", "[::1]:5353" → host and port. */
export function parseUpstream(s: string): Upstream {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  const u = m ? { host: m[1], port: Number(m[2] ?? 53) } : { host: s, port: 53 };
  if (!net.isIP(u.host) || !(u.port > 0 && u.port < 65536))
    throw new Error(`bad DNS upstream ${s}: use ADDRESS, ADDRESS:PORT or [IPV6]:PORT`);
  return u;
}

/** The `nameserver` lines of a resolv.conf (scoped IPv6 addresses lose their zone: nothing here can use it). */
export async function resolvConfServers(file = "/etc/resolv.conf"): Promise<Upstream[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]?.replace(/%.*$/, ""))
    .filter((a): a is string => !!a && net.isIP(a) !== 0)
    .map((host) => ({ host, port: 53 }));
}

function udpOnce(query: Buffer, u: Upstream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(u.host) ? "udp6" : "udp4");
    const done = (err: Error | undefined, msg?: Buffer) => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(msg!);
    };
    const timer = setTimeout(() => done(new Error(`no answer from ${u.host}:${u.port}`)), UDP_TIMEOUT_MS);
    sock.on("error", (e) => done(e));
    // only the answer to this query (same id) from that server counts
    sock.on("message", (msg, from) => {
      if (msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0) && from.port === u.port)
        done(undefined, msg);
    });
    sock.send(query, u.port, u.host, (e) => e && done(e));
  });
}

function tcpOnce(query: Buffer, u: Upstream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(u.port, u.host);
    let buf = Buffer.alloc(0);
    sock.setTimeout(TCP_TIMEOUT_MS, () => sock.destroy(new Error(`no answer from ${u.host}:${u.port}`)));
    sock.on("connect", () => sock.write(tcpFrame(query)));
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      const m = tcpMessage(buf);
      if (m) {
        resolve(m.msg);
        sock.destroy();
      }
    });
    sock.on("error", reject);
    sock.on("close", () => reject(new Error(`${u.host}:${u.port} closed the connection without an answer`)));
  });
}

/** The first upstream that answers, tried in order; undefined when none does. */
export async function forward(
  query: Buffer,
  tcp: boolean,
  upstreams: Upstream[],
): Promise<Buffer | undefined> {
  for (const u of upstreams) {
    try {
      return await (tcp ? tcpOnce(query, u) : udpOnce(query, u));
    } catch {
      // the next one
    }
  }
  return undefined;
}
