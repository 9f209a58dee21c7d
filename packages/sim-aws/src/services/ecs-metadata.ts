import { createHmac } from "node:crypto";
import type { RestHandler, Simulator } from "../sim.js";
import type { Ecs, Json, TaskRec } from "./ecs-model.js";
import { detailsOf, subnetCidr } from "./ecs-network.js";
import { LABEL_CONTAINER, LABEL_TASK, engineName } from "./ecs-spec.js";

/**
 * The task metadata endpoint (v3 and v4) that ECS serves to each container, and the container
 * credentials endpoint for tasks with a task role. Shapes follow the ECS developer guide.
 */

const iso = (sec: number | undefined) => (sec === undefined ? undefined : new Date(sec * 1000).toISOString());

function taskDefOf(ecs: Ecs, rec: TaskRec): Json {
  return ecs.store.data.taskDefs[rec.task.taskDefinitionArn].def;
}

function networks(ecs: Ecs, rec: TaskRec, td: Json): Json[] {
  if (td.networkMode !== "awsvpc") return [{ NetworkMode: td.networkMode, IPv4Addresses: [] }];
  const d = detailsOf(rec.task.attachments?.[0]);
  const ip = d.privateIPv4Address;
  const cidr = subnetCidr(ecs, d.subnetId, ip);
  // the VPC router is the subnet's base + 1
  const base = cidr.split("/")[0].split(".").map(Number);
  return [
    {
      NetworkMode: "awsvpc",
      IPv4Addresses: [ip],
      AttachmentIndex: 0,
      MACAddress: d.macAddress,
      IPv4SubnetCIDRBlock: cidr,
      // AWS says <VPC base>.2; the task's containers ask the simulator's VPC resolver (none: the engine's default DNS)
      ...(rec.dnsServer ? { DomainNameServers: [rec.dnsServer] } : {}),
      DomainNameSearchList: [d.privateDnsName.split(".").slice(1).join(".")],
      PrivateDNSName: d.privateDnsName,
      SubnetGatewayIpv4Address: `${base[0]}.${base[1]}.${base[2]}.${base[3] + 1}/${cidr.split("/")[1]}`,
    },
  ];
}

function containerMetadata(ecs: Ecs, rec: TaskRec, td: Json, c: Json): Json {
  const cd = (td.containerDefinitions as Json[]).find((d) => d.name === c.name) ?? {};
  const ref = rec.engine[c.name] ?? {};
  const lc = cd.logConfiguration as Json | undefined;
  const logOptions = lc ? { ...lc.options } : undefined;
  if (lc?.logDriver === "awslogs" && logOptions) {
    const prefix = logOptions["awslogs-stream-prefix"];
    logOptions["awslogs-region"] ??= rec.region;
    logOptions["awslogs-stream"] = prefix ? `${prefix}/${c.name}/${rec.id}` : (c.runtimeId ?? "");
  }
  return {
    DockerId: c.runtimeId ?? ref.id ?? "",
    Name: c.name,
    DockerName: engineName(rec, td.family, td.revision, c.name),
    Image: c.image,
    ImageID: ref.imageId ?? "",
    Labels: {
      ...(cd.dockerLabels ?? {}),
      "com.amazonaws.ecs.cluster": rec.task.clusterArn,
      [LABEL_CONTAINER]: c.name,
      "com.amazonaws.ecs.task-arn": rec.task.taskArn,
      "com.amazonaws.ecs.task-definition-family": td.family,
      "com.amazonaws.ecs.task-definition-version": String(td.revision),
      [LABEL_TASK]: rec.id,
    },
    DesiredStatus: c.lastStatus === "STOPPED" ? "STOPPED" : rec.task.desiredStatus,
    KnownStatus: c.lastStatus,
    ExitCode: c.exitCode,
    Limits: { CPU: Number(cd.cpu ?? 0), Memory: cd.memory ?? 0 },
    CreatedAt: iso(rec.task.pullStoppedAt),
    StartedAt: c.runtimeId ? iso(rec.task.startedAt) : undefined,
    FinishedAt: c.lastStatus === "STOPPED" ? iso(rec.task.executionStoppedAt) : undefined,
    Type: "NORMAL",
    LogDriver: lc?.logDriver,
    LogOptions: logOptions,
    ContainerARN: c.containerArn,
    Networks: networks(ecs, rec, td),
  };
}

