// The engines the conformance suite runs against. A target is: what it is, how to start it, and
// the DOCKER_HOST clients use. The first one is the reference; every other target's transcripts
// are compared with its. Adding a backend (ECS, Lambda on the AWS simulator, ...) = one entry here.
import { cleanup, startDaemon } from "../helpers.js";

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
}

function refHost(): string {
  const host = process.env.SOCKERLESS_REF_DOCKER_HOST;
  if (!host)
    throw new Error(
      'SOCKERLESS_REF_DOCKER_HOST is not set: the conformance run needs the reference engine (eval "$(bash scripts/test-env.sh)")',
    );
  return host;
}

/** `sockerless serve` with extra flags, on a fresh data root, removed again on stop. */
async function sockerless(extra: string[]): Promise<RunningTarget> {
  const d = await startDaemon(undefined, extra);
  return {
    host: d.host,
    stop: async () => {
      await d.stop();
      cleanup(d);
    },
  };
}

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
];
