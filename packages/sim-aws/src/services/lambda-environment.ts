import { randomBytes } from "node:crypto";
import type http from "node:http";
import type { ServerResponse } from "node:http";
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import type { Simulator } from "../sim.js";
import type { FunctionRecord } from "./lambda-functions.js";
import { containerSpec, functionImage } from "./lambda-container.js";
import { EnvironmentLog, logStreamName, reportLine } from "./lambda-logs.js";
import { startRuntimeApi, type RuntimeApiHandler } from "./lambda-runtime-api.js";

/** Lambda gives a runtime 10 s to initialize before it counts against the invocation. */
const INIT_LIMIT_MS = 10_000;

export interface InvocationRequest {
  id: string;
  payload: Buffer;
  invokedArn: string;
  clientContext?: string;
  traceId: string;
}

export interface InvocationResult {
  payload: Buffer;
  functionError?: "Unhandled";
  /** this invocation's log lines, START to REPORT */
  log: string[];
}

interface Active {
  req: InvocationRequest;
  resolve: (r: InvocationResult) => void;
  log: string[];
  deliveredAt?: number;
  /** performance.now() at delivery, for REPORT's Duration */
  startedAt?: number;
  timer?: NodeJS.Timeout;
  finishing: boolean;
}

interface Outcome {
  payload: Buffer;
  functionError?: "Unhandled";
  /** REPORT's Status and Error Type */
  status?: string;
  errorType?: string;
  /** the environment does not survive this outcome */
  kill?: boolean;
}

export interface EnvironmentEvents {
  idle(env: ExecutionEnvironment): void;
  dead(env: ExecutionEnvironment): void;
}

const errorPayload = (errorType: string, errorMessage: string) =>
  Buffer.from(JSON.stringify({ errorMessage, errorType }));

/**
 * One execution environment: a container from the function's image whose runtime talks to a
 * Runtime API served here; it runs one invocation at a time and is reused while warm.
 */
export class ExecutionEnvironment implements RuntimeApiHandler {
  readonly id = randomBytes(16).toString("hex");
  readonly log: EnvironmentLog;
  status: "starting" | "idle" | "busy" | "dead" = "starting";
  private active?: Active;
  /** a runtime long-polling /next */
  private waiting?: ServerResponse;
  private server?: http.Server;
  private container?: Docker.Container;
  private readonly createdAt = performance.now();
  private initMs?: number;
  private initReported = false;
  private exited = false;
  /** the last invocation was answered; the runtime has not asked for the next one yet */
  private awaitingNext = false;
  private idleTimer?: NodeJS.Timeout;
  private tornDown?: Promise<void>;

  constructor(
    private readonly sim: Simulator,
    /** the function as it was when this environment was created */
    readonly fn: FunctionRecord,
    private readonly events: EnvironmentEvents,
    private readonly keepAliveMs: number,
  ) {
    this.log = new EnvironmentLog(sim, fn.logGroup, logStreamName(this.id));
    this.log.onLine = (line) => this.active?.log.push(line);
  }

  /** Run one invocation; the environment must be new or idle. */
  invoke(req: InvocationRequest): Promise<InvocationResult> {
    const first = this.status === "starting";
    this.status = "busy";
    clearTimeout(this.idleTimer);
    return new Promise((resolve) => {
      this.active = { req, resolve, log: [], finishing: false };
      if (this.initMs === undefined) {
        // until the runtime asks for its first event, only the init allowance runs
        this.active.timer = setTimeout(() => this.timeout(), INIT_LIMIT_MS + this.fn.timeout * 1000);
      }
      if (first) void this.boot();
      else this.deliver();
    });
  }

  /** Stop the environment; a running invocation ends as the runtime being killed. */
  async destroy(): Promise<void> {
    const a = this.active;
    if (a && !a.finishing) {
      const msg = `RequestId: ${a.req.id} Error: Runtime exited with error: signal: killed`;
      return this.finish({
        payload: errorPayload("Runtime.ExitError", msg),
        functionError: "Unhandled",
        status: "error",
        errorType: "Runtime.ExitError",
        kill: true,
      });
    }
    return this.teardown();
  }

