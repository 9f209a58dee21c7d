import { createHash, randomBytes, randomUUID } from "node:crypto";
import { AwsError } from "../errors.js";
import type { Call, JsonHandler } from "../sim.js";
import { findCluster } from "./ecs-clusters.js";
import {
  bool,
  int,
  invalidParam,
  list,
  mergeTags,
  obj,
  oneOf,
  paginate,
  reqStr,
  str,
  strList,
  tags,
} from "./ecs-input.js";
import * as life from "./ecs-lifecycle.js";
import {
  type ClusterRec,
  type Ecs,
  type Json,
  type Tag,
  type TaskDefRec,
  type TaskRec,
  parseArn,
  snapshot,
} from "./ecs-model.js";
import { subnetInfo } from "./ec2.js";
import { checkAwsvpc, eniAttachment, releaseEni } from "./ecs-network.js";
import { findTaskDef } from "./ecs-taskdefs.js";

/** Tasks: RunTask, StartTask, DescribeTasks, ListTasks, StopTask. The engine work is the runner's. */

/** AWS keeps stopped tasks visible for about an hour. */
const STOPPED_RETENTION_SEC = 3600;

interface Launch {
  cluster: ClusterRec;
  td: TaskDefRec;
  launchType: string;
  capacityProviderName?: string;
  awsvpc?: Json;
  overrides: Json;
  tags: Tag[];
  startedBy?: string;
  group?: string;
  enableExecuteCommand: boolean;
  containerInstanceArn?: string;
}

export function taskView(rec: TaskRec, withTags: boolean): Json {
  const t = snapshot(rec.task);
  if (!withTags) delete t.tags;
  return t;
}

/** A task by id or ARN within a cluster. */
export function findTask(ecs: Ecs, cluster: ClusterRec, ref: string): TaskRec | undefined {
  const id = ref.startsWith("arn:") ? (parseArn(ref)?.resource.split("/").pop() ?? "") : ref;
  const rec = ecs.store.data.tasks[id];
  return rec?.task.clusterArn === cluster.clusterArn ? rec : undefined;
}

function validateOverrides(input: Json, td: TaskDefRec): Json {
  const o = obj(input, "overrides") ?? {};
  const cos = list<Json>(o, "containerOverrides") ?? [];
  const names = new Set((td.def.containerDefinitions as Json[]).map((c) => c.name));
  for (const co of cos) {
    const name = str(co, "name");
    if (!name || !names.has(name))
      throw invalidParam(`Override for container named ${name} is not a container in the TaskDefinition.`);
    strList(co, "command");
    for (const e of list<Json>(co, "environment") ?? [])
      if (typeof e?.name !== "string" || !e.name)
        throw invalidParam("Environment variable names must not be empty.");
    int(co, "cpu");
    int(co, "memory");
    int(co, "memoryReservation");
  }
  return {
    ...o,
    containerOverrides: cos,
    inferenceAcceleratorOverrides: o.inferenceAcceleratorOverrides ?? [],
  };
}

/**
 * awsvpc needs a network configuration with subnets (and security groups) that exist in EC2;
 * other modes must not have one.
 */
function validateNetwork(
  ecs: Ecs,
  call: Call,
  input: Json,
  td: TaskDefRec,
  launchType: string,
): Json | undefined {
  const nc = obj(input, "networkConfiguration");
  const cfg = nc && obj(nc, "awsvpcConfiguration");
  if (td.def.networkMode !== "awsvpc") {
    if (cfg)
      throw invalidParam(
        "Network Configuration is not valid for the given networkMode of this task definition.",
      );
    return undefined;
  }
  if (!cfg)
    throw invalidParam("Network Configuration must be provided when networkMode 'awsvpc' is specified.");
  const subnets = strList(cfg, "subnets");
  if (!subnets?.length) throw invalidParam("subnets can not be empty.");
  if (subnets.length > 16) throw invalidParam("subnets can have at most 16 items.");
  const groups = strList(cfg, "securityGroups") ?? [];
  if (groups.length > 5) throw invalidParam("securityGroups can have at most 5 items.");
  const pub = oneOf(cfg, "assignPublicIp", ["ENABLED", "DISABLED"] as const);
  if (pub === "ENABLED" && launchType !== "FARGATE")
    throw invalidParam("Assign public IP is not supported for this launch type.");
  checkAwsvpc(ecs, subnets, groups, call.requestId);
  return cfg;
}

