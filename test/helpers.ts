import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runClient } from "./run-client.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The local registry the test scripts start; suites fail (not skip) without it. */
export const REGISTRY = process.env.SOCKERLESS_TEST_REGISTRY ?? "127.0.0.1:5000";
export const BUSYBOX = `${REGISTRY}/busybox:latest`;
export const HELLO = `${REGISTRY}/hello-sh:latest`;

/**
 * Where each test file's daemons record the API routes they served (SOCKERLESS_ROUTE_LOG), for
 * scripts/api-coverage.ts: .api-coverage/<test file>.jsonl, emptied when that file starts a daemon
 * for the first time in this process.
 */
export const ROUTE_LOG_DIR = path.join(repo, ".api-coverage");
let routeLogFile: string | undefined;

function routeLog(): string | undefined {
  if (routeLogFile) return routeLogFile;
  const testFile = callingTestFile();
  if (!testFile) return undefined; // benchmarks and scripts are not tests
  mkdirSync(ROUTE_LOG_DIR, { recursive: true });
  routeLogFile = path.join(ROUTE_LOG_DIR, `${path.basename(testFile)}.jsonl`);
  rmSync(routeLogFile, { force: true });
  return routeLogFile;
}

/** The test file that runs this process: node's test runner runs each file in its own process. */
function callingTestFile(): string | undefined {
  const main = process.argv[1];
  if (main && /\.test\.ts$/.test(main)) return main;
  const frame = (new Error().stack ?? "").split("\n").find((l) => /\.test\.ts:\d+/.test(l));
  return frame && /([^/\s(]+\.test\.ts)/.exec(frame)?.[1];
}

export interface Daemon {
  host: string;
  /** every address the daemon listens on, as it printed them (the unix socket first) */
  listeners: string[];
  dataRoot: string;
  proc: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  restart(): Promise<Daemon>;
}

/** Start `sockerless serve` as a real process on a fresh unix socket. */
export async function startDaemon(
  dataRoot?: string,
  extra: string[] = [],
  opts: {
    /** added to the daemon's environment (e.g. the AWS simulator's endpoint and credentials) */
    env?: Record<string, string>;
    /** how long it may take to listen (the cloud backends first set up their cloud resources) */
    startTimeoutMs?: number;
  } = {},
): Promise<Daemon> {
  const root = dataRoot ?? mkdtempSync(path.join(os.tmpdir(), "sockerless-test-"));
  const sock = path.join(root, "docker.sock");
  const args = [
    "serve",
    "-H",
    `unix://${sock}`,
    "--data-root",
    root,
    "--rootfs-dir",
    rootfsDir(root),
    "--log-level",
    "warn",
    ...extra,
  ];
  const logFile = routeLog();
  const proc = spawn(process.execPath, [path.join(repo, "packages/cli/dist/main.js"), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...opts.env, ...(logFile ? { SOCKERLESS_ROUTE_LOG: logFile } : {}) },
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => {
    out += d;
    process.stderr.write(d);
  });
  const closed = new Promise((r) => proc.once("close", r));
  const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
  const expected = args.filter((a) => a === "-H" || a === "--host").length;
  const listening = () => [...out.matchAll(/listening on (\S+)/g)].map((m) => m[1]);
  while (listening().length < expected) {
    if (proc.exitCode !== null) {
      await closed; // all of its output has arrived
      throw new Error(`daemon exited with ${proc.exitCode}: ${out}`);
    }
    if (Date.now() > deadline) throw new Error(`daemon did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const d: Daemon = {
    host: `unix://${sock}`,
    listeners: listening(),
    dataRoot: root,
    proc,
    stop: (signal = "SIGTERM") =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
        proc.once("exit", (code) => resolve(code));
        proc.kill(signal);
      }),
    restart: async () => {
      await d.stop();
      return startDaemon(root, extra, opts);
    },
  };
  return d;
}

/** Containers' filesystems on the tmpfs, one directory per test daemon. */
const rootfsDir = (root: string) =>
  path.join(existsSync("/dev/shm") ? "/dev/shm" : root, `${path.basename(root)}-rootfs`);

export function cleanup(d: Daemon) {
  rmSync(rootfsDir(d.dataRoot), { recursive: true, force: true });
  if (existsSync(d.dataRoot)) rmSync(d.dataRoot, { recursive: true, force: true });
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const dockerConfig = mkdtempSync(path.join(os.tmpdir(), "sockerless-dockercfg-"));

/** Run the docker CLI on this machine against a host (its own config directory, no hints). */
export function docker(
  host: string,
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<Result> {
  return runClient("docker", args, host, {
    ...opts,
    env: { DOCKER_CONFIG: dockerConfig, DOCKER_CLI_HINTS: "false", ...opts.env },
  });
}

/** docker, and fail with its stderr unless it exits 0. */
export async function dockerOk(
  host: string,
  args: string[],
  opts: Parameters<typeof docker>[2] = {},
): Promise<string> {
  const r = await docker(host, args, opts);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export function dockerSync(host: string, args: string[]) {
  return spawnSync("docker", args, {
    env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: dockerConfig },
    encoding: "utf8",
  });
}

export async function until<T>(
  fn: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
