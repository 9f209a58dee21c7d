import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startAwsSimulator, type RunningSimulator, type SimOptions } from "../src/index.js";

/** The engine that runs workloads: the reference dockerd from scripts/test-env.sh. Fails, never skips. */
export function dockerHost(): string {
  const h = process.env.SOCKERLESS_REF_DOCKER_HOST;
  if (!h)
    throw new Error(
      "SOCKERLESS_REF_DOCKER_HOST is not set: run the suites through `npm test` (scripts/test-env.sh)",
    );
  return h;
}

export const REGISTRY = process.env.SOCKERLESS_TEST_REGISTRY ?? "127.0.0.1:5000";
export const BUSYBOX = `${REGISTRY}/busybox:latest`;

export interface TestSim extends RunningSimulator {
  dataDir: string;
  /** config for any @aws-sdk/client-* constructor */
  client: {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  /** env for the aws CLI */
  cliEnv: Record<string, string>;
  restart(): Promise<TestSim>;
  cleanup(): Promise<void>;
}

/** Start the simulator in-process on a free port with a fresh data dir. */
export async function startSim(
  dataDir = mkdtempSync(path.join(os.tmpdir(), "sim-aws-")),
  port = 0,
  extra: Partial<SimOptions> = {},
): Promise<TestSim> {
  const running = await startAwsSimulator({
    host: "127.0.0.1",
    port,
    dataDir,
    dockerHost: dockerHost(),
    account: "000000000000",
    region: "us-east-1",
    ...extra,
  });
  const client = {
    endpoint: running.url,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  };
  const t: TestSim = {
    ...running,
    dataDir,
    client,
    cliEnv: {
      AWS_ENDPOINT_URL: running.url,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_PAGER: "",
    },
    async restart() {
      const port_ = Number(new URL(running.url).port);
      await running.close();
      return startSim(dataDir, port_, extra);
    },
    async cleanup() {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
      await removeRegistryImages(running);
    },
  };
  return t;
}

/**
 * The images tasks and functions pulled into the engine from this simulator's ECR: its registry
 * (host:port of its URL) is gone with its data dir, so they would only pile up on the engine.
 */
async function removeRegistryImages(running: RunningSimulator): Promise<void> {
  const prefix = `${new URL(running.url).host}/`;
  const docker = running.sim.docker;
  for (const img of await docker.listImages({ digests: true })) {
    const refs = [...(img.RepoTags ?? []), ...(img.RepoDigests ?? [])];
    if (!refs.some((r) => r.startsWith(prefix))) continue;
    await docker
      .getImage(img.Id)
      .remove({ force: true })
      .catch(() => undefined); // still used by a running container: it goes with that container
  }
}