function common(ecs: Ecs, call: Call, input: Json, createDefault: boolean) {
  const ref = reqStr(input, "taskDefinition", "TaskDefinition can not be blank.");
  const cluster = findCluster(ecs, call, str(input, "cluster"), createDefault);
  const td = findTaskDef(ecs, call, ref);
  if (!td) throw invalidParam("TaskDefinition not found.");
  if (td.def.status !== "ACTIVE") throw invalidParam("TaskDefinition is inactive");
  const startedBy = str(input, "startedBy");
  if (startedBy && startedBy.length > 128) throw invalidParam("startedBy must be at most 128 characters.");
  const group = str(input, "group");
  let taskTags = tags(input) ?? [];
  const propagate = oneOf(input, "propagateTags", ["TASK_DEFINITION", "SERVICE", "NONE"] as const);
  if (propagate === "TASK_DEFINITION") taskTags = mergeTags(td.tags, taskTags);
  return {
    cluster,
    td,
    startedBy,
    group,
    tags: taskTags,
    enableExecuteCommand: bool(input, "enableExecuteCommand") ?? false,
    overrides: validateOverrides(input, td),
  };
}

function newTask(ecs: Ecs, call: Call, l: Launch): TaskRec {
  const id = randomBytes(16).toString("hex");
  const region = call.region;
  const name = l.cluster.clusterName;
  const taskArn = ecs.sim.arn("ecs", `task/${name}/${id}`, region);
  const def = l.td.def;
  const fargate = l.launchType === "FARGATE";
  // AWS places the task in one of the given subnets; the first one here, so callers can predict it
  const subnetId = l.awsvpc?.subnets[0] as string | undefined;
  const eni = subnetId ? eniAttachment(ecs, region, subnetId, l.awsvpc!.securityGroups) : undefined;
  const az = (subnetId && subnetInfo(ecs.sim, subnetId)?.az) || `${region}a`;
  const ip = eni?.details.find((d: Json) => d.name === "privateIPv4Address")?.value;
  const now = Date.now() / 1000;
  const containers = (def.containerDefinitions as Json[]).map((cd) => {
    const co = (l.overrides.containerOverrides as Json[]).find((o) => o.name === cd.name);
    const memory = co?.memory ?? cd.memory;
    const memoryReservation = co?.memoryReservation ?? cd.memoryReservation;
    return {
      containerArn: ecs.sim.arn("ecs", `container/${name}/${id}/${randomUUID()}`, region),
      taskArn,
      name: cd.name,
      image: cd.image,
      lastStatus: "PENDING",
      networkBindings: [],
      networkInterfaces: eni ? [{ attachmentId: eni.id, privateIpv4Address: ip }] : [],
      healthStatus: "UNKNOWN",
      cpu: String(co?.cpu ?? cd.cpu ?? 0),
      memory: memory === undefined ? undefined : String(memory),
      memoryReservation: memoryReservation === undefined ? undefined : String(memoryReservation),
    };
  });
  const task: Json = {
    attachments: eni ? [eni] : [],
    attributes: [{ name: "ecs.cpu-architecture", value: "x86_64" }],
    availabilityZone: az,
    capacityProviderName: l.capacityProviderName,
    clusterArn: l.cluster.clusterArn,
    connectivity: "CONNECTED",
    connectivityAt: now,
    containerInstanceArn: l.containerInstanceArn,
    containers,
    cpu: l.overrides.cpu ?? def.cpu,
    createdAt: now,
    desiredStatus: "RUNNING",
    enableExecuteCommand: l.enableExecuteCommand,
    group: l.group ?? `family:${def.family}`,
    healthStatus: "UNKNOWN",
    lastStatus: "PROVISIONING",
    launchType: l.launchType,
    memory: l.overrides.memory ?? def.memory,
    overrides: l.overrides,
    platformVersion: fargate ? "1.4.0" : undefined,
    platformFamily: fargate ? "Linux" : undefined,
    startedBy: l.startedBy,
    tags: l.tags,
    taskArn,
    taskDefinitionArn: def.taskDefinitionArn,
    version: 1,
    ephemeralStorage: fargate ? { sizeInGiB: 20 } : undefined,
    fargateEphemeralStorage: fargate ? { sizeInGiB: 20 } : undefined,
  };
  const rec: TaskRec = { id, region, clusterName: name, task: JSON.parse(JSON.stringify(task)), engine: {} };
  ecs.store.data.tasks[id] = rec;
  ecs.store.changed();
  return rec;
}

