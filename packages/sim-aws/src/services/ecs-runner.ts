import { setTimeout as sleep } from "node:timers/promises";
import type Docker from "dockerode";
import { followLogs } from "./ecs-awslogs.js";
import { dependenciesMet } from "./ecs-depends.js";
import { efsVolumeSource } from "./ecs-efs.js";
import { detailsOf, releaseEni } from "./ecs-network.js";
import * as life from "./ecs-lifecycle.js";
import { type Ecs, type Json, type TaskRec, type TaskRunner, isStopped } from "./ecs-model.js";
import { type Pulled, engineMessage, pullAll } from "./ecs-pull.js";
import { type ContainerSpec, LABEL_CONTAINER, LABEL_TASK, type TaskSpec, taskSpec } from "./ecs-spec.js";
import { subnetInfo } from "./ec2.js";
import { vpcResolvers } from "./resolver.js";

/**
 * Runs tasks for real in the Docker Engine: pull, create, start, watch each container until it
 * exits, ship its logs, stop the task when an essential container exits, remove what it made.
 * After a simulator restart it finds its containers again by label.
 */

interface Run {
  rec: TaskRec;
  abort: AbortController;
  spec?: TaskSpec;
  /** engine container id by container name, once created */
  ids: Map<string, string>;
  finished: boolean;
}

const statusOf = (e: unknown) => (e as { statusCode?: number })?.statusCode;

/** Wait for p, but no longer than ms. */
const within = (p: Promise<unknown>, ms: number) =>
  Promise.race([p, new Promise((r) => setTimeout(r, ms).unref())]);

export class EngineRunner implements TaskRunner {
  private readonly runs = new Map<string, Run>();
  private readonly work = new Set<Promise<unknown>>();
  private closing = false;

  constructor(private readonly ecs: Ecs) {}

  private get docker(): Docker {
    return this.ecs.sim.docker;
  }

  launch(rec: TaskRec): void {
    const run = this.newRun(rec);
    this.spawn(run, this.start(run));
  }

  /** The task's desired status is already STOPPED: stop whatever runs; a starting task notices by itself. */
  stop(rec: TaskRec): void {
    const run = this.runs.get(rec.id);
    if (run) this.stopContainers(run);
  }

  /** Pick up the tasks that were live when the simulator went down. */
  recover(): Promise<void> {
    const p: Promise<void> = this.recoverNow().finally(() => {
      this.work.delete(p);
    });
    this.work.add(p);
    return p;
  }

  private async recoverNow(): Promise<void> {
    const tasks = this.ecs.store.data.tasks;
    const live = Object.values(tasks).filter((r) => !isStopped(r));
    let found: Docker.ContainerInfo[];
    try {
      found = await this.docker.listContainers({ all: true, filters: { label: [LABEL_TASK] } });
    } catch (e) {
      console.error(`ecs: cannot list engine containers to recover tasks: ${engineMessage(e)}`);
      return;
    }
    for (const info of found) {
      // stopped before the simulator could remove its containers
      const rec = tasks[info.Labels[LABEL_TASK]];
      if (rec && isStopped(rec))
        void this.docker
          .getContainer(info.Id)
          .remove({ force: true })
          .catch(() => undefined);
    }
    for (const rec of live) {
      const run = this.newRun(rec);
      this.spawn(
        run,
        this.resume(
          run,
          found.filter((i) => i.Labels[LABEL_TASK] === rec.id),
        ),
      );
    }
  }

  /** Stop watching (tasks keep running in the engine for the next start); without a data dir, remove them. */
  async close(): Promise<void> {
    this.closing = true;
    for (const run of this.runs.values()) run.abort.abort();
    await Promise.allSettled([...this.work]);
    if (this.ecs.sim.opts.dataDir) return;
    // memory-only state dies with the process, so its tasks must too
    await Promise.allSettled(
      [...this.runs.values()].flatMap((run) =>
        [...run.ids.values()].map((id) => this.docker.getContainer(id).remove({ force: true })),
      ),
    );
  }

  private newRun(rec: TaskRec): Run {
    const run: Run = { rec, abort: new AbortController(), ids: new Map(), finished: false };
    this.runs.set(rec.id, run);
    return run;
  }

