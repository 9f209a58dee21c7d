import type {
  MountPoint as EcsMountPoint,
  RegisterTaskDefinitionCommandInput,
  Volume,
} from "@aws-sdk/client-ecs";
import type { ContainerRecord } from "@sockerless/engine";
import { type AgentWrap, toTagList, type Tags } from "@sockerless/cloud-aws";
import type { EcsSettings } from "./settings.js";

/** One Docker container = one task definition family; each `docker start` runs a task of it. */

export const CONTAINER_NAME = "main";
export const familyOf = (id: string) => `sockerless-${id.slice(0, 12)}`;
/** awslogs names a stream <prefix>/<container name>/<task id>. */
export const streamPrefixOf = (id: string) => id.slice(0, 12);

/** Fargate's task sizes: cpu units -> memory MiB it allows. */
const FARGATE: [number, number[]][] = [
  [256, [512, 1024, 2048]],
  [512, range(1024, 4096)],
  [1024, range(2048, 8192)],
  [2048, range(4096, 16384)],
  [4096, range(8192, 30720)],
];

function range(from: number, to: number): number[] {
  const out = [];
  for (let m = from; m <= to; m += 1024) out.push(m);
  return out;
}

/** The smallest Fargate size that holds `HostConfig.Memory`. */
export function fargateSize(
  memoryBytes: number | undefined,
  s: EcsSettings,
): { cpu: string; memory: string } {
  if (!memoryBytes) return { cpu: s.cpu, memory: s.memory };
  const mib = Math.ceil(memoryBytes / 1024 / 1024);
  for (const [cpu, mems] of FARGATE) {
    const m = mems.find((x) => x >= mib);
    if (m) return { cpu: String(cpu), memory: String(m) };
  }
  throw new Error(`a memory limit of ${mib} MiB is more than a Fargate task can have (30720 MiB)`);
}

/**
 * Agent options for the container's network namespaces: Fargate task definitions cannot set
 * dnsSearchDomains, so the agent adds them to resolv.conf and short container names resolve.
 */
export const dnsSearchOptions = (domains: string[]) => domains.flatMap((d) => ["--dns-search", d]);

/** The search domains a registered entrypoint carries (to notice networks joined since). */
export function dnsSearchOf(entrypoint: string[] | undefined): string[] {
  const e = entrypoint ?? [];
  const end = e.length - 2; // the `--` before argv[0]
  return e.flatMap((x, i) => (x === "--dns-search" && i + 1 < end ? [e[i + 1]] : []));
}

export function taskDefinitionInput(
  rec: ContainerRecord,
  image: string,
  s: EcsSettings,
  tags: Tags,
  storage: { volumes: Volume[]; mountPoints: EcsMountPoint[] },
  agent: AgentWrap,
): RegisterTaskDefinitionCommandInput {
  const memoryBytes =
    typeof rec.HostConfig.Memory === "number" && rec.HostConfig.Memory > 0
      ? rec.HostConfig.Memory
      : undefined;
  const size = fargateSize(memoryBytes, s);
  const stop = typeof rec.Config.StopTimeout === "number" ? rec.Config.StopTimeout : 10;
  return {
    family: familyOf(rec.Id),
    requiresCompatibilities: ["FARGATE"],
    networkMode: "awsvpc",
    cpu: size.cpu,
    memory: size.memory,
    executionRoleArn: s.executionRoleArn,
    taskRoleArn: s.taskRoleArn,
    volumes: storage.volumes,
    containerDefinitions: [
      {
        name: CONTAINER_NAME,
        image,
        essential: true,
        // the agent wraps the argv the engine merged from the image and the request, as dockerd does
        entryPoint: agent.entrypoint,
        command: agent.command,
        environment: [
          ...(rec.Config.Env ?? [])
            .filter((e) => e.includes("="))
            .map((e) => ({ name: e.slice(0, e.indexOf("=")), value: e.slice(e.indexOf("=") + 1) })),
          ...Object.entries(agent.env).map(([name, value]) => ({ name, value })),
        ],
        workingDirectory: rec.Config.WorkingDir || undefined,
        // the agent starts as root and runs the main process as the container's user, so that
        // `docker exec -u root` and --add-host work as on dockerd
        user: rec.Config.User ? "0" : undefined,
        readonlyRootFilesystem: rec.HostConfig.ReadonlyRootfs === true || undefined,
        pseudoTerminal: !!rec.Config.Tty,
        interactive: !!rec.Config.OpenStdin,
        // ECS lets a container take 2..120 s between SIGTERM and SIGKILL
        stopTimeout: Math.min(120, Math.max(2, stop)),
        memory: memoryBytes ? Math.ceil(memoryBytes / 1024 / 1024) : undefined,
        dockerLabels: rec.Config.Labels ?? undefined,
        mountPoints: storage.mountPoints,
        logConfiguration: {
          logDriver: "awslogs",
          options: {
            "awslogs-group": s.logGroup,
            "awslogs-region": s.region,
            "awslogs-stream-prefix": streamPrefixOf(rec.Id),
          },
        },
      },
    ],
    tags: toTagList(tags),
  };
}
