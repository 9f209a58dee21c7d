import type { Call, JsonHandler } from "../sim.js";
import { clientError, invalidParam, list, obj, oneOf, paginate, str, strList, tags } from "./ecs-input.js";
import { CONDITIONS } from "./ecs-depends.js";
import { type Ecs, type Json, type TaskDefRec, nowSec, parseArn, snapshot } from "./ecs-model.js";

/** Task definitions: register (family + revision), describe, list, list families, deregister. */

const NAME = /^[a-zA-Z0-9_-]{1,255}$/;
const NETWORK_MODES = ["bridge", "host", "awsvpc", "none"] as const;

/** Fargate's valid task cpu units -> memory MiB. */
const FARGATE_SIZES: [number, number[]][] = [
  [256, [512, 1024, 2048]],
  [512, range(1024, 4096, 1024)],
  [1024, range(2048, 8192, 1024)],
  [2048, range(4096, 16384, 1024)],
  [4096, range(8192, 30720, 1024)],
  [8192, range(16384, 61440, 4096)],
  [16384, range(32768, 122880, 8192)],
];

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

/** "1024", "1 vCPU", "0.25 vcpu" -> cpu units, stored as AWS does: an integer string. */
export function cpuUnits(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const s = String(v).trim();
  if (/^\d+$/.test(s)) return Number(s);
  const m = /^(\d+(?:\.\d+)?)\s*vcpu$/i.exec(s);
  if (m) return Math.round(Number(m[1]) * 1024);
  throw clientError(`Invalid 'cpu' setting for task: ${s}.`);
}

/** "512", "1 GB", "2GB" -> MiB. */
export function memoryMiB(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const s = String(v).trim();
  if (/^\d+$/.test(s)) return Number(s);
  const m = /^(\d+(?:\.\d+)?)\s*gb$/i.exec(s);
  if (m) return Math.round(Number(m[1]) * 1024);
  throw clientError(`Invalid 'memory' setting for task: ${s}.`);
}

const familyKey = (region: string, family: string) => `${region}|${family}`;

export function taskDefArn(ecs: Ecs, region: string, family: string, revision: number): string {
  return ecs.sim.arn("ecs", `task-definition/${family}:${revision}`, region);
}

/** family, family:revision or ARN; a bare family means its latest ACTIVE revision. */
export function findTaskDef(ecs: Ecs, call: Call, ref: string): TaskDefRec | undefined {
  let region = call.region;
  let spec = ref;
  if (ref.startsWith("arn:")) {
    const p = parseArn(ref);
    if (!p?.resource.startsWith("task-definition/")) return undefined;
    region = p.region;
    spec = p.resource.slice("task-definition/".length);
  }
  const [family, rev] = spec.split(":");
  if (rev !== undefined) {
    if (!/^\d+$/.test(rev)) return undefined;
    return ecs.store.data.taskDefs[taskDefArn(ecs, region, family, Number(rev))];
  }
  for (let r = ecs.store.data.revisions[familyKey(region, family)] ?? 0; r > 0; r--) {
    const td = ecs.store.data.taskDefs[taskDefArn(ecs, region, family, r)];
    if (td?.def.status === "ACTIVE") return td;
  }
  return undefined;
}

/** Why a task definition cannot run on Fargate, in ECS's words; undefined when it can. */
export function fargateProblem(def: Json): string | undefined {
  if (def.networkMode !== "awsvpc") return "Fargate only supports network mode ‘awsvpc’.";
  if (def.cpu === undefined) return "Fargate requires that 'cpu' be defined at the task level.";
  if (def.memory === undefined) return "Fargate requires that 'memory' be defined at the task level.";
  const sizes = FARGATE_SIZES.find(([c]) => c === Number(def.cpu))?.[1];
  if (!sizes?.includes(Number(def.memory)))
    return `No Fargate configuration exists for given values: ${def.cpu} CPU, ${def.memory} memory. See the Amazon ECS documentation for the valid values.`;
  for (const c of def.containerDefinitions as Json[]) {
    if (c.privileged) return "Fargate does not support privileged containers.";
    if (c.logConfiguration?.logDriver === "awslogs") {
      if (!def.executionRoleArn)
        return "Fargate requires task definition to have execution role ARN to support log driver awslogs.";
      if (!c.logConfiguration.options?.["awslogs-stream-prefix"])
        return "Log driver awslogs option 'awslogs-stream-prefix' should not be null or empty.";
    }
  }
  for (const v of (def.volumes ?? []) as Json[])
    if (v.host?.sourcePath) return "Fargate does not support host volumes with a sourcePath.";
  return undefined;
}

