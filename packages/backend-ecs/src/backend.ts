import {
  CloudWatchLogsClient,
  DeleteLogStreamCommand,
  DescribeLogStreamsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { DescribeSubnetsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { ECRClient } from "@aws-sdk/client-ecr";
import { EFSClient } from "@aws-sdk/client-efs";
import { ServiceDiscoveryClient } from "@aws-sdk/client-servicediscovery";
import {
  CreateClusterCommand,
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTaskDefinitionFamiliesCommand,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  TagResourceCommand,
  type Task,
  UntagResourceCommand,
} from "@aws-sdk/client-ecs";
import { DockerError, log } from "@sockerless/api";
import {
  awsClientConfig,
  checkCloudMounts,
  CloudProcess,
  cloudState,
  ensureLogGroup,
  fromTagList,
  isAgentLine,
  type AgentImages,
  agentSupport,
  AgentWorkloadBackend,
  type CloudAgents,
  type MainExit,
  readCloudWatchLogs,
  waitForLogMark,
  type CloudWatchSource,
  recordFromTags,
  recordTags,
  staleRecordKeys,
  TAG_ID,
  TAG_MANAGED,
  type Tags,
} from "@sockerless/cloud-aws";
import type {
  Backend,
  ContainerRecord,
  LogQuery,
  LogRecord,
  RecoveredContainer,
  RunningProcess,
  RunSpec,
} from "@sockerless/engine";
import type { ImageStore } from "@sockerless/images";
import { CloudMapNames } from "./cloud-map.js";
import { EfsVolumes } from "./efs-volumes.js";
import type { EcsSettings } from "./settings.js";
import {
  CONTAINER_NAME,
  dnsSearchOf,
  dnsSearchOptions,
  familyOf,
  streamPrefixOf,
  taskDefinitionInput,
} from "./task-definition.js";
import { TaskWatcher } from "./task-watcher.js";

const BACKEND = "ecs";
const WHERE = "ECS task";
/** Which cluster a container belongs to: task definition families are account-wide, clusters are not. */
const TAG_CLUSTER = "sockerless-cluster";

/** Signals ECS itself can deliver: StopTask sends SIGTERM (or the image's stop signal), then SIGKILL. */
const STOP_SIGNALS = new Set(["SIGTERM", "SIGINT", "SIGQUIT", "SIGKILL"]);

/**
 * Containers as ECS Fargate tasks: a container is a task definition (its record in the tags), each
 * start runs a task, its output is the awslogs stream in CloudWatch Logs, its exit code the task's.
 */
export class EcsBackend extends AgentWorkloadBackend implements Backend {
  readonly name = BACKEND;
  readonly capabilities = {
    exec: true,
    attach: true,
    archive: true,
    pause: false,
    hostBinds: false,
    tty: true,
  };
  readonly ecs: ECSClient;
  readonly logs: CloudWatchLogsClient;
  private readonly ec2: EC2Client;
  private readonly watcher: TaskWatcher;
  private readonly efs: EfsVolumes;
  /** Docker volumes are EFS access points, made when the volume is */
  readonly volumes = {
    create: async (v: { Name: string }) => ({ mountpoint: await this.efs.create(v.Name) }),
    remove: (v: { Name: string }) => this.efs.remove(v.Name),
  };
  private readonly names: CloudMapNames;
  protected readonly agents: CloudAgents;
  private readonly agentImages: AgentImages;
  /** the records of the containers this daemon knows (for clean-up by id) */
  private readonly records = new Map<string, ContainerRecord>();
  private subnets: string[] = [];
  /** container id -> its task definition ARN */
  private readonly taskDefs = new Map<string, string>();
  /** task definition ARN -> the DNS search domains its agent adds (space-separated) */
  private readonly searched = new Map<string, string>();

  constructor(
    private readonly s: EcsSettings,
    images: ImageStore,
    dataRoot: string,
  ) {
    super(BACKEND, WHERE);
    const cfg = awsClientConfig(s);
    ({ agents: this.agents, agentImages: this.agentImages } = agentSupport(
      s,
      images,
      dataRoot,
      new ECRClient(cfg),
    ));
    this.ecs = new ECSClient(cfg);
    this.logs = new CloudWatchLogsClient(cfg);
    this.ec2 = new EC2Client(cfg);
    this.watcher = new TaskWatcher(this.ecs, s.cluster);
    this.efs = new EfsVolumes(new EFSClient(cfg), s.cluster, () => this.subnets, s.securityGroups);
    this.names = new CloudMapNames(
      new ServiceDiscoveryClient(cfg),
      this.ec2,
      () => this.subnets,
      `${s.cluster}.sockerless`,
    );
  }

  async init(): Promise<void> {
    if (!this.s.executionRoleArn)
      throw new Error(
        "the ecs backend needs a task execution role (awslogs and ECR pulls on Fargate): --ecs-execution-role-arn or SOCKERLESS_ECS_EXECUTION_ROLE_ARN",
      );
    // CreateCluster is idempotent: it returns the cluster when it exists
    await this.ecs.send(new CreateClusterCommand({ clusterName: this.s.cluster }));
    await ensureLogGroup(this.logs, this.s.logGroup);
    this.subnets = this.s.subnets.length ? this.s.subnets : await this.defaultSubnets();
    await this.agents.start();
  }

  private async defaultSubnets(): Promise<string[]> {
    const out = await this.ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: "default-for-az", Values: ["true"] }] }),
    );
    const ids = (out.Subnets ?? []).map((s) => s.SubnetId!).filter(Boolean);
    if (!ids.length)
      throw new Error(
        "no subnets: the region has no default VPC subnets; give --ecs-subnets or SOCKERLESS_ECS_SUBNETS",
      );
    return ids;
  }

  private tags(rec: ContainerRecord): Tags {
    return { ...recordTags(rec, BACKEND), [TAG_CLUSTER]: this.s.cluster };
  }

  /** create: the container's task definition, with its record in the tags. */
  async prepare(spec: RunSpec): Promise<void> {
    this.records.set(spec.id, spec.container);
    if (this.taskDefs.has(spec.id)) return;
    const rec = spec.container;
    const storage = await this.efs.forMounts(checkCloudMounts(rec, BACKEND, true));
    const image = await this.agentImages.ref(rec.Image);
    const search = this.names.searchDomains(rec);
    const out = await this.ecs.send(
      new RegisterTaskDefinitionCommand(
        taskDefinitionInput(
          rec,
          image,
          this.s,
          this.tags(rec),
          storage,
          this.agents.wrap(rec, dnsSearchOptions(search)),
        ),
      ),
    );
    const arn = out.taskDefinition!.taskDefinitionArn!;
    this.taskDefs.set(spec.id, arn);
    this.searched.set(arn, search.join(" "));
  }

  /**
   * The task definition to run: a new revision when the container joined or left networks since
   * its definition was registered, as their namespaces are the agent's DNS search domains.
   */
  private async currentTaskDefinition(spec: RunSpec): Promise<string> {
    const arn = await this.taskDefinitionOf(spec.id);
    let had = this.searched.get(arn);
    if (had === undefined) {
      const td = await this.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }));
      had = dnsSearchOf(td.taskDefinition?.containerDefinitions?.[0]?.entryPoint).join(" ");
      this.searched.set(arn, had);
    }
    if (had === this.names.searchDomains(spec.container).join(" ")) return arn;
    this.taskDefs.delete(spec.id);
    await this.prepare(spec);
    return this.taskDefs.get(spec.id)!;
  }

  private async taskDefinitionOf(id: string): Promise<string> {
    const known = this.taskDefs.get(id);
    if (known) return known;
    const out = await this.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: familyOf(id) }));
    const arn = out.taskDefinition!.taskDefinitionArn!;
    this.taskDefs.set(id, arn);
    return arn;
  }

  async start(spec: RunSpec): Promise<RunningProcess> {
    this.records.set(spec.id, spec.container);
    const run = this.agents.expectNew(spec.id);
    const out = await this.ecs.send(
      new RunTaskCommand({
        cluster: this.s.cluster,
        taskDefinition: await this.currentTaskDefinition(spec),
        launchType: "FARGATE",
        count: 1,
        startedBy: "sockerless",
        // this start's id: the task's agent presents it, so an earlier start's agent is refused
        overrides: {
          containerOverrides: [{ name: CONTAINER_NAME, environment: [{ name: RUN_VAR, value: run }] }],
        },
        networkConfiguration: {
          awsvpcConfiguration: {
            subnets: this.subnets,
            securityGroups: this.s.securityGroups.length ? this.s.securityGroups : undefined,
            assignPublicIp: this.s.assignPublicIp ? "ENABLED" : "DISABLED",
          },
        },
        tags: [
          { key: TAG_MANAGED, value: "true" },
          { key: TAG_ID, value: spec.id },
          { key: TAG_CLUSTER, value: this.s.cluster },
        ],
      }),
    );
    const taskArn = out.tasks?.[0]?.taskArn;
    if (!taskArn) {
      const f = out.failures?.[0];
      throw new DockerError(
        500,
        `ECS could not run the task: ${f?.reason ?? "no task"}${f?.detail ? `: ${f.detail}` : ""}`,
      );
    }
    const proc = new CloudProcess({ signal: (sig) => this.signal(taskArn, sig) });
    const stopped = this.watcher.until(taskArn, (t) => t.lastStatus === "STOPPED");
    const gone = stopped.then(
      (t) => startFailure(t) ?? `the ECS task stopped before its agent connected: ${t.stoppedReason ?? ""}`,
    );
    let exit: Promise<MainExit>;
    try {
      const session = await this.agents.connect(spec.id, gone);
      exit = (await this.agents.startMain(session, proc, (sig) => this.signal(taskArn, sig))).exited;
    } catch (e) {
      await this.stopTask(taskArn, "docker start failed").catch(() => {});
      throw new DockerError(500, (e as Error).message);
    }
    // `docker run -d` returns once the container's names resolve
    await this.settle(spec.container, taskArn, proc, exit, stopped);
    return proc;
  }

  /**
   * The process of a task ends with its main process (the agent reports the exit code); if the
   * agent's link is lost for good, with the task, whose exit code ECS reports. The task's names
   * are in Cloud Map while it runs.
   */
  private settle(
    rec: ContainerRecord,
    taskArn: string,
    proc: CloudProcess,
    exit: Promise<MainExit>,
    stopped: Promise<Task>,
  ): Promise<void> {
    const taskId = taskIdOf(taskArn);
    const named = this.watcher
      .until(taskArn, (t) => t.lastStatus === "RUNNING" || t.lastStatus === "STOPPED")
      .then(async (t) => {
        const ip = eniAddress(t);
        if (t.lastStatus === "RUNNING" && ip) await this.names.register(rec, taskId, ip);
      })
      .catch((e) =>
        log.warn({ err: e, id: rec.Id }, "ecs: registering the task's names in Cloud Map failed"),
      );
    void stopped.then(async () => {
      await named;
      await this.names
        .deregister(rec, taskId)
        .catch((e) => log.warn({ err: e, id: rec.Id }, "ecs: deregistering the task's names failed"));
    });
    void exit
      .then(async (o) => {
        // exited once CloudWatch has every line (a stopped task's logs are complete already)
        if (o.logMark) await waitForLogMark(this.logSource(rec), o.logMark);
        return o;
      })
      .catch(async (e) => {
        log.warn({ err: e, id: rec.Id }, "ecs: lost the agent; the task's exit code decides");
        return exitOf(await stopped);
      })
      .then((o) => proc.finish(o.code, o.error));
    return named;
  }

  /** A task that runs on after a daemon restart: its agent dials back, and is bound again. */
  private reattach(rec: ContainerRecord, taskArn: string, run: string | undefined): CloudProcess {
    const proc = new CloudProcess({ signal: (sig) => this.signal(taskArn, sig) });
    this.agents.expect(rec.Id, run);
    const stopped = this.watcher.until(taskArn, (t) => t.lastStatus === "STOPPED");
    const exit = this.agents
      .connect(
        rec.Id,
        stopped.then(() => "the task stopped"),
      )
      .then((session) => this.agents.rebindMain(session, proc, (sig) => this.signal(taskArn, sig)));
    void this.settle(rec, taskArn, proc, exit, stopped);
    return proc;
  }

  private signal(taskArn: string, sig: string): void {
    if (!STOP_SIGNALS.has(sig)) {
      log.warn({ taskArn, sig }, "ecs: only stop signals reach a task without the agent");
      return;
    }
    void this.stopTask(taskArn, `docker: ${sig}`).catch((e) =>
      log.warn({ err: e, taskArn }, "ecs: StopTask failed"),
    );
  }

  private async stopTask(taskArn: string, reason: string): Promise<void> {
    await this.ecs.send(new StopTaskCommand({ cluster: this.s.cluster, task: taskArn, reason }));
  }

  /** rm: stop what still runs, deregister the task definitions, delete the log streams. */
  async remove(id: string): Promise<void> {
    const family = familyOf(id);
    const running = await this.tasksOf(family, "RUNNING");
    for (const arn of running) await this.stopTask(arn, "docker rm");
    let nextToken: string | undefined;
    do {
      const page = await this.ecs.send(
        new ListTaskDefinitionsCommand({ familyPrefix: family, status: "ACTIVE", nextToken }),
      );
      for (const arn of page.taskDefinitionArns ?? [])
        await this.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn }));
      nextToken = page.nextToken;
    } while (nextToken);
    this.taskDefs.delete(id);
    this.agents.forget(id);
    await this.deleteLogStreams(`${streamPrefixOf(id)}/`);
    const rec = this.records.get(id);
    this.records.delete(id);
    if (rec)
      await this.names.remove(rec, [...running, ...(await this.tasksOf(family, "STOPPED"))].map(taskIdOf));
  }

  private async deleteLogStreams(prefix: string): Promise<void> {
    let nextToken: string | undefined;
    do {
      const page = await this.logs
        .send(
          new DescribeLogStreamsCommand({
            logGroupName: this.s.logGroup,
            logStreamNamePrefix: prefix,
            nextToken,
          }),
        )
        .catch((e) => {
          if ((e as Error).name === "ResourceNotFoundException") return undefined;
          throw e;
        });
      for (const s of page?.logStreams ?? [])
        await this.logs.send(
          new DeleteLogStreamCommand({ logGroupName: this.s.logGroup, logStreamName: s.logStreamName }),
        );
      nextToken = page?.nextToken;
    } while (nextToken);
  }

  private async tasksOf(family: string, desiredStatus: "RUNNING" | "STOPPED"): Promise<string[]> {
    const out: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.ecs.send(
        new ListTasksCommand({ cluster: this.s.cluster, family, desiredStatus, nextToken }),
      );
      out.push(...(page.taskArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return out;
  }

  readLogs(
    rec: ContainerRecord,
    q: LogQuery,
    follow: { ended: Promise<unknown> } | undefined,
    onRecord: (r: LogRecord) => void | Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    return readCloudWatchLogs(this.logSource(rec), q, follow, onRecord, signal);
  }

  /** The container's awslogs streams: one per task run, named after the container. */
  private logSource(rec: ContainerRecord): CloudWatchSource {
    return {
      client: this.logs,
      group: this.s.logGroup,
      streamPrefix: `${streamPrefixOf(rec.Id)}/`,
      skip: isAgentLine,
    };
  }

  async recordChanged(rec: ContainerRecord): Promise<void> {
    const arn = await this.taskDefinitionOf(rec.Id);
    const old = await this.ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: arn, include: ["TAGS"] }),
    );
    const next = this.tags(rec);
    await this.ecs.send(
      new TagResourceCommand({
        resourceArn: arn,
        tags: Object.entries(next).map(([key, value]) => ({ key, value })),
      }),
    );
    const stale = staleRecordKeys(fromTagList(old.tags), next);
    if (stale.length) await this.ecs.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: stale }));
  }

  /** The containers of this cluster: task definition families with our record, and their latest task. */
  async discover(): Promise<ContainerRecord[]> {
    const families: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.ecs.send(
        new ListTaskDefinitionFamiliesCommand({ familyPrefix: "sockerless-", status: "ACTIVE", nextToken }),
      );
      families.push(...(page.families ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    const out: ContainerRecord[] = [];
    for (const family of families) {
      const td = await this.ecs.send(
        new DescribeTaskDefinitionCommand({ taskDefinition: family, include: ["TAGS"] }),
      );
      const tags = fromTagList(td.tags);
      const rec = tags[TAG_CLUSTER] === this.s.cluster ? recordFromTags(tags, BACKEND) : undefined;
      if (!rec) continue;
      const record: ContainerRecord = { ...rec, State: cloudState(undefined) };
      this.taskDefs.set(rec.Id, td.taskDefinition!.taskDefinitionArn!);
      this.records.set(rec.Id, record);
      out.push(record);
    }
    return out;
  }

  /** Each container's state is its latest task's; a running one is bound to its agent again. */
  async recover(specs: RunSpec[]): Promise<Map<string, RecoveredContainer>> {
    const out = new Map<string, RecoveredContainer>();
    for (const spec of specs) {
      const family = familyOf(spec.id);
      const arns = [...(await this.tasksOf(family, "RUNNING")), ...(await this.tasksOf(family, "STOPPED"))];
      const tasks: Task[] = [];
      for (let i = 0; i < arns.length; i += 100) {
        const d = await this.ecs.send(
          new DescribeTasksCommand({ cluster: this.s.cluster, tasks: arns.slice(i, i + 100) }),
        );
        tasks.push(...(d.tasks ?? []));
      }
      const latest = tasks.sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0))[0];
      if (!latest) out.set(spec.id, { state: "created" });
      else if (latest.lastStatus !== "STOPPED")
        out.set(spec.id, {
          state: "running",
          proc: this.reattach(spec.container, latest.taskArn!, runOf(latest)),
          startedAt: (latest.startedAt ?? latest.createdAt ?? new Date()).toISOString(),
          paused: false,
        });
      else
        out.set(spec.id, {
          state: "exited",
          exitCode: exitOf(latest).code,
          finishedAt: (latest.stoppedAt ?? new Date()).toISOString(),
          oomKilled: false,
        });
    }
    return out;
  }

  async close(): Promise<void> {
    this.watcher.close();
    await this.agents.close();
  }
}

