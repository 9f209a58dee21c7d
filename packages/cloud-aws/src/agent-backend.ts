import type { Readable } from "node:stream";
import { notImplemented } from "@sockerless/api";
import type { ContainerStats, ExecSpec, PathStat, RunningProcess, RunSpec } from "@sockerless/engine";
import { agentExec, type CloudAgents } from "./agents.js";

/**
 * What the AWS backends do the same way, through the agent inside the workload: exec, docker cp
 * and usage. The workload's files live only while it runs, so the rest answers 501.
 */
export abstract class AgentWorkloadBackend {
  protected abstract readonly agents: CloudAgents;

  /**
   * @param backend the backend's name, for messages
   * @param where what a workload is on this platform ("ECS task"), for messages
   */
  constructor(
    private readonly backend: string,
    private readonly where: string,
  ) {}

  async exec(spec: RunSpec, exec: ExecSpec): Promise<RunningProcess> {
    return agentExec(await this.agents.sessionOf(spec.id, this.where), exec);
  }

  async statPath(spec: RunSpec, p: string): Promise<PathStat> {
    return (await this.agents.runningSessionOf(spec, this.backend, this.where)).statPath(p);
  }

  async getArchive(spec: RunSpec, p: string): Promise<{ stat: PathStat; tar: Readable }> {
    return this.agents.getArchive(await this.agents.runningSessionOf(spec, this.backend, this.where), p);
  }

  async putArchive(spec: RunSpec, p: string, tar: Readable, opts: { noOverwriteDirNonDir: boolean }) {
    return (await this.agents.runningSessionOf(spec, this.backend, this.where)).putArchive(p, tar, opts);
  }

  exportFs(): Promise<Readable> {
    return Promise.reject(notImplemented(`docker export is not supported by the ${this.backend} backend`));
  }

  changes(): Promise<{ Path: string; Kind: 0 | 1 | 2 }[]> {
    return Promise.reject(notImplemented(`docker diff is not supported by the ${this.backend} backend`));
  }

  /** The workload's writable layer is not measurable from outside (`docker ps -s` shows 0B). */
  async sizeRw(): Promise<number> {
    return 0;
  }

  /** measured inside the workload by its agent (its cgroup, or /proc) */
  async stats(id: string): Promise<ContainerStats> {
    return (await this.agents.sessionOf(id, this.where)).usage();
  }
}