  private async boot(): Promise<void> {
    try {
      const api = await startRuntimeApi(this);
      this.server = api.server;
      if (this.isDead()) return void api.server.close();
      const image = await functionImage(this.sim, this.fn);
      const c = await this.sim.docker.createContainer(
        containerSpec(this.sim, this.fn, image, { id: this.id, log: this.log, runtimeApi: api.address }),
      );
      if (this.isDead()) return void (await c.remove({ force: true }).catch(() => {}));
      this.container = c;
      const stream = await c.attach({ stream: true, stdout: true, stderr: true });
      const out = new PassThrough();
      const err = new PassThrough();
      c.modem.demuxStream(stream, out, err);
      stream.on("end", () => (out.end(), err.end()));
      this.log.follow(out);
      this.log.follow(err);
      await c.start();
      c.wait().then(
        (r: { StatusCode: number }) => this.onExit(r.StatusCode),
        () => this.onExit(-1),
      );
    } catch (e) {
      const a = this.active;
      if (!a || a.finishing) return void this.teardown();
      const msg = `RequestId: ${a.req.id} Error: ${(e as Error).message.trim()}`;
      this.log.write(msg);
      this.log.write("Runtime.InvalidEntrypoint");
      await this.finish({
        payload: errorPayload("Runtime.InvalidEntrypoint", msg),
        functionError: "Unhandled",
        status: "error",
        errorType: "Runtime.InvalidEntrypoint",
        kill: true,
      });
    }
  }

  /** (a method: status changes across awaits, which narrowing does not see) */
  private isDead(): boolean {
    return this.status === "dead";
  }

  // ---- Runtime API ----

  next(res: ServerResponse): void {
    if (this.status === "dead") return void res.destroy();
    this.initMs ??= performance.now() - this.createdAt;
    this.waiting = res;
    res.on("close", () => {
      if (this.waiting === res) this.waiting = undefined;
    });
    if (this.awaitingNext) this.becomeIdle();
    this.deliver();
  }

  response(id: string, body: Buffer): boolean {
    if (!this.isRunning(id)) return false;
    void this.finish({ payload: body });
    return true;
  }

  error(id: string, body: Buffer, errorType: string | undefined): boolean {
    if (!this.isRunning(id)) return false;
    void this.finish({ payload: runtimeError(body, errorType), functionError: "Unhandled" });
    return true;
  }

  initError(body: Buffer, errorType: string | undefined): void {
    // a failed init leaves nothing to reuse: the environment is reset
    const a = this.active;
    if (!a || a.finishing) return void this.teardown();
    const payload = runtimeError(body, errorType);
    void this.finish({
      payload,
      functionError: "Unhandled",
      status: "error",
      errorType: errorType ?? "Runtime.Unknown",
      kill: true,
    });
  }

  tooLarge(id: string): void {
    if (!this.isRunning(id)) return;
    void this.finish({
      payload: errorPayload(
        "Function.ResponseSizeTooLarge",
        "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
      ),
      functionError: "Unhandled",
    });
  }

  private isRunning(id: string): boolean {
    const a = this.active;
    return !!a && a.req.id === id && a.deliveredAt !== undefined && !a.finishing;
  }

