import { type Ecs, type Json, type TaskRec, nowSec } from "./ecs-model.js";

/**
 * Task state transitions, as DescribeTasks shows them:
 * PROVISIONING -> PENDING -> RUNNING -> STOPPING -> DEPROVISIONING -> STOPPED.
 * Every change bumps the task's version and schedules a state write.
 */

function bump(ecs: Ecs, rec: TaskRec) {
  rec.task.version = (rec.task.version ?? 0) + 1;
  ecs.store.changed();
}

export function containerOf(rec: TaskRec, name: string): Json {
  return (rec.task.containers as Json[]).find((c) => c.name === name)!;
}

/** The ENI is attached; images are about to be pulled. */
export function provisioned(ecs: Ecs, rec: TaskRec): void {
  for (const a of rec.task.attachments ?? []) a.status = "ATTACHED";
  rec.task.lastStatus = "PENDING";
  rec.task.pullStartedAt = nowSec();
  bump(ecs, rec);
}

export function pulled(ecs: Ecs, rec: TaskRec, digests: Record<string, string | undefined>): void {
  rec.task.pullStoppedAt = nowSec();
  for (const c of rec.task.containers as Json[]) if (digests[c.name]) c.imageDigest = digests[c.name];
  bump(ecs, rec);
}

export function containerRunning(
  ecs: Ecs,
  rec: TaskRec,
  name: string,
  engineId: string,
  bindings: Json[],
): void {
  const c = containerOf(rec, name);
  c.runtimeId = engineId;
  c.lastStatus = "RUNNING";
  c.networkBindings = bindings;
  bump(ecs, rec);
}

/** Every container has started (or ended) as its dependencies allowed. */
export function running(ecs: Ecs, rec: TaskRec): void {
  // an essential container may already have exited and begun the stop
  if (rec.task.lastStatus === "PENDING") rec.task.lastStatus = "RUNNING";
  rec.task.startedAt = nowSec();
  bump(ecs, rec);
}

export function containerStopped(
  ecs: Ecs,
  rec: TaskRec,
  name: string,
  exitCode: number | undefined,
  reason?: string,
): void {
  const c = containerOf(rec, name);
  c.lastStatus = "STOPPED";
  if (exitCode !== undefined) c.exitCode = exitCode;
  if (reason) c.reason = reason;
  bump(ecs, rec);
}

/**
 * A container's health check result. The task is HEALTHY when every essential container with a
 * health check is, UNHEALTHY when one of them is, else UNKNOWN.
 */
export function health(
  ecs: Ecs,
  rec: TaskRec,
  name: string,
  status: "HEALTHY" | "UNHEALTHY" | "UNKNOWN",
  /** names of the essential containers that have a health check */
  essentialChecked: string[],
): void {
  const c = containerOf(rec, name);
  if (c.healthStatus === status) return;
  c.healthStatus = status;
  const checked = (rec.task.containers as Json[]).filter((x) => essentialChecked.includes(x.name));
  rec.task.healthStatus = checked.some((x) => x.healthStatus === "UNHEALTHY")
    ? "UNHEALTHY"
    : checked.length && checked.every((x) => x.healthStatus === "HEALTHY")
      ? "HEALTHY"
      : "UNKNOWN";
  bump(ecs, rec);
}

/** Desired status STOPPED; the first cause wins. False when the task was already stopping. */
export function stopping(ecs: Ecs, rec: TaskRec, stopCode: string | undefined, reason: string): boolean {
  if (rec.task.desiredStatus === "STOPPED") return false;
  rec.task.desiredStatus = "STOPPED";
  if (stopCode) rec.task.stopCode = stopCode;
  rec.task.stoppedReason = reason;
  rec.task.stoppingAt = nowSec();
  bump(ecs, rec);
  return true;
}

/** The engine was told to stop the containers. */
export function containersStopping(ecs: Ecs, rec: TaskRec): void {
  if (rec.task.lastStatus !== "RUNNING") return;
  rec.task.lastStatus = "STOPPING";
  bump(ecs, rec);
}

/** Every container has exited (or never started); the task's resources are being released. */
export function deprovisioning(ecs: Ecs, rec: TaskRec, containerReason?: string): void {
  rec.task.executionStoppedAt = nowSec();
  rec.task.stoppingAt ??= rec.task.executionStoppedAt;
  rec.task.desiredStatus = "STOPPED";
  rec.task.lastStatus = "DEPROVISIONING";
  for (const c of rec.task.containers as Json[]) {
    if (c.lastStatus === "STOPPED") continue;
    c.lastStatus = "STOPPED";
    if (containerReason) c.reason = containerReason;
  }
  for (const a of rec.task.attachments ?? []) a.status = "DELETED";
  bump(ecs, rec);
}

export function stopped(ecs: Ecs, rec: TaskRec): void {
  rec.task.lastStatus = "STOPPED";
  rec.task.stoppedAt = nowSec();
  rec.task.connectivity = "DISCONNECTED";
  bump(ecs, rec);
}