/** ECS's rules for an EFS volume: an access point or IAM authorization needs transit encryption and the access point's root. */
function checkEfsVolume(v: Json): void {
  const efs = v?.efsVolumeConfiguration as Json | undefined;
  if (!efs) return;
  if (typeof efs.fileSystemId !== "string" || !efs.fileSystemId)
    throw clientError(
      "Invalid request provided: Create TaskDefinition: fileSystemId should not be null or empty.",
    );
  const auth = (efs.authorizationConfig ?? {}) as Json;
  const encrypted = efs.transitEncryption === "ENABLED";
  if ((auth.accessPointId || auth.iam === "ENABLED") && !encrypted)
    throw clientError(
      "Invalid request provided: Create TaskDefinition: Transit encryption must be enabled when using an EFS access point or IAM authorization.",
    );
  if (auth.accessPointId && efs.rootDirectory !== undefined && efs.rootDirectory !== "/")
    throw clientError(
      'Invalid request provided: Create TaskDefinition: When using an EFS access point, the root directory must either be set to "/" or be omitted.',
    );
}

function normalizeContainer(
  c: Json,
  networkMode: string,
  taskMemory: number | undefined,
  fargate: boolean,
): Json {
  if (typeof c !== "object" || c === null) throw clientError("Container definition must be an object.");
  if (!c.name || typeof c.name !== "string") throw clientError("Container.name should not be null or empty.");
  if (!NAME.test(c.name))
    throw clientError(
      `Container name '${c.name}' can only contain up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores.`,
    );
  if (!c.image || typeof c.image !== "string")
    throw clientError("Container.image should not be null or empty.");
  for (const k of ["command", "entryPoint"])
    if (c[k] !== undefined && (!Array.isArray(c[k]) || c[k].some((s: unknown) => typeof s !== "string")))
      throw clientError(`Container.${k} must be a list of strings.`);
  for (const e of (c.environment ?? []) as Json[])
    if (!e?.name || typeof e.name !== "string")
      throw clientError("Environment variable names must not be empty.");
  if (!fargate && taskMemory === undefined && c.memory === undefined && c.memoryReservation === undefined)
    throw clientError(
      `Invalid setting for container '${c.name}'. At least one of 'memory' or 'memoryReservation' must be specified.`,
    );
  if (c.healthCheck) checkHealth(c.name, c.healthCheck);
  if (c.logConfiguration?.logDriver === "awslogs" && !c.logConfiguration.options?.["awslogs-group"])
    throw clientError("Log driver awslogs option 'awslogs-group' should not be null or empty.");
  const portMappings = ((c.portMappings ?? []) as Json[]).map((p) => {
    if (!Number.isInteger(p.containerPort))
      throw clientError("Container port mapping requires a containerPort.");
    const bound = networkMode === "awsvpc" || networkMode === "host";
    if (bound && p.hostPort !== undefined && p.hostPort !== p.containerPort)
      throw clientError(
        `When networkMode=${networkMode}, the host ports and container ports in port mappings must match.`,
      );
    return { ...p, hostPort: p.hostPort ?? (bound ? p.containerPort : 0), protocol: p.protocol ?? "tcp" };
  });
  return {
    ...c,
    cpu: c.cpu ?? 0,
    portMappings,
    essential: c.essential ?? true,
    environment: c.environment ?? [],
    environmentFiles: c.environmentFiles ?? [],
    mountPoints: c.mountPoints ?? [],
    volumesFrom: c.volumesFrom ?? [],
    systemControls: c.systemControls ?? [],
  };
}

