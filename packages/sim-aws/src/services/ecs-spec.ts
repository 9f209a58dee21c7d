import type Docker from "dockerode";
import type { Json, TaskRec } from "./ecs-model.js";

/** What the engine runs for each container of a task: docker create options from the task definition + overrides. */

/** Marks engine containers as belonging to a simulated task, so a restarted simulator finds them. */
export const LABEL_TASK = "sockerless.sim-aws.ecs.task-id";
export const LABEL_CONTAINER = "com.amazonaws.ecs.container-name";

export interface AwsLogs {
  group: string;
  stream: string;
  region: string;
  /** awslogs-create-group: "true" */
  createGroup: boolean;
}

export interface ContainerSpec {
  name: string;
  image: string;
  essential: boolean;
  /** seconds between SIGTERM and SIGKILL on stop */
  stopTimeout: number;
  dependsOn: { containerName: string; condition: string }[];
  /** seconds to wait for dependsOn conditions */
  startTimeout: number;
  tty: boolean;
  awslogs?: AwsLogs;
  create: Docker.ContainerCreateOptions;
  networkBindings: Json[];
}

export interface TaskSpec {
  containers: ContainerSpec[];
  /** task-scoped docker volumes, removed with the task */
  volumes: string[];
  /** why the task cannot start (a missing resource, a feature the simulator lacks), in AWS's error style */
  cannotStart?: string;
}

export function engineName(rec: TaskRec, family: string, revision: number, container: string): string {
  return `ecs-${family}-${revision}-${container}-${rec.id}`;
}

/** The simulator as a task reaches it: over host networking, on loopback. */
export function taskFacingUrl(simUrl: string): string {
  const u = new URL(simUrl);
  if (u.hostname === "0.0.0.0" || u.hostname === "[::]") u.hostname = "127.0.0.1";
  return u.origin;
}

/** The task's effective environment for one container: ECS's variables, then the definition's, then overrides. */
function environment(rec: TaskRec, td: Json, cd: Json, co: Json | undefined, base: string): string[] {
  const fargate = rec.task.launchType === "FARGATE";
  const env = new Map<string, string>([
    ["AWS_REGION", rec.region],
    ["AWS_DEFAULT_REGION", rec.region],
    ["AWS_EXECUTION_ENV", fargate ? "AWS_ECS_FARGATE" : "AWS_ECS_EC2"],
    // SDKs in the task talk to the simulator, as LocalStack does for its workloads
    ["AWS_ENDPOINT_URL", base],
    ["ECS_CONTAINER_METADATA_URI", `${base}/_ecs/v3/${rec.id}/${cd.name}`],
    ["ECS_CONTAINER_METADATA_URI_V4", `${base}/_ecs/v4/${rec.id}/${cd.name}`],
  ]);
  if (rec.task.overrides?.taskRoleArn ?? td.taskRoleArn)
    env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", `${base}/_ecs/credentials/${rec.id}`);
  for (const e of [...(cd.environment ?? []), ...(co?.environment ?? [])] as Json[])
    env.set(String(e.name), String(e.value ?? ""));
  return [...env].map(([k, v]) => `${k}=${v}`);
}

function awslogsOf(rec: TaskRec, cd: Json): AwsLogs | undefined {
  const lc = cd.logConfiguration;
  if (lc?.logDriver !== "awslogs") return undefined;
  const o = (lc.options ?? {}) as Record<string, string>;
  const prefix = o["awslogs-stream-prefix"];
  return {
    group: o["awslogs-group"],
    // without a prefix the awslogs driver names the stream after the engine container id (filled in at start)
    stream: prefix ? `${prefix}/${cd.name}/${rec.id}` : "",
    region: o["awslogs-region"] ?? rec.region,
    createGroup: String(o["awslogs-create-group"] ?? "").toLowerCase() === "true",
  };
}

/** Resolves an efsVolumeConfiguration to the host directory to bind-mount (ecs-efs.ts). */
export type EfsResolver = (cfg: Json) => { source: string } | { error: string };

