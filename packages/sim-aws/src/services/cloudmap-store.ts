import { randomInt } from "node:crypto";
import { AwsError } from "../errors.js";
import type { Simulator } from "../sim.js";
import type { Persistent } from "../store.js";

export interface Tag {
  Key: string;
  Value: string;
}

export interface Namespace {
  id: string;
  arn: string;
  name: string;
  type: "DNS_PRIVATE" | "DNS_PUBLIC" | "HTTP";
  description?: string;
  vpc?: string;
  hostedZoneId?: string;
  soaTtl?: number;
  created: number;
  creatorRequestId?: string;
  tags: Tag[];
}

export interface Instance {
  id: string;
  attributes: Record<string, string>;
  creatorRequestId?: string;
  /** set through UpdateInstanceCustomHealthStatus */
  health: "HEALTHY" | "UNHEALTHY";
}

export interface Service {
  id: string;
  arn: string;
  name: string;
  namespaceId: string;
  description?: string;
  type: "HTTP" | "DNS_HTTP" | "DNS";
  dnsConfig?: { RoutingPolicy?: string; DnsRecords: { Type: string; TTL: number }[] };
  healthCheckConfig?: Record<string, unknown>;
  healthCheckCustomConfig?: Record<string, unknown>;
  created: number;
  creatorRequestId?: string;
  tags: Tag[];
  instances: Record<string, Instance>;
  /** bumps on every instance change: DiscoverInstances' InstancesRevision */
  revision: number;
}

export type OperationType =
  | "CREATE_NAMESPACE"
  | "DELETE_NAMESPACE"
  | "UPDATE_NAMESPACE"
  | "UPDATE_SERVICE"
  | "REGISTER_INSTANCE"
  | "DEREGISTER_INSTANCE";

export interface Operation {
  id: string;
  type: OperationType;
  status: "SUBMITTED" | "PENDING" | "SUCCESS" | "FAIL";
  created: number;
  updated: number;
  targets: Record<string, string>;
  creatorRequestId?: string;
}

export interface CloudMapState {
  namespaces: Record<string, Namespace>;
  services: Record<string, Service>;
  operations: Record<string, Operation>;
}

/** Operations are kept for GetOperation; the newest this many. */
const MAX_OPERATIONS = 1000;

const states = new WeakMap<Simulator, Persistent<CloudMapState>>();

export function cloudMapState(sim: Simulator): Persistent<CloudMapState> {
  let s = states.get(sim);
  if (!s) {
    s = sim.state<CloudMapState>("cloudmap", { namespaces: {}, services: {}, operations: {} });
    states.set(sim, s);
  }
  return s;
}

const LOWER = "abcdefghijklmnopqrstuvwxyz0123456789";
const random = (n: number) => Array.from({ length: n }, () => LOWER[randomInt(LOWER.length)]).join("");

/** ns-/srv- and 16 lower-case characters, as Cloud Map's ids. */
export const cloudMapId = (prefix: "ns" | "srv") => `${prefix}-${random(16)}`;

/** Timestamps in JSON 1.1 are epoch seconds. */
export const nowSeconds = () => Date.now() / 1000;

export const invalidInput = (message: string) => new AwsError("InvalidInput", message);
export const namespaceNotFound = (id: string) =>
  new AwsError("NamespaceNotFound", `Namespace not found: ${id}`);
export const serviceNotFound = (id: string) => new AwsError("ServiceNotFound", `Service not found: ${id}`);
export const instanceNotFound = (id: string) => new AwsError("InstanceNotFound", `Instance not found: ${id}`);

/** An operation that completes at once (AWS's go SUBMITTED → PENDING → SUCCESS within seconds). */
export function recordOperation(
  st: Persistent<CloudMapState>,
  type: OperationType,
  targets: Record<string, string>,
  creatorRequestId?: string,
): string {
  const now = nowSeconds();
  const op: Operation = {
    id: `${random(32)}-${random(8)}`,
    type,
    status: "SUCCESS",
    created: now,
    updated: now,
    targets,
    creatorRequestId,
  };
  st.data.operations[op.id] = op;
  const ids = Object.keys(st.data.operations);
  for (const old of ids.slice(0, Math.max(0, ids.length - MAX_OPERATIONS))) delete st.data.operations[old];
  st.changed();
  return op.id;
}

/** An id or an ARN (…:namespace/ns-x or …:service/srv-x) → the id. */
export const idOf = (v: string) => v.split("/").pop() ?? v;

export function required(input: Record<string, any>, name: string): string {
  const v = input[name];
  if (typeof v !== "string" || !v) throw invalidInput(`${name} is required`);
  return v;
}

/** NextToken/MaxResults paging over a list in its natural order. */
export function paginate<T>(list: T[], input: Record<string, any>, defaultMax = 100) {
  const max = input.MaxResults ?? defaultMax;
  if (!Number.isInteger(max) || max < 1 || max > 100)
    throw invalidInput("MaxResults must be between 1 and 100");
  const start = input.NextToken
    ? Number(Buffer.from(String(input.NextToken), "base64url").toString("utf8"))
    : 0;
  if (!Number.isInteger(start) || start < 0) throw invalidInput("Invalid NextToken");
  return {
    page: list.slice(start, start + max),
    NextToken: start + max < list.length ? Buffer.from(String(start + max)).toString("base64url") : undefined,
  };
}

/** Filters of Name/Values/Condition (EQ, IN, BEGINS_WITH). */
export function filterMatch(
  filters: { Name: string; Values: string[]; Condition?: string }[] | undefined,
  field: (name: string) => string | undefined,
): boolean {
  return (filters ?? []).every((f) => {
    const v = field(f.Name);
    if (v === undefined) return false;
    if (f.Condition === "BEGINS_WITH") return f.Values.some((x) => v.startsWith(x));
    return f.Values.includes(v);
  });
}