/** dependsOn must name other containers of the task, with conditions that can hold. */
function checkDependencies(defs: Json[]): void {
  const byName = new Map(defs.map((c) => [c.name, c]));
  for (const c of defs)
    for (const d of (c.dependsOn ?? []) as Json[]) {
      const dep = byName.get(d?.containerName);
      if (!dep || dep === c)
        throw clientError(`Container '${c.name}' depends on an unknown container '${d?.containerName}'.`);
      if (!(CONDITIONS as readonly string[]).includes(d.condition))
        throw clientError(`Invalid dependency condition '${d.condition}' for container '${c.name}'.`);
      if ((d.condition === "COMPLETE" || d.condition === "SUCCESS") && dep.essential)
        throw clientError(
          `Dependency condition ${d.condition} can not be set on essential container '${dep.name}'.`,
        );
      if (d.condition === "HEALTHY" && !dep.healthCheck)
        throw clientError(`Dependency condition HEALTHY requires a health check on container '${dep.name}'.`);
    }
}

/** ECS's limits on container health checks (seconds, retries). */
function checkHealth(name: string, hc: Json): void {
  const bad = (what: string) => clientError(`Invalid 'healthCheck' setting for container '${name}'. ${what}`);
  if (
    !Array.isArray(hc.command) ||
    !hc.command.length ||
    hc.command.some((s: unknown) => typeof s !== "string")
  )
    throw bad("'command' must be a non-empty list of strings.");
  const limits: [string, number, number][] = [
    ["interval", 5, 300],
    ["timeout", 2, 120],
    ["retries", 1, 10],
    ["startPeriod", 0, 300],
  ];
  for (const [k, min, max] of limits)
    if (hc[k] !== undefined && !(Number.isInteger(hc[k]) && hc[k] >= min && hc[k] <= max))
      throw bad(`'${k}' must be between ${min} and ${max}.`);
}

/** The capability attributes ECS derives from a task definition. */
function requiresAttributes(def: Json): Json[] {
  const names = new Set<string>(["com.amazonaws.ecs.capability.docker-remote-api.1.18"]);
  if (def.networkMode === "awsvpc") names.add("ecs.capability.task-eni");
  for (const c of def.containerDefinitions as Json[]) {
    if (c.logConfiguration?.logDriver === "awslogs") {
      names.add("com.amazonaws.ecs.capability.logging-driver.awslogs");
      names.add("com.amazonaws.ecs.capability.docker-remote-api.1.19");
      if (def.executionRoleArn) names.add("ecs.capability.execution-role-awslogs");
    }
    if (c.stopTimeout !== undefined) names.add("ecs.capability.container-ordering");
  }
  return [...names].map((name) => ({ name }));
}