  /** Track background work so shutdown can wait for it; an unexpected error stops the task, never the process. */
  private spawn(run: Run, p: Promise<void>): void {
    const w: Promise<void> = p
      .catch((e) => this.crashed(run, e))
      .finally(() => {
        this.work.delete(w);
      });
    this.work.add(w);
  }

  private async crashed(run: Run, e: unknown): Promise<void> {
    if (this.closing) return;
    const started = !!run.rec.task.startedAt;
    life.stopping(
      this.ecs,
      run.rec,
      started ? undefined : "TaskFailedToStart",
      `ServerException: ${engineMessage(e)}`,
    );
    await this.finish(run).catch(() => undefined);
  }

  private spec(rec: TaskRec, simUrl: string): TaskSpec {
    return taskSpec(rec, this.taskDef(rec), simUrl, (cfg) => efsVolumeSource(this.ecs.sim, rec.region, cfg));
  }

  private taskDef(rec: TaskRec): Json {
    return this.ecs.store.data.taskDefs[rec.task.taskDefinitionArn].def;
  }

  /** sim.url is set once the server listens, which may be after recovery begins. */
  private async simUrl(): Promise<string> {
    for (let i = 0; !this.ecs.sim.url && i < 500 && !this.closing; i++)
      await new Promise((r) => setTimeout(r, 10));
    return this.ecs.sim.url || `http://127.0.0.1:${this.ecs.sim.opts.port}`;
  }

  /** An awsvpc task asks its VPC's resolver (resolver.ts), when that one could start. */
  private async dnsServer(rec: TaskRec): Promise<string | undefined> {
    const eni = (rec.task.attachments as Json[] | undefined)?.find(
      (a) => a.type === "ElasticNetworkInterface",
    );
    const subnet = detailsOf(eni).subnetId;
    const vpc = subnet ? subnetInfo(this.ecs.sim, subnet)?.vpcId : undefined;
    return vpc ? vpcResolvers(this.ecs.sim).serverFor(vpc) : undefined;
  }