  /** Hand the active invocation to a waiting runtime. */
  private deliver(): void {
    const a = this.active;
    const res = this.waiting;
    if (!a || !res || a.deliveredAt !== undefined || a.finishing) return;
    this.waiting = undefined;
    a.deliveredAt = Date.now();
    a.startedAt = performance.now();
    clearTimeout(a.timer);
    a.timer = setTimeout(() => this.timeout(), this.fn.timeout * 1000);
    this.log.write(`START RequestId: ${a.req.id} Version: $LATEST`);
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Content-Length": a.req.payload.length,
      "Lambda-Runtime-Aws-Request-Id": a.req.id,
      "Lambda-Runtime-Deadline-Ms": String(a.deliveredAt + this.fn.timeout * 1000),
      "Lambda-Runtime-Invoked-Function-Arn": a.req.invokedArn,
      "Lambda-Runtime-Trace-Id": a.req.traceId,
      ...(a.req.clientContext ? { "Lambda-Runtime-Client-Context": a.req.clientContext } : {}),
    });
    res.end(a.req.payload);
  }

  private timeout(): void {
    const a = this.active;
    if (!a || a.finishing) return;
    if (a.deliveredAt === undefined) this.log.write(`START RequestId: ${a.req.id} Version: $LATEST`);
    const secs = this.fn.timeout.toFixed(2);
    this.log.write(`${new Date().toISOString()} ${a.req.id} Task timed out after ${secs} seconds`);
    void this.finish({
      payload: errorPayload(
        "Sandbox.Timedout",
        `RequestId: ${a.req.id} Error: Task timed out after ${secs} seconds`,
      ),
      functionError: "Unhandled",
      status: "timeout",
      kill: true,
    });
  }

  private onExit(code: number): void {
    this.exited = true;
    if (this.status === "dead") return;
    const a = this.active;
    if (!a || a.finishing) {
      if (!a) void this.teardown();
      return; // a finishing invocation tears down when done
    }
    const msg = `RequestId: ${a.req.id} Error: Runtime exited with error: exit status ${code}`;
    this.log.write(msg);
    this.log.write("Runtime.ExitError");
    void this.finish({
      payload: errorPayload("Runtime.ExitError", msg),
      functionError: "Unhandled",
      status: "error",
      errorType: "Runtime.ExitError",
      kill: true,
    });
  }

  /** End the active invocation: platform log lines, result, then idle or gone. */
  private async finish(o: Outcome): Promise<void> {
    const a = this.active!;
    a.finishing = true;
    clearTimeout(a.timer);
    const respondedAt = Date.now();
    if (o.kill) await this.teardown();
    await this.log.settle(respondedAt);
    const end = performance.now();
    this.log.write(`END RequestId: ${a.req.id}`);
    const status = o.status ? { status: o.status, errorType: o.errorType } : undefined;
    const init = this.initReported ? undefined : this.initMs;
    this.log.write(reportLine(a.req.id, end - (a.startedAt ?? end), this.fn.memorySize, init, status));
    this.initReported = true;
    this.active = undefined;
    a.resolve({ payload: o.payload, functionError: o.functionError, log: a.log });
    if (o.kill || this.exited) return this.teardown();
    this.idleTimer = setTimeout(() => void this.destroy(), this.keepAliveMs);
    this.idleTimer.unref();
    // Lambda's invoke phase ends when the runtime asks for the next event: only then can the
    // environment take another invocation. A runtime that answers and then exits (the sockerless
    // agent does) is never handed one; its exit tears the environment down.
    if (this.waiting) this.becomeIdle();
    else this.awaitingNext = true;
  }

  private becomeIdle(): void {
    this.awaitingNext = false;
    this.status = "idle";
    this.events.idle(this);
  }

  /** Remove the container and close the Runtime API (once). */
  private teardown(): Promise<void> {
    this.tornDown ??= (async () => {
      this.status = "dead";
      clearTimeout(this.idleTimer);
      this.waiting?.destroy();
      this.waiting = undefined;
      await this.container?.remove({ force: true }).catch(() => {});
      const server = this.server;
      if (server)
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      this.events.dead(this);
    })();
    return this.tornDown;
  }
}

/** What a runtime posted as an error, as the invoke payload: its JSON, or one built from it. */
function runtimeError(body: Buffer, errorType: string | undefined): Buffer {
  try {
    const v = JSON.parse(body.toString("utf8"));
    if (v && typeof v === "object") return body;
  } catch {
    // not JSON: wrap it
  }
  return errorPayload(errorType ?? "Runtime.Unknown", body.toString("utf8") || "Unknown error");
}
