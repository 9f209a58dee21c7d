import { setTimeout as sleep } from "node:timers/promises";
import { containerOf } from "./ecs-lifecycle.js";
import type { TaskRec } from "./ecs-model.js";
import type { ContainerSpec } from "./ecs-spec.js";

/** Container dependencies (dependsOn): a container starts once every condition on the others holds. */

export const CONDITIONS = ["START", "COMPLETE", "SUCCESS", "HEALTHY"] as const;

/** Why a condition can never hold now, or "wait", or undefined when it holds. */
function check(rec: TaskRec, dep: { containerName: string; condition: string }): string | undefined {
  const d = containerOf(rec, dep.containerName);
  const never = (why: string) =>
    `CannotStartContainerError: dependency condition ${dep.condition} on container '${dep.containerName}' can not be met: ${why}`;
  switch (dep.condition) {
    case "START":
      if (d.runtimeId) return undefined;
      return d.lastStatus === "STOPPED" ? never("it never started") : "wait";
    case "COMPLETE":
      return d.lastStatus === "STOPPED" ? undefined : "wait";
    case "SUCCESS":
      if (d.lastStatus !== "STOPPED") return "wait";
      return d.exitCode === 0 ? undefined : never(`it exited with code ${d.exitCode ?? "unknown"}`);
    default: // HEALTHY
      if (d.healthStatus === "HEALTHY") return undefined;
      return d.lastStatus === "STOPPED" ? never("it stopped") : "wait";
  }
}

/**
 * Wait until the container may start: undefined when it may, "quit" when the task stopped
 * meanwhile, else the reason it never will (a failed dependency or the container's startTimeout).
 */
export async function dependenciesMet(
  rec: TaskRec,
  c: ContainerSpec,
  quit: () => boolean,
): Promise<string | undefined> {
  const deadline = Date.now() + c.startTimeout * 1000;
  for (;;) {
    if (quit()) return "quit";
    let waiting = false;
    for (const dep of c.dependsOn) {
      const r = check(rec, dep);
      if (r === "wait") waiting = true;
      else if (r) return r;
    }
    if (!waiting) return undefined;
    if (Date.now() > deadline)
      return `CannotStartContainerError: dependencies of container '${c.name}' not resolved within ${c.startTimeout}s`;
    await sleep(100);
  }
}
