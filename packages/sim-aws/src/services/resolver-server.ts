import dgram from "node:dgram";
import net from "node:net";

/** A DNS server socket pair: UDP and TCP (RFC 1035 4.2.2 length-prefixed messages) on one address and port. */

/** Answers one query message; undefined: no answer at all (a message that is not a query). */
export type DnsHandler = (query: Buffer, tcp: boolean) => Promise<Buffer | undefined>;

export class DnsListener {
  private constructor(
    readonly address: string,
    readonly port: number,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
  ) {}

  /** Bind both sockets, or neither (the error says why, e.g. EACCES below port 1024 without privileges). */
  static async bind(address: string, port: number, handle: DnsHandler): Promise<DnsListener> {
    const udp = dgram.createSocket(net.isIPv6(address) ? "udp6" : "udp4");
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(port, address, () => {
        udp.off("error", reject);
        resolve();
      });
    });
    const bound = udp.address().port;
    udp.on("error", () => {}); // a send to a vanished client must not take the simulator down
    udp.on("message", (msg, from) => {
      void handle(msg, false)
        .then((answer) => answer && udp.send(answer, from.port, from.address))
        .catch(() => undefined);
    });
    const tcp = net.createServer((conn) => serveTcp(conn, handle));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(bound, address, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
    } catch (e) {
      udp.close();
      throw e;
    }
    return new DnsListener(address, bound, udp, tcp);
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.udp.close(() => r()));
    await new Promise<void>((r) => this.tcp.close(() => r()));
  }
}

/** A DNS message as it goes over TCP: behind its 16-bit length. */
export function tcpFrame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

/** The first whole DNS message received over TCP, and what follows it; undefined while incomplete. */
export function tcpMessage(buf: Buffer): { msg: Buffer; rest: Buffer } | undefined {
  if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return undefined;
  const end = 2 + buf.readUInt16BE(0);
  return { msg: buf.subarray(2, end), rest: buf.subarray(end) };
}

/** Queries on one TCP connection, answered in turn; an idle client is dropped after 10 s (RFC 7766 suggests seconds). */
function serveTcp(conn: net.Socket, handle: DnsHandler): void {
  let buf: Buffer = Buffer.alloc(0);
  let chain = Promise.resolve();
  conn.setTimeout(10_000, () => conn.destroy());
  conn.on("error", () => {});
  conn.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    for (let m = tcpMessage(buf); m; m = tcpMessage(buf)) {
      const { msg } = m;
      buf = m.rest;
      chain = chain.then(async () => {
        const answer = await handle(msg, true).catch(() => undefined);
        if (answer && !conn.destroyed) conn.write(tcpFrame(answer));
      });
    }
  });
}
