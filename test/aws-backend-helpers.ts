// Shared set-up of the ECS and Lambda backend suites: the AWS simulator in-process (running
// workloads in the reference engine), and `sockerless serve --backend X` pointed at it.
import net from "node:net";
import { startSim, type TestSim } from "../packages/sim-aws/test/helpers.js";
import assert from "node:assert/strict";
import { BUSYBOX, docker, dockerOk, startDaemon, type Daemon } from "./helpers.js";

export type { TestSim };
export { startSim };

/** AWS_* for a daemon process: the simulator's endpoint and test credentials. */
export const simEnv = (sim: TestSim): Record<string, string> => ({ ...sim.cliEnv, AWS_REGION: "us-east-1" });

/** Point this process (and the daemons it starts) at the simulator. */
export function useSim(sim: TestSim): void {
  Object.assign(process.env, simEnv(sim));
}

/** env: for a daemon on a simulator other than the one useSim chose (several in one process). */
export function startAwsDaemon(
  backend: "ecs" | "lambda",
  extra: string[] = [],
  dataRoot?: string,
  env: Record<string, string> = {},
): Promise<Daemon> {
  // start-up creates the cluster / log group / role checks on the simulator: slow on a loaded machine
  return startDaemon(dataRoot, ["--backend", backend, "--aws-max-attempts", "6", ...extra], {
    env,
    startTimeoutMs: 90_000,
  });
}

/** Inject a fault into the simulator (packages/sim-aws/src/faults.ts). */
export async function injectFaults(sim: TestSim, rules: object[]): Promise<void> {
  const r = await fetch(`${sim.url}/_sim/faults`, { method: "POST", body: JSON.stringify(rules) });
  if (!r.ok) throw new Error(`fault injection failed: ${r.status} ${await r.text()}`);
}

/**
 * With every batch of output taking 1.5 s into CloudWatch Logs (as the awslogs driver's batching
 * and Lambda's log delivery can), `docker logs` right after the container exited has every line:
 * the exit waits for the agent's end-of-output markers.
 */
export async function checkLogsCompleteAtExit(sim: TestSim, host: string, name: string): Promise<void> {
  await injectFaults(sim, [{ operation: "logs:Ingest", kind: "latency", latencyMs: 1500 }]);
  try {
    const opts = { timeoutMs: 120_000 };
    const r = await docker(
      host,
      ["run", "--name", name, BUSYBOX, "sh", "-c", "echo first; echo second >&2; exit 2"],
      opts,
    );
    assert.equal(r.code, 2, r.stderr);
    assert.equal(await dockerOk(host, ["logs", name], opts), "first\nsecond\n");
    await dockerOk(host, ["rm", name], opts);
  } finally {
    await injectFaults(sim, []);
  }
}

/** A TCP port free right now on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The simulator keeps a stopped task's containers in the engine (as ECS keeps stopped tasks for a
 * while) and a persisted simulator leaves running ones there: remove a cluster's from the shared
 * reference engine when a suite ends.
 */
export async function removeTaskContainers(cluster: string): Promise<void> {
  const ref = process.env.SOCKERLESS_REF_DOCKER_HOST!;
  const label = `label=com.amazonaws.ecs.cluster=arn:aws:ecs:us-east-1:000000000000:cluster/${cluster}`;
  const ids = (await dockerOk(ref, ["ps", "-aq", "--filter", label])).split("\n").filter(Boolean);
  if (ids.length) await dockerOk(ref, ["rm", "-f", ...ids]);
}
