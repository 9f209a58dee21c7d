import { AwsError } from "../errors.js";
import type { Simulator } from "../sim.js";
import type { FunctionStore } from "./lambda-functions.js";
import { LABELS } from "./lambda-container.js";
import { ExecutionEnvironment, type InvocationRequest, type InvocationResult } from "./lambda-environment.js";

export interface PoolOptions {
  /** environments per function (AWS's concurrency limit, scaled down) */
  maxEnvironments: number;
  /** how long an idle environment stays warm */
  keepAliveMs: number;
}

interface Queued {
  req: InvocationRequest;
  resolve: (r: InvocationResult) => void;
}

/**
 * The execution environments of every function: warm reuse of idle ones, a new one per
 * concurrent invocation up to a limit, retirement when the function changes.
 */
export class LambdaRuntime {
  private readonly envs = new Map<string, Set<ExecutionEnvironment>>();
  /** asynchronous invocations waiting for a free environment */
  private readonly queues = new Map<string, Queued[]>();

  constructor(
    private readonly sim: Simulator,
    private readonly functions: FunctionStore,
    private readonly opts: PoolOptions,
  ) {}

  /** Run an invocation. Synchronous ones over the limit are throttled; asynchronous ones wait. */
  invoke(name: string, req: InvocationRequest, mode: "sync" | "async"): Promise<InvocationResult> {
    const fn = this.functions.get(name);
    if (!fn) return Promise.resolve(gone(req));
    const envs = this.pool(name);
    const warm = [...envs].find((e) => e.status === "idle" && e.fn.generation === fn.generation);
    if (warm) return warm.invoke(req);
    if (envs.size >= this.opts.maxEnvironments) {
      if (mode === "sync") throw new AwsError("TooManyRequestsException", "Rate Exceeded.", 429);
      return new Promise((resolve) => this.queue(name).push({ req, resolve }));
    }
    const env = new ExecutionEnvironment(
      this.sim,
      structuredClone(fn),
      { idle: (e) => this.idle(e), dead: (e) => this.dead(e) },
      this.opts.keepAliveMs,
    );
    envs.add(env);
    return env.invoke(req);
  }

  /** The function changed: idle environments of older generations go now, busy ones when done. */
  retire(name: string): void {
    const fn = this.functions.get(name);
    for (const e of this.pool(name))
      if (e.status === "idle" && e.fn.generation !== fn?.generation) void e.destroy();
  }

  /** Stop every environment of a function (DeleteFunction). */
  async remove(name: string): Promise<void> {
    for (const q of this.queues.get(name) ?? []) q.resolve(gone(q.req));
    this.queues.delete(name);
    await Promise.all([...this.pool(name)].map((e) => e.destroy()));
    this.envs.delete(name);
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.envs.keys()].map((n) => this.remove(n)));
  }

  /** Remove containers a previous simulator process on the same data dir left behind. */
  async removeOrphans(): Promise<void> {
    const dataDir = this.sim.opts.dataDir;
    if (!dataDir) return;
    const list = await this.sim.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.dataDir}=${dataDir}`, LABELS.environment] },
    });
    const mine = new Set([...this.envs.values()].flatMap((s) => [...s].map((e) => e.id)));
    await Promise.all(
      list
        .filter((c) => !mine.has(c.Labels[LABELS.environment]))
        .map((c) =>
          this.sim.docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => {}),
        ),
    );
  }

  private idle(env: ExecutionEnvironment): void {
    const fn = this.functions.get(env.fn.name);
    if (!fn || fn.generation !== env.fn.generation) return void env.destroy();
    const next = this.queues.get(env.fn.name)?.shift();
    if (next) void env.invoke(next.req).then(next.resolve);
  }

  private dead(env: ExecutionEnvironment): void {
    const envs = this.envs.get(env.fn.name);
    envs?.delete(env);
    // a freed slot serves the oldest waiting asynchronous invocation
    const next = this.queues.get(env.fn.name)?.shift();
    if (next) void this.invoke(env.fn.name, next.req, "async").then(next.resolve);
  }

  private pool(name: string): Set<ExecutionEnvironment> {
    let s = this.envs.get(name);
    if (!s) this.envs.set(name, (s = new Set()));
    return s;
  }

  private queue(name: string): Queued[] {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = []));
    return q;
  }
}

/** The result of an invocation whose function was deleted before it ran. */
function gone(req: InvocationRequest): InvocationResult {
  const errorMessage = `RequestId: ${req.id} Error: the function was deleted`;
  return {
    payload: Buffer.from(JSON.stringify({ errorMessage, errorType: "ResourceNotFoundException" })),
    functionError: "Unhandled",
    log: [],
  };
}