function taskMetadata(ecs: Ecs, rec: TaskRec): Json {
  const td = taskDefOf(ecs, rec);
  const t = rec.task;
  const cpu = Number(t.cpu);
  const memory = Number(t.memory);
  return {
    Cluster: t.clusterArn,
    TaskARN: t.taskArn,
    Family: td.family,
    Revision: String(td.revision),
    DesiredStatus: t.desiredStatus,
    KnownStatus: t.lastStatus,
    Limits: cpu || memory ? { CPU: cpu ? cpu / 1024 : undefined, Memory: memory || undefined } : undefined,
    PullStartedAt: iso(t.pullStartedAt),
    PullStoppedAt: iso(t.pullStoppedAt),
    ExecutionStoppedAt: iso(t.executionStoppedAt),
    AvailabilityZone: t.availabilityZone,
    LaunchType: t.launchType,
    Containers: (t.containers as Json[]).map((c) => containerMetadata(ecs, rec, td, c)),
    ClockDrift: {
      ClockErrorBound: 0.5,
      ReferenceTimestamp: new Date().toISOString(),
      ClockSynchronizationStatus: "SYNCHRONIZED",
    },
  };
}

/** The same temporary credentials every time for one task: the simulator accepts any. */
function credentials(rec: TaskRec, roleArn: string): Json {
  const h = createHmac("sha256", "sockerless-sim-aws-ecs").update(rec.id).digest();
  return {
    RoleArn: roleArn,
    AccessKeyId: `ASIA${h.subarray(0, 8).toString("hex").toUpperCase()}`,
    SecretAccessKey: h.toString("base64").slice(0, 40),
    Token: Buffer.concat([h, h]).toString("base64"),
    Expiration: new Date(Date.now() + 6 * 3600_000).toISOString(),
  };
}

export function registerMetadata(sim: Simulator, ecs: Ecs): void {
  const task = (id: string) => ecs.store.data.tasks[id];
  const notFound = (what: string) => ({ status: 404, body: { message: `${what} not found` } });
  const stats = async (id: string | undefined) =>
    id
      ? await sim.docker
          .getContainer(id)
          .stats({ stream: false })
          .catch(() => null)
      : null;

  const taskRoute: RestHandler = async ({ params }) => {
    const rec = task(params.task);
    return rec ? { body: taskMetadata(ecs, rec) } : notFound("task");
  };
  const containerRoute: RestHandler = async ({ params }) => {
    const rec = task(params.task);
    const c = (rec?.task.containers as Json[] | undefined)?.find((x) => x.name === params.container);
    return rec && c ? { body: containerMetadata(ecs, rec, taskDefOf(ecs, rec), c) } : notFound("container");
  };
  const taskStats: RestHandler = async ({ params }) => {
    const rec = task(params.task);
    if (!rec) return notFound("task");
    const out: Json = {};
    for (const c of rec.task.containers as Json[])
      if (c.runtimeId) out[c.runtimeId] = await stats(c.runtimeId);
    return { body: out };
  };
  const containerStats: RestHandler = async ({ params }) => {
    const rec = task(params.task);
    const c = (rec?.task.containers as Json[] | undefined)?.find((x) => x.name === params.container);
    return c ? { body: await stats(c.runtimeId) } : notFound("container");
  };

  // each container has its own base URI; the task's metadata hangs below it, as in ECS
  for (const v of ["v3", "v4"]) {
    const base = `/_ecs/${v}/:task/:container`;
    sim.registerRest("ecs", "GET", base, containerRoute);
    sim.registerRest("ecs", "GET", `${base}/task`, taskRoute);
    sim.registerRest("ecs", "GET", `${base}/stats`, containerStats);
    sim.registerRest("ecs", "GET", `${base}/task/stats`, taskStats);
  }
  sim.registerRest("ecs", "GET", "/_ecs/v4/:task/:container/taskWithTags", async ({ params }) => {
    const rec = task(params.task);
    if (!rec) return notFound("task");
    const tags = Object.fromEntries(((rec.task.tags ?? []) as Json[]).map((t) => [t.key, t.value]));
    return { body: { ...taskMetadata(ecs, rec), TaskTags: tags } };
  });
  sim.registerRest("ecs", "GET", "/_ecs/credentials/:task", async ({ params }) => {
    const rec = task(params.task);
    const role = rec && (rec.task.overrides?.taskRoleArn ?? taskDefOf(ecs, rec).taskRoleArn);
    return rec && role && rec.task.lastStatus !== "STOPPED"
      ? { body: credentials(rec, role) }
      : notFound("credentials");
  });
}
