// What a scenario gets: the target's DOCKER_HOST, real clients (docker CLI, dockerode,
// @docker/node-sdk, raw HTTP), unique names, and a transcript that records normalised steps.
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { DockerClient } from "@docker/node-sdk";
import { docker, until, type Result } from "../helpers.js";
import { normalise } from "./normalise.js";

/** Ordered steps of one scenario on one target: label → normalised value. */
export type Transcript = [label: string, value: string][];

/** stdin, a time limit, extra environment (DOCKER_API_VERSION to pin the API version). */
export type CliOptions = { input?: string; timeoutMs?: number; env?: Record<string, string> };

type Kind = "container" | "volume" | "network" | "image";

export interface HttpAnswer {
  status: number;
  body: string;
  json?: unknown;
  headers: http.IncomingHttpHeaders;
}

/** Send one request to the Docker API at host (unix:// or tcp://) and read the whole answer. */
export function request(host: string, method: string, urlPath: string, body?: unknown): Promise<HttpAnswer> {
  const u = new URL(host.replace(/^unix:\/\//, "unix:"));
  const where =
    u.protocol === "unix:"
      ? { socketPath: host.slice("unix://".length) }
      : { host: u.hostname, port: u.port };
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        ...where,
        method,
        path: urlPath,
        headers: payload
          ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) }
          : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: text, json, headers: res.headers });
        });
        res.on("error", reject);
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** JSON objects compare by content, not key order. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** the prune command running now (any target's): the next one waits for it */
let pruning: Promise<unknown> = Promise.resolve();

export class Context {
  readonly steps: Transcript = [];
  private readonly names = new Map<string, string>();
  private readonly made = new Map<string, Kind>();
  private readonly tmps: string[] = [];
  private dockerodeClient?: Docker;
  private sdkClient?: DockerClient;

  constructor(
    /** DOCKER_HOST of the target. Scenarios never branch on which target this is. */
    readonly host: string,
    /** Unique per target run and scenario, so targets sharing an engine never collide. */
    private readonly prefix: string,
  ) {}

  /** A unique object name; transcripts show it as <hint>. Removed after the scenario (images: every tag of the repository). */
  name(hint: string, kind: Kind = "container"): string {
    const n = `${this.prefix}-${hint}`;
    this.names.set(n, `<${hint}>`);
    this.made.set(n, kind);
    return n;
  }

  /** A temporary directory; transcripts show it as <tmp>. */
  tmp(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sl-conformance-"));
    this.tmps.push(dir);
    this.names.set(dir, "<tmp>");
    return dir;
  }

  normalise(s: string): string {
    return normalise(s, this.names);
  }

  /** Record one step of the transcript (normalised). */
  record(label: string, value: unknown): void {
    let l = label;
    for (let i = 2; this.steps.some(([x]) => x === l); i++) l = `${label} #${i}`;
    const text = typeof value === "string" ? value : JSON.stringify(sortKeys(value), null, 1);
    this.steps.push([l, this.normalise(text ?? "undefined")]);
  }

  /** docker CLI, not recorded. */
  docker(args: string[], opts: CliOptions = {}): Promise<Result> {
    if (args[1] !== "prune") return docker(this.host, args, opts);
    // one prune at a time across targets: dockerd refuses a second prune of a kind while one
    // runs ("a prune operation is already running"), and the engine and docker targets share one
    const r = pruning.then(() => docker(this.host, args, opts));
    pruning = r.catch(() => undefined);
    return r;
  }

  /** docker CLI, not recorded; a non-zero exit fails the scenario. */
  async ok(args: string[], opts: CliOptions = {}): Promise<string> {
    const r = await this.docker(args, opts);
    if (r.code !== 0) throw new Error(`docker ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** docker CLI, recorded as exit code, stdout and stderr. */
  async cli(label: string, args: string[], opts: CliOptions = {}): Promise<Result> {
    const r = await this.docker(args, opts);
    this.record(label, `exit=${r.code}\nstdout=${r.stdout}\nstderr=${r.stderr}`);
    return r;
  }

  /** docker CLI, only the exit code recorded (for output that is engine-specific by nature). */
  async cliCode(label: string, args: string[], opts: CliOptions = {}): Promise<Result> {
    const r = await this.docker(args, opts);
    this.record(label, `exit=${r.code}`);
    return r;
  }

  /** Raw HTTP to the Docker API, not recorded. */
  http(method: string, urlPath: string, body?: unknown): Promise<HttpAnswer> {
    return request(this.host, method, urlPath, body);
  }

  /** Raw HTTP, recorded as the status code and the error message (or the body when not an error). */
  async api(label: string, method: string, urlPath: string, body?: unknown): Promise<HttpAnswer> {
    const a = await this.http(method, urlPath, body);
    this.recordAnswer(label, a);
    return a;
  }

  /** Record an HTTP answer: status and error message, or the body (JSON by content). */
  recordAnswer(label: string, a: HttpAnswer): void {
    const message = (a.json as { message?: string } | undefined)?.message;
    const shown =
      a.status >= 400 && message !== undefined
        ? `message=${message}`
        : a.json !== undefined
          ? JSON.stringify(sortKeys(a.json))
          : a.body;
    this.record(label, `status=${a.status}\n${shown}`);
  }

  get dockerode(): Docker {
    if (!this.dockerodeClient) {
      const u = new URL(this.host.replace(/^unix:\/\//, "unix:"));
      this.dockerodeClient =
        u.protocol === "unix:"
          ? new Docker({ socketPath: this.host.slice("unix://".length) })
          : new Docker({ host: u.hostname, port: Number(u.port) });
    }
    return this.dockerodeClient;
  }

  async sdk(): Promise<DockerClient> {
    this.sdkClient ??= await DockerClient.fromDockerHost(this.host);
    return this.sdkClient;
  }

  until<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
    return until(fn, what, timeoutMs);
  }

  /** Remove what the scenario made, whatever state it was left in. */
  async cleanup(): Promise<void> {
    await this.sdkClient?.close();
    const of = (k: Kind) => [...this.made].filter(([, kind]) => kind === k).map(([n]) => n);
    if (of("container").length) await this.docker(["rm", "-f", "-v", ...of("container")]);
    if (of("network").length) await this.docker(["network", "rm", ...of("network")]);
    if (of("volume").length) await this.docker(["volume", "rm", "-f", ...of("volume")]);
    for (const repo of of("image")) {
      const refs = await this.docker([
        "images",
        "--filter",
        `reference=${repo}`,
        "--format",
        "{{.Repository}}:{{.Tag}}",
      ]);
      const tags = refs.stdout.split("\n").filter(Boolean);
      if (tags.length) await this.docker(["rmi", "-f", ...tags]);
    }
    for (const d of this.tmps) rmSync(d, { recursive: true, force: true });
  }
}

export interface Scenario {
  /** Unique and stable: known-differences.yaml refers to it. */
  name: string;
  /**
   * Something fixed the scenario takes on the shared reference engine (a subnet), which the
   * engine and docker targets must not hold at once: runs with the same key take turns.
   */
  exclusive?: string;
  run(t: Context): Promise<void>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
