import type { ContainerManager } from "./containers.js";
import type { ExecManager } from "./exec.js";
import type { Runtime } from "./runtime.js";
import type { ContainerRecord } from "./types.js";
import { nowIso } from "./util.js";

const NS = 1_000_000;
const MAX_LOG = 5;
const MAX_OUTPUT = 4096;

/** Runs a container's HEALTHCHECK while it runs and feeds State.Health, as dockerd does. */
export function startHealthChecks(
  c: ContainerRecord,
  rt: Runtime,
  containers: ContainerManager,
  execs: ExecManager,
  save: (c: ContainerRecord) => Promise<void>,
) {
  const hc = c.Config.Healthcheck;
  const test = hc?.Test;
  if (!hc || !test || test.length === 0 || test[0] === "NONE") return;
  const cmd =
    test[0] === "CMD-SHELL"
      ? ["/bin/sh", "-c", test.slice(1).join(" ")]
      : test[0] === "CMD"
        ? test.slice(1)
        : test;
  const interval = (hc.Interval || 30_000 * NS) / NS;
  const timeout = (hc.Timeout || 30_000 * NS) / NS;
  const startPeriod = (hc.StartPeriod || 0) / NS;
  const startInterval = (hc.StartInterval || 5_000 * NS) / NS;
  const retries = hc.Retries || 3;
  const startedAt = Date.now();

  const probe = async () => {
    rt.healthTimer = undefined;
    if (!c.State.Running || !c.State.Health) return;
    const start = nowIso();
    let result: { code: number; output: string };
    try {
      result = await execs.run(c.Id, cmd, timeout);
    } catch (e) {
      result = { code: -1, output: String((e as Error).message) };
    }
    const h = c.State.Health;
    if (!c.State.Running || !h) return;
    h.Log.push({
      Start: start,
      End: nowIso(),
      ExitCode: result.code,
      Output: result.output.slice(0, MAX_OUTPUT),
    });
    if (h.Log.length > MAX_LOG) h.Log.shift();
    const before = h.Status;
    if (result.code === 0) {
      h.Status = "healthy";
      h.FailingStreak = 0;
    } else if (!(h.Status === "starting" && Date.now() - startedAt < startPeriod)) {
      h.FailingStreak++;
      if (h.FailingStreak >= retries) h.Status = "unhealthy";
    }
    await save(c);
    if (before !== h.Status) containers.emit(c, `health_status: ${h.Status}`);
    schedule();
  };
  const schedule = () => {
    const inStart = c.State.Health?.Status === "starting" && Date.now() - startedAt < startPeriod;
    rt.healthTimer = setTimeout(probe, inStart ? startInterval : interval);
  };
  schedule();
}

export function stopHealthChecks(rt: Runtime) {
  if (rt.healthTimer) clearTimeout(rt.healthTimer);
  rt.healthTimer = undefined;
}
