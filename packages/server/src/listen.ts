import { promises as fs } from "node:fs";
import type http from "node:http";
import net from "node:net";
import path from "node:path";

export interface Listener {
  url: string;
  close(): Promise<void>;
}

/** Listen on a dockerd-style address: unix:///path, tcp://host:port, or a bare /path. */
export async function listenOn(server: http.Server, address: string): Promise<Listener> {
  const url = address.startsWith("/") ? `unix://${address}` : address;
  if (url.startsWith("unix://")) {
    const file = url.slice("unix://".length);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await removeStaleSocket(file);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(file, () => {
        server.off("error", reject);
        resolve();
      });
    });
    await fs.chmod(file, 0o660);
    return { url, close: async () => void (await fs.rm(file, { force: true })) };
  }
  const m = /^(?:tcp|http):\/\/([^:/]+|\[[^\]]+\]):(\d+)$/.exec(url);
  if (!m) throw new Error(`invalid listen address ${address}: use unix:///path or tcp://host:port`);
  const host = m[1].replace(/^\[|\]$/g, "");
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(m[2]), host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return { url, close: async () => {} };
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
