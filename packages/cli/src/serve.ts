import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { log } from "@sockerless/api";
import { DockerBackend, type EngineTls } from "@sockerless/backend-docker";
import { MemoryBackend } from "@sockerless/backend-memory";
import { createAwsBackend } from "./aws-backends.js";
import { Engine, type Backend } from "@sockerless/engine";
import { ImageStore } from "@sockerless/images";
import { createDockerServer, isLoopback, listenOn, parseTcpAddress, type Listener } from "@sockerless/server";
import { loadServerTls, type TlsFlags } from "./tls.js";

export interface ServeOptions extends TlsFlags {
  host: string[];
  /** listen on a non-loopback TCP address without --tlsverify anyway */
  allowInsecureTcp?: boolean;
  /** append one line per API request to this file (tests: SOCKERLESS_ROUTE_LOG) */
  routeLog?: string;
  dataRoot: string;
  insecureRegistry: string[];
  registryMirror: string[];
  backend: string;
  logLevel: string;
  maxRunSeconds?: number;
  maxMemory?: number;
  rootfsDir?: string;
  dockerHost?: string;
  dockerTls?: boolean;
  dockerTlsVerify?: boolean;
  dockerTlsCa?: string;
  dockerTlsCert?: string;
  dockerTlsKey?: string;
  // AWS backends (ecs, lambda)
  region?: string;
  awsEndpoint?: string;
  awsMaxAttempts?: number;
  ecsCluster?: string;
  ecsSubnets?: string;
  ecsSecurityGroups?: string;
  ecsExecutionRoleArn?: string;
  ecsTaskRoleArn?: string;
  ecsLogGroup?: string;
  ecsAssignPublicIp?: boolean;
  lambdaRoleArn?: string;
  lambdaMemory?: number;
  lambdaTimeout?: number;
  lambdaFunctionPrefix?: string;
  agentListen?: string;
  agentCallbackUrl?: string;
  agentConnectTimeout?: number;
  agentSecret?: string;
  ecrRepository?: string;
}

/**
 * TLS to the engine from flags, or from SOCKERLESS_DOCKER_CERT_PATH / SOCKERLESS_DOCKER_TLS_VERIFY
 * (a directory with ca.pem, cert.pem and key.pem, as the docker CLI's DOCKER_CERT_PATH).
 */
export function engineTls(opts: ServeOptions, env = process.env): EngineTls | undefined {
  const certPath = env.SOCKERLESS_DOCKER_CERT_PATH;
  const verify = !!opts.dockerTlsVerify || (env.SOCKERLESS_DOCKER_TLS_VERIFY ?? "") !== "";
  const inDir = (f: string) => (certPath ? path.join(certPath, f) : undefined);
  const ca = opts.dockerTlsCa ?? inDir("ca.pem");
  const cert = opts.dockerTlsCert ?? inDir("cert.pem");
  const key = opts.dockerTlsKey ?? inDir("key.pem");
  const wanted = verify || opts.dockerTls || opts.dockerTlsCa || opts.dockerTlsCert || opts.dockerTlsKey;
  if (!wanted && !certPath) return undefined;
  if (verify && !ca)
    throw new Error("--docker-tls-verify needs --docker-tls-ca (or SOCKERLESS_DOCKER_CERT_PATH)");
  if (!!cert !== !!key) throw new Error("--docker-tls-cert and --docker-tls-key go together");
  return { ca, cert, key, verify };
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
  const hosts = opts.host.length ? opts.host : [`unix://${path.join(dataRoot, "sockerless.sock")}`];
  const tlsOn = !!(opts.tls || opts.tlsverify);
  for (const h of hosts) {
    const tcp = parseTcpAddress(h, tlsOn);
    if (tcp && !isLoopback(tcp.host) && !opts.tlsverify && !opts.allowInsecureTcp) {
      // Anyone who reaches a Docker API without client-certificate checks owns the machine.
      throw new Error(
        `refusing to listen on ${h}: a non-loopback TCP address needs TLS with client certificates (--tlsverify --tlscacert --tlscert --tlskey; \`sockerless certs create\` makes them), or --allow-insecure-tcp to listen without`,
      );
    }
    if (tcp && !isLoopback(tcp.host) && !opts.tlsverify) {
      log.warn(
        { address: h },
        "listening without client-certificate verification: anyone who reaches it controls the daemon",
      );
    }
  }
  // Like dockerd, TLS applies to TCP listeners; unix sockets are protected by file permissions.
  const serverTls =
    tlsOn && hosts.some((h) => parseTcpAddress(h, tlsOn)) ? await loadServerTls(opts) : undefined;
  // The backend and the engine share one image store (unused when the backend keeps images).
  const images = new ImageStore(path.join(dataRoot, "images"), registry);
  let backend: Backend;
  if (opts.backend === "memory") {
    backend = new MemoryBackend({
      dataRoot,
      rootfsRoot: opts.rootfsDir ?? defaultRootfsDir(dataRoot),
      images,
      maxRunMs: opts.maxRunSeconds ? opts.maxRunSeconds * 1000 : undefined,
      maxMemoryBytes: opts.maxMemory,
    });
  } else if (opts.backend === "docker") {
    if (!opts.dockerHost)
      throw new Error(
        "the docker backend needs --docker-host (or SOCKERLESS_DOCKER_HOST): unix:///path or tcp://host:port",
      );
    backend = new DockerBackend({ dataRoot, host: opts.dockerHost, tls: engineTls(opts) });
  } else {
    backend = createAwsBackend(opts, dataRoot, images);
  }
  const engine = new Engine({ dataRoot, backend, registry, images });
  await engine.init();
  const servers = hosts.map((h) =>
    createDockerServer(engine, {
      routeLog: opts.routeLog,
      tls: parseTcpAddress(h, tlsOn) ? serverTls : undefined,
    }),
  );
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