export function taskDefHandlers(ecs: Ecs): Record<string, JsonHandler> {
  const all = () => Object.values(ecs.store.data.taskDefs);
  const inRegion = (td: TaskDefRec, call: Call) => parseArn(td.def.taskDefinitionArn)?.region === call.region;

  return {
    RegisterTaskDefinition(input, call) {
      const family = str(input, "family");
      if (!family) throw clientError("Family can not be blank.");
      if (!NAME.test(family))
        throw clientError(
          "Family can only contain up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores.",
        );
      const containers = list(input, "containerDefinitions");
      if (!containers?.length) throw clientError("Container definitions can not be empty.");
      if (containers.length > 10)
        throw clientError("Too many containers: a task definition can have at most 10.");
      const requires = strList(input, "requiresCompatibilities") ?? [];
      for (const r of requires)
        if (!["EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"].includes(r))
          throw clientError(`Invalid requiresCompatibilities value: ${r}.`);
      const fargate = requires.includes("FARGATE");
      // like ECS on Linux, no networkMode means bridge (which Fargate then rejects)
      const networkMode = oneOf(input, "networkMode", NETWORK_MODES) ?? "bridge";
      const cpu = cpuUnits(input.cpu);
      const memory = memoryMiB(input.memory);
      const defs = containers.map((c) => normalizeContainer(c, networkMode, memory, fargate));
      const names = new Set(defs.map((c) => c.name));
      if (names.size !== defs.length)
        throw clientError("Container names must be unique within a task definition.");
      if (!defs.some((c) => c.essential))
        throw clientError("A task definition must have at least one essential container.");
      checkDependencies(defs);
      const volumes = list(input, "volumes") ?? [];
      for (const v of volumes) checkEfsVolume(v);
      for (const c of defs)
        for (const m of c.mountPoints as Json[])
          if (!volumes.some((v) => v.name === m.sourceVolume))
            throw clientError(
              `Invalid 'mountPoints' setting for container '${c.name}': unknown volume '${m.sourceVolume}'.`,
            );
      const tagList = tags(input) ?? [];

      const key = familyKey(call.region, family);
      const revision = (ecs.store.data.revisions[key] ?? 0) + 1;
      const def: Json = {
        taskDefinitionArn: taskDefArn(ecs, call.region, family, revision),
        containerDefinitions: defs,
        family,
        taskRoleArn: str(input, "taskRoleArn"),
        executionRoleArn: str(input, "executionRoleArn"),
        networkMode,
        revision,
        volumes,
        status: "ACTIVE",
        placementConstraints: list(input, "placementConstraints") ?? [],
        requiresCompatibilities: requires.length ? requires : undefined,
        cpu: cpu === undefined ? undefined : String(cpu),
        memory: memory === undefined ? undefined : String(memory),
        pidMode: str(input, "pidMode"),
        ipcMode: str(input, "ipcMode"),
        runtimePlatform: obj(input, "runtimePlatform"),
        ephemeralStorage: obj(input, "ephemeralStorage"),
        proxyConfiguration: obj(input, "proxyConfiguration"),
        registeredAt: nowSec(),
        registeredBy: `arn:aws:iam::${call.account}:root`,
      };
      const problem = fargateProblem(def);
      if (fargate && problem) throw clientError(problem);
      def.requiresAttributes = requiresAttributes(def);
      def.compatibilities = problem ? ["EC2"] : ["EC2", "FARGATE"];
      const rec: TaskDefRec = { def: JSON.parse(JSON.stringify(def)), tags: tagList };
      ecs.store.data.revisions[key] = revision;
      ecs.store.data.taskDefs[def.taskDefinitionArn] = rec;
      ecs.store.changed();
      return { taskDefinition: snapshot(rec.def), tags: tagList };
    },

    DescribeTaskDefinition(input, call) {
      const ref = str(input, "taskDefinition");
      if (!ref) throw clientError("Unable to describe task definition.");
      const td = findTaskDef(ecs, call, ref);
      if (!td) throw clientError("Unable to describe task definition.");
      const include = strList(input, "include") ?? [];
      return { taskDefinition: snapshot(td.def), tags: include.includes("TAGS") ? td.tags : undefined };
    },

    ListTaskDefinitions(input, call) {
      const family = str(input, "familyPrefix");
      const status =
        oneOf(input, "status", ["ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"] as const) ?? "ACTIVE";
      const sort = oneOf(input, "sort", ["ASC", "DESC"] as const) ?? "ASC";
      const items = all()
        .filter(
          (td) => inRegion(td, call) && td.def.status === status && (!family || td.def.family === family),
        )
        .sort((a, b) => a.def.family.localeCompare(b.def.family) || a.def.revision - b.def.revision)
        .map((td) => td.def.taskDefinitionArn as string);
      if (sort === "DESC") items.reverse();
      const { page, nextToken } = paginate(items, input);
      return { taskDefinitionArns: page, nextToken };
    },

    ListTaskDefinitionFamilies(input, call) {
      const prefix = str(input, "familyPrefix") ?? "";
      const status = oneOf(input, "status", ["ACTIVE", "INACTIVE", "ALL"] as const) ?? "ACTIVE";
      const active = new Map<string, boolean>();
      for (const td of all()) {
        if (!inRegion(td, call) || !td.def.family.startsWith(prefix)) continue;
        active.set(td.def.family, (active.get(td.def.family) ?? false) || td.def.status === "ACTIVE");
      }
      const families = [...active]
        .filter(([, a]) => status === "ALL" || (status === "ACTIVE" ? a : !a))
        .map(([f]) => f)
        .sort();
      const { page, nextToken } = paginate(families, input);
      return { families: page, nextToken };
    },

    DeregisterTaskDefinition(input, call) {
      const ref = str(input, "taskDefinition");
      if (!ref) throw invalidParam("TaskDefinition can not be blank.");
      const spec = ref.startsWith("arn:") ? (parseArn(ref)?.resource ?? "") : ref;
      if (!/:\d+$/.test(spec)) throw clientError("Revision is missing.");
      const td = findTaskDef(ecs, call, ref);
      if (!td) throw clientError("The specified task definition does not exist.");
      if (td.def.status === "ACTIVE") {
        td.def.status = "INACTIVE";
        td.def.deregisteredAt = nowSec();
        ecs.store.changed();
      }
      return { taskDefinition: snapshot(td.def) };
    },
  };
}