const taskIdOf = (arn: string) => arn.slice(arn.lastIndexOf("/") + 1);

/** The agent variable naming the start a task belongs to (in RunTask's container overrides). */
const RUN_VAR = "SOCKERLESS_AGENT_RUN";
const runOf = (t: Task) =>
  t.overrides?.containerOverrides
    ?.find((c) => c.name === CONTAINER_NAME)
    ?.environment?.find((e) => e.name === RUN_VAR)?.value;

/** The task's address in its subnet (awsvpc: the ENI's). */
function eniAddress(t: Task): string | undefined {
  const eni = t.attachments?.find((a) => a.type === "ElasticNetworkInterface");
  return eni?.details?.find((d) => d.name === "privateIPv4Address")?.value;
}

/** Why a task never ran its container, in the words ECS uses; undefined when it did run. */
function startFailure(t: Task): string | undefined {
  if (t.lastStatus !== "STOPPED") return undefined;
  const main = t.containers?.find((c) => c.name === CONTAINER_NAME);
  if (main?.exitCode !== undefined && t.stopCode !== "TaskFailedToStart") return undefined;
  return `failed to start the ECS task: ${main?.reason ?? t.stoppedReason ?? "the task stopped before its container ran"}`;
}

/** The real exit code of the task's container; a task stopped before it ran has none. */
function exitOf(t: Task): { code: number; error?: string } {
  const main = t.containers?.find((c) => c.name === CONTAINER_NAME);
  if (main?.exitCode !== undefined && main.exitCode !== null) return { code: main.exitCode };
  return { code: t.stopCode === "UserInitiated" ? 137 : 255, error: main?.reason ?? t.stoppedReason ?? "" };
}
