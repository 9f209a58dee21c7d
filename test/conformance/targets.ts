// The engines the conformance suite runs against. A target is: what it is, how to start it, and
// the DOCKER_HOST clients use. The first one is the reference; every other target's transcripts
// are compared with its. Adding a backend (ECS, Lambda on the AWS simulator, ...) = one entry here.
import { removeTaskContainers, simEnv, startAwsDaemon, startSim } from "../aws-backend-helpers.js";
import { BUSYBOX, cleanup, dockerOk, startDaemon, type Daemon } from "../helpers.js";

export interface RunningTarget {
  /** DOCKER_HOST for the docker CLI and the SDKs. */
  host: string;
  stop(): Promise<void>;
}

export interface Target {
  /** Short key used in known-differences.yaml and the report. */
  id: string;
  /** What it is, for the report. */
  title: string;
  start(): Promise<RunningTarget>;
  /**
   * Scenarios not run on this target, each with why: only for outcomes that vary from run to run
   * there (a known difference must be exact), so they are reported as not run, never as passing.
   */
  notRun?: Record<string, string>;
}

function refHost(): string {
  const host = process.env.SOCKERLESS_REF_DOCKER_HOST;
  if (!host)
    throw new Error(
      'SOCKERLESS_REF_DOCKER_HOST is not set: the conformance run needs the reference engine (eval "$(bash scripts/test-env.sh)")',
    );
  return host;
}

/** A daemon on a fresh data root, removed again on stop (after `then`, e.g. the simulator's end). */
function running(d: Daemon, then = async () => {}): RunningTarget {
  return {
    host: d.host,
    stop: async () => {
      await d.stop();
      cleanup(d);
      await then();
    },
  };
}

/** `sockerless serve` with extra flags. */
const sockerless = async (extra: string[]) => running(await startDaemon(undefined, extra));

/**
 * `sockerless serve --backend ecs|lambda` on its own AWS simulator (in this process), whose
 * workloads run in the reference engine, as test/backend-ecs.test.ts and backend-lambda.test.ts do.
 */
async function onAwsSimulator(backend: "ecs" | "lambda", flags: string[]): Promise<RunningTarget> {
  const sim = await startSim();
  try {
    const d = await startAwsDaemon(backend, flags, undefined, simEnv(sim));
    const t = running(d, () => sim.cleanup());
    // the first workload is slow (the simulator pushes the image, creates the cluster or function):
    // run one before the scenarios so their CLI timeouts measure the scenario, not the set-up
    try {
      await dockerOk(d.host, ["pull", "-q", BUSYBOX], { timeoutMs: 180_000 });
      await dockerOk(d.host, ["run", "--rm", "--network", "none", BUSYBOX, "true"], { timeoutMs: 180_000 });
    } catch (e) {
      await t.stop();
      throw e;
    }
    return t;
  } catch (e) {
    await sim.cleanup();
    throw e;
  }
}

const ECS_CLUSTER = `conformance-${process.pid}`;

export const targets: Target[] = [
  {
    id: "engine",
    title: "the reference Docker Engine directly (Debian docker.io 20.10, API 1.41, --bridge=none)",
    start: async () => ({ host: refHost(), stop: async () => {} }),
  },
  {
    id: "docker",
    title: "Sockerless, docker backend, in front of the reference engine",
    start: () => sockerless(["--backend", "docker", "--docker-host", refHost()]),
  },
  {
    id: "memory",
    title: "Sockerless, memory backend (in-process sandbox)",
    start: () => sockerless(["--backend", "memory"]),
  },
  {
    id: "ecs",
    title: "Sockerless, ecs backend: Fargate tasks on the AWS simulator, run in the reference engine",
    start: async () => {
      const t = await onAwsSimulator("ecs", [
        ...["--ecs-cluster", ECS_CLUSTER],
        ...["--ecs-execution-role-arn", "arn:aws:iam::000000000000:role/ecsTaskExecutionRole"],
      ]);
      // the simulator keeps stopped tasks' containers in the reference engine, as ECS keeps stopped tasks
      return { ...t, stop: () => t.stop().then(() => removeTaskContainers(ECS_CLUSTER)) };
    },
  },
  {
    id: "lambda",
    title: "Sockerless, lambda backend: image functions on the AWS simulator, run in the reference engine",
    start: () =>
      onAwsSimulator("lambda", [
        ...["--lambda-role-arn", "arn:aws:iam::000000000000:role/sockerless-lambda"],
        ...["--lambda-function-prefix", `conformance-${process.pid}-`],
      ]),
  },
];
