import type { ContainerState } from "@sockerless/engine";

const ZERO = "0001-01-01T00:00:00Z";

/** Docker's State from what a cloud reports about a container's latest run (none: created). */
export function cloudState(
  run:
    { running: boolean; startedAt?: Date; finishedAt?: Date; exitCode?: number; error?: string } | undefined,
): ContainerState {
  return {
    Status: !run ? "created" : run.running ? "running" : "exited",
    Running: !!run?.running,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: run && !run.running ? (run.exitCode ?? 255) : 0,
    Error: run?.error ?? "",
    StartedAt: run?.startedAt?.toISOString() ?? ZERO,
    FinishedAt: run && !run.running ? (run.finishedAt?.toISOString() ?? ZERO) : ZERO,
  };
}