/** Create the tasks, answer with them as they are now (PROVISIONING), then let the engine run them. */
function launchAll(ecs: Ecs, call: Call, launches: Launch[]): Json[] {
  const recs: TaskRec[] = [];
  try {
    for (const l of launches) recs.push(newTask(ecs, call, l));
  } catch (e) {
    // e.g. the subnet ran out of addresses: nothing of this request is kept
    for (const r of recs) {
      releaseEni(ecs, r.task.attachments);
      delete ecs.store.data.tasks[r.id];
    }
    ecs.store.changed();
    throw e;
  }
  const views = recs.map((r) => taskView(r, true));
  for (const r of recs) ecs.runner.launch(r);
  return views;
}

/** Forget stopped tasks after an hour, as ECS does. */
function prune(ecs: Ecs): void {
  const cutoff = Date.now() / 1000 - STOPPED_RETENTION_SEC;
  for (const [id, rec] of Object.entries(ecs.store.data.tasks))
    if (rec.task.lastStatus === "STOPPED" && rec.task.stoppedAt < cutoff) {
      delete ecs.store.data.tasks[id];
      ecs.store.changed();
    }
  for (const [token, t] of Object.entries(ecs.store.data.tokens))
    if (t.at < cutoff) delete ecs.store.data.tokens[token];
}

