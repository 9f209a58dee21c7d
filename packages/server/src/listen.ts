import { promises as fs } from "node:fs";
import type http from "node:http";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";

export interface Listener {
  url: string;
  close(): Promise<void>;
}

/** A TCP listen address: tcp://host:port, tcp://:port (all interfaces), tcp://host (default port). */
export interface TcpAddress {
  host: string;
  port: number;
}

/**
 * Parse a dockerd-style TCP address. Like dockerd, a missing host means all interfaces and a
 * missing port means 2376 with TLS, 2375 without. Returns undefined for other schemes.
 */
export function parseTcpAddress(address: string, tlsOn: boolean): TcpAddress | undefined {
  const m = /^(?:tcp|http|https):\/\/([^:/[\]]*|\[[^\]]+\])(?::(\d*))?\/?$/.exec(address);
  if (!m) {
    if (/^(?:tcp|http|https):\/\//.test(address))
      throw new Error(`invalid listen address ${address}: use tcp://host:port`);
    return undefined;
  }
  const port = m[2] ? Number(m[2]) : tlsOn ? 2376 : 2375;
  if (!Number.isInteger(port) || port > 65535) throw new Error(`invalid port in listen address ${address}`);
  return { host: m[1].replace(/^\[|\]$/g, "") || "0.0.0.0", port };
}

/** Loopback addresses: only processes on this machine can reach a listener there. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Listen on a dockerd-style address: unix:///path, tcp://host:port, or a bare /path. A TLS server
 * (https.Server) gets a front listener that answers plain HTTP the way dockerd (Go) does instead of
 * dropping it, so a client that forgot --tls gets an explanation.
 */
export async function listenOn(server: http.Server | tls.Server, address: string): Promise<Listener> {
  const url = address.startsWith("/") ? `unix://${address}` : address;
  if (url.startsWith("unix://")) {
    const file = url.slice("unix://".length);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await removeStaleSocket(file);
    await listen(server, (s, cb) => s.listen(file, cb));
    await fs.chmod(file, 0o660);
    return { url, close: async () => void (await fs.rm(file, { force: true })) };
  }
  const tcp = parseTcpAddress(url, server instanceof tls.Server);
  if (!tcp) throw new Error(`invalid listen address ${address}: use unix:///path or tcp://host:port`);
  const front = server instanceof tls.Server ? tlsFront(server) : server;
  await listen(front, (s, cb) => s.listen(tcp.port, tcp.host, cb));
  // port 0 picks a free port: report the real one
  const port = (front.address() as net.AddressInfo).port;
  const host = tcp.host.includes(":") ? `[${tcp.host}]` : tcp.host;
  return {
    url: `tcp://${host}:${port}`,
    close: () =>
      front === server
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            front.close(() => resolve());
            // sockets handed to the TLS server are not tracked by it as the front's: end them here
            for (const s of (front as TlsFront).sockets) s.destroy();
          }),
  };
}

type TlsFront = net.Server & { sockets: Set<net.Socket> };

function listen(server: net.Server, start: (s: net.Server, cb: () => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    start(server, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** A TLS record starts with the handshake content type (0x16); anything else is not TLS. */
const TLS_HANDSHAKE = 0x16;

/**
 * Accept TCP connections, hand TLS ones to `server` and answer anything else with the 400 that Go's
 * TLS server (so dockerd) sends: the docker CLI shows it as "Client sent an HTTP request to an
 * HTTPS server."
 */
function tlsFront(server: tls.Server): TlsFront {
  const sockets = new Set<net.Socket>();
  // allowHalfOpen as in http.Server: the TLS socket inherits it, and a hijacked stream (attach,
  // exec) must keep sending output after the client's close_notify (docker closes its write side).
  const front = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.setTimeout(60_000, () => socket.destroy()); // a client that never speaks
    socket.once("readable", () => {
      socket.setTimeout(0); // from here the TLS handshake timeout and the HTTP server's apply
      const first: Buffer | null = socket.read(1);
      if (!first) return socket.destroy();
      socket.unshift(first);
      if (first[0] === TLS_HANDSHAKE) {
        server.emit("connection", socket);
      } else {
        socket.end("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
      }
    });
  });
  return Object.assign(front, { sockets });
}

/** A socket file left by a crashed daemon is removed; one with a live daemon behind it is an error. */
async function removeStaleSocket(file: string): Promise<void> {
  try {
    await fs.stat(file);
  } catch {
    return;
  }
  const alive = await new Promise<boolean>((resolve) => {
    const s = net.connect(file, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
  if (alive) throw new Error(`another daemon is already listening on ${file}`);
  await fs.rm(file, { force: true });
}