export function taskSpec(rec: TaskRec, td: Json, simUrl: string, efs: EfsResolver): TaskSpec {
  const base = taskFacingUrl(simUrl);
  const overrides = rec.task.overrides ?? {};
  const taskMemory = Number(overrides.memory ?? td.memory) || undefined;
  const taskCpu = Number(overrides.cpu ?? td.cpu) || undefined;
  const out: TaskSpec = { containers: [], volumes: [] };

  const volumeSources = new Map<string, Json>();
  for (const v of (td.volumes ?? []) as Json[]) {
    if (v.efsVolumeConfiguration) {
      const src = efs(v.efsVolumeConfiguration as Json);
      if ("error" in src) out.cannotStart ??= src.error;
      else volumeSources.set(v.name, { Type: "bind", Source: src.source });
    } else if (v.fsxWindowsFileServerVolumeConfiguration || v.configuredAtLaunch) {
      out.cannotStart = `ResourceInitializationError: volume '${v.name}': only host, bind, docker and EFS volumes are supported by the simulator`;
    } else if (v.host?.sourcePath) {
      volumeSources.set(v.name, { Type: "bind", Source: v.host.sourcePath });
    } else {
      const dv = v.dockerVolumeConfiguration;
      const shared = dv?.scope === "shared";
      const name = shared ? v.name : `ecs-${rec.id}-${v.name}`;
      if (!shared) out.volumes.push(name);
      volumeSources.set(v.name, {
        Type: "volume",
        Source: name,
        VolumeOptions: dv
          ? { Labels: dv.labels, DriverConfig: { Name: dv.driver ?? "local", Options: dv.driverOpts } }
          : undefined,
      });
    }
  }

  for (const cd of td.containerDefinitions as Json[]) {
    const co = (overrides.containerOverrides ?? []).find((o: Json) => o.name === cd.name) as Json | undefined;
    if (cd.secrets?.length || cd.environmentFiles?.length || cd.repositoryCredentials)
      out.cannotStart = `ResourceInitializationError: unable to pull secrets or registry auth for container '${cd.name}': the simulator has no Secrets Manager, SSM Parameter Store or S3 to read secrets, environment files or repository credentials from`;
    if ((cd.volumesFrom ?? []).length)
      out.cannotStart = `CannotCreateContainerError: container '${cd.name}': volumesFrom is not supported by the simulator`;
    const memory = co?.memory ?? cd.memory ?? taskMemory;
    const memoryReservation = co?.memoryReservation ?? cd.memoryReservation;
    const cpu = co?.cpu ?? cd.cpu;
    const lp = (cd.linuxParameters ?? {}) as Json;
    const hc = cd.healthCheck as Json | undefined;
    const create: Docker.ContainerCreateOptions = {
      name: engineName(rec, td.family, td.revision, cd.name),
      Image: cd.image,
      Cmd: co?.command ?? cd.command,
      Entrypoint: cd.entryPoint,
      Env: environment(rec, td, cd, co, base),
      WorkingDir: cd.workingDirectory,
      User: cd.user,
      Tty: cd.pseudoTerminal ?? false,
      OpenStdin: cd.interactive ?? false,
      Labels: {
        ...(cd.dockerLabels ?? {}),
        "com.amazonaws.ecs.cluster": rec.task.clusterArn,
        [LABEL_CONTAINER]: cd.name,
        "com.amazonaws.ecs.task-arn": rec.task.taskArn,
        "com.amazonaws.ecs.task-definition-family": td.family,
        "com.amazonaws.ecs.task-definition-version": String(td.revision),
        [LABEL_TASK]: rec.id,
      },
      Healthcheck: hc?.command
        ? {
            Test: hc.command,
            Interval: (hc.interval ?? 30) * 1e9,
            Timeout: (hc.timeout ?? 5) * 1e9,
            Retries: hc.retries ?? 3,
            StartPeriod: (hc.startPeriod ?? 0) * 1e9,
          }
        : undefined,
      HostConfig: {
        // the engine has no bridge network; host networking also lets the task reach the simulator on loopback
        NetworkMode: "host",
        // the VPC resolver (Docker honours Dns with host networking: resolv.conf is the container's own file)
        Dns: rec.dnsServer ? [rec.dnsServer] : undefined,
        Memory: memory ? memory * 1024 * 1024 : undefined,
        MemoryReservation: memoryReservation ? memoryReservation * 1024 * 1024 : undefined,
        CpuShares: cpu ? Math.max(2, cpu) : undefined,
        NanoCpus: taskCpu ? Math.round((taskCpu / 1024) * 1e9) : undefined,
        ReadonlyRootfs: cd.readonlyRootFilesystem ?? false,
        Privileged: cd.privileged ?? false,
        Init: lp.initProcessEnabled,
        CapAdd: lp.capabilities?.add,
        CapDrop: lp.capabilities?.drop,
        ShmSize: lp.sharedMemorySize ? lp.sharedMemorySize * 1024 * 1024 : undefined,
        Tmpfs: lp.tmpfs
          ? Object.fromEntries(
              (lp.tmpfs as Json[]).map((t) => [
                t.containerPath,
                [`size=${t.size}m`, ...(t.mountOptions ?? [])].join(","),
              ]),
            )
          : undefined,
        Ulimits: (cd.ulimits as Json[] | undefined)?.map((u) => ({
          Name: u.name,
          Soft: u.softLimit,
          Hard: u.hardLimit,
        })),
        Mounts: (cd.mountPoints as Json[]).map((m) => ({
          ...volumeSources.get(m.sourceVolume),
          Target: m.containerPath,
          ReadOnly: m.readOnly ?? false,
        })) as Docker.MountSettings[],
      },
    };
    out.containers.push({
      name: cd.name,
      image: cd.image,
      essential: cd.essential !== false,
      stopTimeout: cd.stopTimeout ?? 30,
      dependsOn: cd.dependsOn ?? [],
      startTimeout: cd.startTimeout ?? 180,
      tty: cd.pseudoTerminal ?? false,
      awslogs: awslogsOf(rec, cd),
      create,
      // host networking: a container port is bound on the host as is
      networkBindings:
        td.networkMode === "awsvpc"
          ? []
          : (cd.portMappings as Json[]).map((p) => ({
              bindIP: "0.0.0.0",
              containerPort: p.containerPort,
              hostPort: p.containerPort,
              protocol: p.protocol,
            })),
    });
  }
  return out;
}
