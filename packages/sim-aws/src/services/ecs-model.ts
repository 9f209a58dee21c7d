import type { Persistent } from "../store.js";
import type { Simulator } from "../sim.js";

/** ECS state records: what is persisted under --data-dir as ecs.json. */

export type Json = Record<string, any>;
export interface Tag {
  key: string;
  value: string;
}

export interface ClusterRec {
  clusterArn: string;
  clusterName: string;
  status: "ACTIVE" | "INACTIVE";
  tags: Tag[];
  settings: { name: string; value: string }[];
  configuration?: Json;
  capacityProviders: string[];
  defaultCapacityProviderStrategy: Json[];
}

export interface TaskDefRec {
  /** the AWS TaskDefinition shape, as DescribeTaskDefinition returns it */
  def: Json;
  tags: Tag[];
}

/** The engine container that runs one ECS container of a task. */
export interface EngineRef {
  id?: string;
  imageId?: string;
  /** docker timestamp (RFC 3339, ns) of the last log line shipped to CloudWatch Logs */
  logsUntil?: string;
}

export interface TaskRec {
  id: string;
  region: string;
  clusterName: string;
  /** the AWS Task shape, as DescribeTasks returns it (tags included) */
  task: Json;
  /** by container name */
  engine: Record<string, EngineRef>;
  /** awsvpc: the VPC resolver address the containers use (none: the engine's default DNS) */
  dnsServer?: string;
}

export interface EcsState {
  clusters: Record<string, ClusterRec>; // by ARN
  taskDefs: Record<string, TaskDefRec>; // by ARN
  /** last revision per "region|family" (revisions are never reused, as in AWS) */
  revisions: Record<string, number>;
  tasks: Record<string, TaskRec>; // by task id
  /** RunTask clientToken idempotency: token -> request fingerprint and the tasks it started */
  tokens: Record<string, { fingerprint: string; taskArns: string[]; at: number }>;
}

export const emptyState = (): EcsState => ({
  clusters: {},
  taskDefs: {},
  revisions: {},
  tasks: {},
  tokens: {},
});

/** What the ECS modules share. */
export interface Ecs {
  sim: Simulator;
  store: Persistent<EcsState>;
  runner: TaskRunner;
}

/** The part of the runner the API handlers use (ecs-runner.ts). */
export interface TaskRunner {
  launch(rec: TaskRec): void;
  stop(rec: TaskRec): void;
}

export const nowSec = () => Date.now() / 1000;

export function parseArn(arn: string): { region: string; account: string; resource: string } | undefined {
  const m = /^arn:aws[a-z-]*:ecs:([^:]*):([^:]*):(.+)$/.exec(arn);
  return m ? { region: m[1], account: m[2], resource: m[3] } : undefined;
}

export const isStopped = (rec: TaskRec) => rec.task.lastStatus === "STOPPED";

/** A deep copy, so a response never sees later changes by the runner. */
export const snapshot = <T>(v: T): T => structuredClone(v);
