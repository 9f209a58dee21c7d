import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import Docker from "dockerode";
import { Faults } from "./faults.js";
import { Persistent } from "./store.js";

export interface SimOptions {
  /** 127.0.0.1 by default */
  host: string;
  port: number;
  /** persist state here; memory only when absent */
  dataDir?: string;
  /** the Docker Engine that runs workloads: unix:///path or tcp://host:port */
  dockerHost: string;
  account: string;
  region: string;
  /**
   * where the VPC resolvers send names outside Cloud Map's private namespaces (ADDRESS[:PORT]);
   * default: the nameservers of the host's /etc/resolv.conf
   */
  dnsUpstreams?: string[];
}

/** What a handler gets besides its input. */
export interface Call {
  service: string;
  operation: string;
  region: string;
  account: string;
  requestId: string;
  req: IncomingMessage;
}

export type JsonHandler = (input: Record<string, any>, call: Call) => Promise<unknown> | unknown;
/** Query protocol: flat params in, an object out (serialized as the operation's Result element). */
export type QueryHandler = (params: Record<string, string>, call: Call) => Promise<unknown> | unknown;

export interface RestRequest {
  call: Call;
  params: Record<string, string>;
  query: URLSearchParams;
  /** the whole body (limited to 16 MiB); streaming handlers read `req` instead */
  body: () => Promise<Buffer>;
  /** body parsed as JSON, {} when empty; AWS's SerializationException when malformed */
  json: () => Promise<Record<string, any>>;
  req: IncomingMessage;
  res: ServerResponse;
}

/** A REST handler returns {status, body} (JSON), or writes `res` itself and returns undefined. */
export type RestHandler = (
  r: RestRequest,
) => Promise<{ status?: number; body?: unknown; headers?: Record<string, string> } | undefined>;

export interface QueryService {
  signingName: string; // "iam", "sts", "ec2"
  xmlns: string;
  /** EC2's response shape differs from IAM/STS (no Result wrapper, requestId inside) */
  style: "ec2" | "aws";
  handlers: Record<string, QueryHandler>;
}

/** How a writer reaches CloudWatch Logs. */
export interface LogSinkOptions {
  /** the region a created group belongs to (the simulator's when absent) */
  region?: string;
  /**
   * Create the group when missing (Lambda; the awslogs driver with `awslogs-create-group: "true"`).
   * When false a missing group is CloudWatch's ResourceNotFoundException, as the awslogs driver gets
   * it. Omitted: true, the sink's original behaviour (callers should say which they mean).
   */
  createGroup?: boolean;
}

/** CloudWatch Logs as other services write to it (ECS awslogs, Lambda). Set by the logs service. */
export interface LogSink {
  /**
   * Append events (none: just make sure the stream exists), creating the stream when missing and
   * the group unless `opts.createGroup` is false; throws AwsError ResourceNotFoundException for a
   * missing group that may not be created.
   */
  append(
    group: string,
    stream: string,
    events: { timestamp: number; message: string }[],
    opts?: LogSinkOptions,
  ): void;
}

/** The simulator's shared parts; services register their operations on it. */
export class Simulator {
  readonly json = new Map<string, { service: string; handlers: Record<string, JsonHandler> }>();
  readonly query = new Map<string, QueryService>();
  readonly rest: { method: string; path: string; service: string; handler: RestHandler }[] = [];
  readonly faults = new Faults();
  readonly docker: Docker;
  private readonly stores: Persistent<unknown>[] = [];
  private readonly shutdownHooks: (() => Promise<void> | void)[] = [];
  /** the URL the simulator is reachable at, set once listening */
  url = "";
  /** host:port of the simulator as a registry (ECR repository URIs) */
  registryHost = "";
  logSink: LogSink | undefined;

  constructor(readonly opts: SimOptions) {
    this.docker = dockerClient(opts.dockerHost);
  }

  /** JSON 1.1: X-Amz-Target "<prefix>.<Operation>". */
  registerJson(targetPrefix: string, service: string, handlers: Record<string, JsonHandler>): void {
    this.json.set(targetPrefix, { service, handlers });
  }

  registerQuery(svc: QueryService): void {
    this.query.set(svc.signingName, svc);
  }

  registerRest(service: string, method: string, path: string, handler: RestHandler): void {
    this.rest.push({ method, path, service, handler });
  }

  /** Persistent state of one service (memory only without --data-dir). */
  state<T>(name: string, initial: T): Persistent<T> {
    const s = new Persistent<T>(
      this.opts.dataDir ? path.join(this.opts.dataDir, `${name}.json`) : undefined,
      initial,
    );
    this.stores.push(s as Persistent<unknown>);
    return s;
  }

  onShutdown(fn: () => Promise<void> | void): void {
    this.shutdownHooks.push(fn);
  }

  async shutdown(): Promise<void> {
    for (const fn of this.shutdownHooks) await fn();
    await Promise.all(this.stores.map((s) => s.flush()));
  }

  arn(service: string, resource: string, region = this.opts.region): string {
    return `arn:aws:${service}:${region}:${this.opts.account}:${resource}`;
  }

  newCall(service: string, operation: string, req: IncomingMessage): Call {
    return {
      service,
      operation,
      region: regionOf(req) ?? this.opts.region,
      account: this.opts.account,
      requestId: randomUUID(),
      req,
    };
  }
}

/** The region from the SigV4 credential scope (Authorization: ... Credential=AK/date/REGION/service/aws4_request). */
export function regionOf(req: IncomingMessage): string | undefined {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(String(req.headers.authorization ?? ""))?.[1];
}

export function signingNameOf(req: IncomingMessage): string | undefined {
  return /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization ?? ""))?.[1];
}

function dockerClient(host: string): Docker {
  if (host.startsWith("unix://")) return new Docker({ socketPath: host.slice("unix://".length) });
  const m = /^tcp:\/\/([^:]+):(\d+)$/.exec(host);
  if (!m) throw new Error(`invalid --docker-host ${host}: use unix:///path or tcp://host:port`);
  return new Docker({ host: m[1], port: Number(m[2]) });
}
