import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { log } from "@sockerless/api";
import { MemoryBackend } from "@sockerless/backend-memory";
import { Engine } from "@sockerless/engine";
import { ImageStore } from "@sockerless/images";
import { createDockerServer, listenOn, type Listener } from "@sockerless/server";

export interface ServeOptions {
  host: string[];
  dataRoot: string;
  insecureRegistry: string[];
  registryMirror: string[];
  backend: string;
  logLevel: string;
  maxRunSeconds?: number;
  maxMemory?: number;
  rootfsDir?: string;
}

/**
 * Containers' filesystems go to a tmpfs when there is one (/dev/shm): creating a container copies
 * its image's files, and on disk that costs ~0.5 ms per file here. They survive a daemon restart,
 * not a reboot (the container then starts again from its image).
 */
export function defaultRootfsDir(dataRoot: string): string {
  const shm = "/dev/shm";
  try {
    fs.accessSync(shm, fs.constants.W_OK);
    const tag = createHash("sha256").update(path.resolve(dataRoot)).digest("hex").slice(0, 12);
    return path.join(shm, `sockerless-${tag}`);
  } catch {
    return path.join(dataRoot, "memory");
  }
}

export const defaultDataRoot = () =>
  process.env.SOCKERLESS_DATA_ROOT ??
  path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), ".local", "share"), "sockerless");

export interface RunningDaemon {
  engine: Engine;
  listeners: Listener[];
  stop(): Promise<void>;
}

/** Start the daemon: engine + backend + one HTTP server per -H address. */
export async function serve(opts: ServeOptions): Promise<RunningDaemon> {
  log.level = opts.logLevel;
  const dataRoot = path.resolve(opts.dataRoot);
  const registry = { insecureRegistries: opts.insecureRegistry, mirrors: opts.registryMirror };
  if (opts.backend !== "memory") {
    throw new Error(`unknown backend "${opts.backend}": this build supports: memory`);
  }
  // The backend and the engine share one image store.
  const images = new ImageStore(path.join(dataRoot, "images"), registry);
  const backend = new MemoryBackend({
    dataRoot,
    rootfsRoot: opts.rootfsDir ?? defaultRootfsDir(dataRoot),
    images,
    maxRunMs: opts.maxRunSeconds ? opts.maxRunSeconds * 1000 : undefined,
    maxMemoryBytes: opts.maxMemory,
  });
  const engine = new Engine({ dataRoot, backend, registry, images });
  await engine.init();
  const hosts = opts.host.length ? opts.host : [`unix://${path.join(dataRoot, "sockerless.sock")}`];
  for (const h of hosts) {
    const m = /^(?:tcp|http):\/\/([^:/]+|\[[^\]]+\]):\d+$/.exec(h);
    if (m && !isLoopback(m[1].replace(/^\[|\]$/g, ""))) {
      // Anyone who reaches an unauthenticated Docker API owns the machine: loopback only, until TLS.
      throw new Error(
        `refusing to listen on ${h}: a non-loopback TCP address needs TLS, which this build does not support yet; use a unix socket or tcp://127.0.0.1:PORT`,
      );
    }
  }
  const servers = hosts.map(() => createDockerServer(engine));
  const listeners: Listener[] = [];
  for (let i = 0; i < hosts.length; i++) listeners.push(await listenOn(servers[i], hosts[i]));
  return {
    engine,
    listeners,
    async stop() {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.close(() => r());
              s.closeAllConnections();
            }),
        ),
      );
      await Promise.all(listeners.map((l) => l.close()));
    },
  };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