export function taskHandlers(ecs: Ecs): Record<string, JsonHandler> {
  return {
    RunTask(input, call) {
      const c = common(ecs, call, input, true);
      const count = int(input, "count") ?? 1;
      if (count < 1 || count > 10) throw invalidParam("count must be between 1 and 10.");
      let launchType = oneOf(input, "launchType", [
        "EC2",
        "FARGATE",
        "EXTERNAL",
        "MANAGED_INSTANCES",
      ] as const);
      const strategy = list<Json>(input, "capacityProviderStrategy") ?? [];
      if (launchType && strategy.length)
        throw invalidParam(
          "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.",
        );
      const provider = (strategy[0] ?? c.cluster.defaultCapacityProviderStrategy[0])?.capacityProvider as
        string | undefined;
      if (!launchType) launchType = provider?.startsWith("FARGATE") ? "FARGATE" : "EC2";
      if (launchType === "FARGATE" && !c.td.def.compatibilities.includes("FARGATE"))
        throw invalidParam("Task definition does not support launch_type FARGATE.");
      const awsvpc = validateNetwork(ecs, call, input, c.td, launchType);
      if (launchType === "EXTERNAL" || launchType === "MANAGED_INSTANCES")
        // no such instances are ever registered with the simulator
        return { tasks: [], failures: [{ reason: "No Container Instances were found in your cluster." }] };

      const clientToken = str(input, "clientToken");
      const fingerprint = createHash("sha256").update(JSON.stringify(input)).digest("hex");
      if (clientToken) {
        const seen = ecs.store.data.tokens[clientToken];
        if (seen && seen.fingerprint !== fingerprint)
          throw new AwsError(
            "ConflictException",
            "The clientToken is already in use with a different RunTask request.",
          );
        if (seen) {
          const tasks = seen.taskArns
            .map((arn) => findTask(ecs, c.cluster, arn))
            .filter((r): r is TaskRec => !!r)
            .map((r) => taskView(r, true));
          return { tasks, failures: [] };
        }
      }
      const launch: Launch = {
        ...c,
        launchType,
        // a launch type excludes a strategy, so the provider is the request's or the cluster's default
        capacityProviderName: input.launchType ? undefined : provider,
        awsvpc,
      };
      const tasks = launchAll(
        ecs,
        call,
        Array.from({ length: count }, () => launch),
      );
      if (clientToken)
        ecs.store.data.tokens[clientToken] = {
          fingerprint,
          taskArns: tasks.map((t) => t.taskArn),
          at: Date.now() / 1000,
        };
      return { tasks, failures: [] };
    },

    /** StartTask places tasks on named container instances; the engine stands in for each of them. */
    StartTask(input, call) {
      const c = common(ecs, call, input, true);
      const instances = strList(input, "containerInstances");
      if (!instances?.length) throw invalidParam("Container instances can not be empty.");
      if (instances.length > 10) throw invalidParam("Container instances can have at most 10 items.");
      const awsvpc = validateNetwork(ecs, call, input, c.td, "EC2");
      const launches = instances.map((ci) => ({
        ...c,
        launchType: "EC2",
        awsvpc,
        containerInstanceArn: ci.startsWith("arn:")
          ? ci
          : ecs.sim.arn("ecs", `container-instance/${c.cluster.clusterName}/${ci}`, call.region),
      }));
      return { tasks: launchAll(ecs, call, launches), failures: [] };
    },

    DescribeTasks(input, call) {
      prune(ecs);
      const cluster = findCluster(ecs, call, str(input, "cluster"));
      const refs = strList(input, "tasks");
      if (!refs?.length) throw invalidParam("Tasks cannot be empty.");
      if (refs.length > 100) throw invalidParam("Tasks cannot have more than 100 items.");
      const withTags = (strList(input, "include") ?? []).includes("TAGS");
      const tasks: Json[] = [];
      const failures: Json[] = [];
      for (const ref of refs) {
        const rec = findTask(ecs, cluster, ref);
        if (rec) tasks.push(taskView(rec, withTags));
        else
          failures.push({
            arn: ref.startsWith("arn:")
              ? ref
              : ecs.sim.arn("ecs", `task/${cluster.clusterName}/${ref}`, call.region),
            reason: "MISSING",
          });
      }
      return { tasks, failures };
    },

    ListTasks(input, call) {
      prune(ecs);
      const cluster = findCluster(ecs, call, str(input, "cluster"));
      const family = str(input, "family");
      const startedBy = str(input, "startedBy");
      const instance = str(input, "containerInstance");
      const launchType = oneOf(input, "launchType", [
        "EC2",
        "FARGATE",
        "EXTERNAL",
        "MANAGED_INSTANCES",
      ] as const);
      // ECS lists tasks desired RUNNING unless asked otherwise (no task is ever desired PENDING)
      const desired = oneOf(input, "desiredStatus", ["RUNNING", "PENDING", "STOPPED"] as const) ?? "RUNNING";
      if (str(input, "serviceName")) throw new AwsError("ServiceNotFoundException", "Service not found.");
      const arns = Object.values(ecs.store.data.tasks)
        .filter((r) => {
          const t = r.task;
          if (t.clusterArn !== cluster.clusterArn || t.desiredStatus !== desired) return false;
          if (family && parseArn(t.taskDefinitionArn)?.resource.split("/")[1].split(":")[0] !== family)
            return false;
          if (startedBy && t.startedBy !== startedBy) return false;
          if (launchType && t.launchType !== launchType) return false;
          if (instance && !t.containerInstanceArn?.endsWith(instance)) return false;
          return true;
        })
        .sort((a, b) => a.task.createdAt - b.task.createdAt || a.id.localeCompare(b.id))
        .map((r) => r.task.taskArn as string);
      const { page, nextToken } = paginate(arns, input);
      return { taskArns: page, nextToken };
    },

    StopTask(input, call) {
      const cluster = findCluster(ecs, call, str(input, "cluster"));
      const ref = reqStr(input, "task", "Task can not be blank.");
      const reason = str(input, "reason");
      if (reason && reason.length > 255) throw invalidParam("Reason must be at most 255 characters.");
      const rec = findTask(ecs, cluster, ref);
      if (!rec) throw invalidParam("The referenced task was not found.");
      if (life.stopping(ecs, rec, "UserInitiated", reason || "Task stopped by user")) {
        const view = taskView(rec, true);
        ecs.runner.stop(rec);
        return { task: view };
      }
      return { task: taskView(rec, true) };
    },
  };
}