  private async start(run: Run): Promise<void> {
    const { rec } = run;
    life.provisioned(this.ecs, rec);
    rec.dnsServer = await this.dnsServer(rec);
    const spec = (run.spec = this.spec(rec, await this.simUrl()));
    if (this.closing) return;
    if (spec.cannotStart) return this.failToStart(run, spec.cannotStart);

    let pulled: Record<string, Pulled>;
    try {
      // Fargate pulls private images with the execution role; EC2 instances have their own role
      const canAuth = rec.task.launchType !== "FARGATE" || !!this.taskDef(rec).executionRoleArn;
      pulled = await pullAll(this.ecs.sim, spec.containers, canAuth, run.abort.signal);
    } catch (e) {
      if (this.closing) return;
      return this.failToStart(
        run,
        `CannotPullContainerError: Error response from daemon: ${engineMessage(e)}`,
      );
    }
    for (const [name, p] of Object.entries(pulled)) (rec.engine[name] ??= {}).imageId = p.id;
    life.pulled(
      this.ecs,
      rec,
      Object.fromEntries(Object.entries(pulled).map(([name, p]) => [name, p.digest])),
    );
    if (rec.task.desiredStatus === "STOPPED") return this.finish(run);

    try {
      for (const c of spec.containers) {
        const created = await this.docker.createContainer(c.create);
        run.ids.set(c.name, created.id);
        (rec.engine[c.name] ??= {}).id = created.id;
      }
    } catch (e) {
      if (this.closing) return;
      return this.failToStart(
        run,
        `CannotCreateContainerError: Error response from daemon: ${engineMessage(e)}`,
      );
    }
    if (rec.task.desiredStatus === "STOPPED") return this.finish(run);

    // the awslogs driver creates each container's stream (and group, when allowed) as the logger starts
    const loggerError = this.startLoggers(run, spec);
    if (loggerError) return this.failToStart(run, loggerError);

    // containers start as their dependsOn conditions hold: all at once when there are none
    const started = await Promise.allSettled(spec.containers.map((c) => this.launch1(run, c)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      if (this.closing) return;
      return this.failToStart(
        run,
        `CannotStartContainerError: Error response from daemon: ${engineMessage(failed.reason)}`,
      );
    }
    if (!run.finished && !rec.task.startedAt) life.running(this.ecs, rec);
    if (rec.task.desiredStatus === "STOPPED") this.stopContainers(run);
  }

  /** The awslogs driver's logger setup: the reason the task cannot start, if the group is missing. */
  private startLoggers(run: Run, spec: TaskSpec): string | undefined {
    const sink = this.ecs.sim.logSink;
    if (!sink) return undefined;
    for (const c of spec.containers) {
      if (!c.awslogs) continue;
      try {
        sink.append(c.awslogs.group, c.awslogs.stream || run.ids.get(c.name)!, [], {
          region: c.awslogs.region,
          createGroup: c.awslogs.createGroup,
        });
      } catch (e) {
        const err = e as { code?: string; message?: string };
        return `ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ${err.code ?? "ServerException"}: ${err.message ?? String(e)} : exit status 1`;
      }
    }
    return undefined;
  }

  /** Start one created container once its dependencies allow, and watch it. */
  private async launch1(run: Run, c: ContainerSpec): Promise<void> {
    const { rec } = run;
    const unmet = await dependenciesMet(
      rec,
      c,
      () => this.closing || run.finished || rec.task.desiredStatus === "STOPPED",
    );
    if (this.closing) return;
    if (unmet) {
      // never started: the task stopped meanwhile, or a dependency failed
      const reason = unmet === "quit" ? undefined : unmet;
      life.containerStopped(this.ecs, rec, c.name, undefined, reason);
      if (reason && c.essential && life.stopping(this.ecs, rec, "TaskFailedToStart", reason))
        this.stopContainers(run);
      if (this.allStopped(rec)) await this.finish(run);
      return;
    }
    const id = run.ids.get(c.name)!;
    await this.docker.getContainer(id).start();
    life.containerRunning(this.ecs, rec, c.name, id, c.networkBindings);
    // RUNNING once every container has started (or ended), not when the slowest start call returns
    if (
      !rec.task.startedAt &&
      (rec.task.containers as Json[]).every((x) => x.runtimeId || x.lastStatus === "STOPPED")
    )
      life.running(this.ecs, rec);
    this.spawn(run, this.watch(run, c));
  }

  /** Report the engine's health check results while the container runs. */
  private async watchHealth(run: Run, c: ContainerSpec): Promise<void> {
    const id = run.ids.get(c.name)!;
    while (!run.finished && life.containerOf(run.rec, c.name).lastStatus === "RUNNING") {
      const info = await this.docker
        .getContainer(id)
        .inspect()
        .catch(() => undefined);
      const s = info?.State?.Health?.Status;
      const checked = run
        .spec!.containers.filter((x) => x.essential && x.create.Healthcheck)
        .map((x) => x.name);
      const status = s === "healthy" ? "HEALTHY" : s === "unhealthy" ? "UNHEALTHY" : "UNKNOWN";
      if (s) life.health(this.ecs, run.rec, c.name, status, checked);
      try {
        await sleep(1000, undefined, { signal: run.abort.signal });
      } catch {
        return;
      }
    }
  }

  /** Wait for one container to exit, with its logs shipped; stop the task when it was essential. */
  private async watch(run: Run, c: ContainerSpec): Promise<void> {
    const { rec } = run;
    const id = run.ids.get(c.name)!;
    const ref = (rec.engine[c.name] ??= { id });
    if (c.create.Healthcheck) this.spawn(run, this.watchHealth(run, c));
    const logs = c.awslogs
      ? followLogs(this.docker, id, {
          group: c.awslogs.group,
          stream: c.awslogs.stream || id,
          sinkOptions: { region: c.awslogs.region, createGroup: c.awslogs.createGroup },
          tty: c.tty,
          after: ref.logsUntil,
          signal: run.abort.signal,
          sink: () => this.ecs.sim.logSink,
          onShipped: (ts) => {
            ref.logsUntil = ts;
            this.ecs.store.changed();
          },
        }).catch(() => undefined)
      : Promise.resolve();

    let exitCode: number | undefined;
    let reason: string | undefined;
    try {
      exitCode = (await this.docker.getContainer(id).wait({ abortSignal: run.abort.signal })).StatusCode;
      const info = await this.docker.getContainer(id).inspect();
      if (info.State.OOMKilled) reason = "OutOfMemoryError: Container killed due to memory usage";
    } catch (e) {
      if (this.closing) return;
      if (statusOf(e) !== 404) throw e;
      reason = "The container was removed from the engine outside the simulator";
    }
    // the engine ends a followed log stream once the container has stopped
    await within(logs, 5000);
    life.containerStopped(this.ecs, rec, c.name, exitCode, reason);
    if (
      c.essential &&
      life.stopping(this.ecs, rec, "EssentialContainerExited", "Essential container in task exited")
    )
      this.stopContainers(run);
    if (this.allStopped(rec)) await this.finish(run);
  }

  private allStopped(rec: TaskRec): boolean {
    return (rec.task.containers as Json[]).every((c) => c.lastStatus === "STOPPED");
  }

  /** SIGTERM (or the image's stop signal), SIGKILL after the container's stopTimeout, as ECS does. */
  private stopContainers(run: Run): void {
    if (!run.spec || !run.ids.size) return;
    life.containersStopping(this.ecs, run.rec);
    for (const c of run.spec.containers) {
      const id = run.ids.get(c.name);
      if (!id || life.containerOf(run.rec, c.name).lastStatus === "STOPPED") continue;
      void this.docker
        .getContainer(id)
        .stop({ t: c.stopTimeout })
        .catch(() => undefined);
    }
  }

  private async failToStart(run: Run, reason: string): Promise<void> {
    life.stopping(this.ecs, run.rec, "TaskFailedToStart", reason);
    await this.finish(run, reason);
  }

  /** Every container has exited or never ran: release what the task holds in the engine. */
  private async finish(run: Run, containerReason?: string): Promise<void> {
    if (run.finished) return;
    run.finished = true;
    life.deprovisioning(this.ecs, run.rec, containerReason);
    await Promise.allSettled(
      [...run.ids.values()].map((id) => this.docker.getContainer(id).remove({ force: true })),
    );
    await Promise.allSettled((run.spec?.volumes ?? []).map((v) => this.docker.getVolume(v).remove()));
    releaseEni(this.ecs, run.rec.task.attachments);
    life.stopped(this.ecs, run.rec);
    this.runs.delete(run.rec.id);
  }

  /** Continue a task found live in the state at startup, from what the engine still has. */
  private async resume(run: Run, found: Docker.ContainerInfo[]): Promise<void> {
    const { rec } = run;
    run.spec = this.spec(rec, await this.simUrl());
    for (const info of found) run.ids.set(info.Labels[LABEL_CONTAINER], info.Id);
    if (!rec.task.startedAt) {
      // the simulator went down while the task was starting: start it over
      await Promise.allSettled(found.map((i) => this.docker.getContainer(i.Id).remove({ force: true })));
      run.ids.clear();
      if (rec.task.desiredStatus === "STOPPED") return this.finish(run);
      return this.start(run);
    }
    for (const c of run.spec.containers) {
      if (life.containerOf(rec, c.name).lastStatus === "STOPPED") continue;
      const info = found.find((i) => i.Id === run.ids.get(c.name));
      if (info && info.State !== "created") {
        // still running: keep watching; exited meanwhile: wait returns its exit code at once
        this.spawn(run, this.watch(run, c));
        continue;
      }
      life.containerStopped(
        this.ecs,
        rec,
        c.name,
        undefined,
        "The container was gone from the engine when the simulator restarted",
      );
      if (c.essential)
        life.stopping(
          this.ecs,
          rec,
          undefined,
          "Task was stopped while the simulator was down: its essential container is gone from the engine",
        );
    }
    if (rec.task.desiredStatus === "STOPPED") this.stopContainers(run);
    if (this.allStopped(rec)) await this.finish(run);
  }
}
