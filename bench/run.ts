// Benchmarks: Sockerless (memory backend) against the reference Docker Engine, measured in the same run.
// Prints medians and ratios. Needs the test environment (scripts/test-env.sh) for the registry and dockerd.
import http from "node:http";
import { performance } from "node:perf_hooks";
import { BUSYBOX, cleanup, docker, dockerOk, startDaemon } from "../test/helpers.js";
import { cloudRows } from "./cloud.js";
import { benchDockerBackend } from "./docker-backend.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const THROUGHPUT_MS = Number(process.env.BENCH_THROUGHPUT_MS ?? 3000);
const CONTAINERS = 100;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function runLatency(host: string): Promise<number> {
  await docker(host, ["run", "--rm", BUSYBOX, "echo", "hi"]); // warm-up
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const out = await dockerOk(host, ["run", "--rm", BUSYBOX, "echo", "hi"]);
    times.push(performance.now() - t);
    if (out !== "hi\n") throw new Error(`unexpected output ${JSON.stringify(out)}`);
  }
  return median(times);
}

/** GET /containers/json?all=1 over keep-alive connections for a fixed time; requests per second. */
async function listThroughput(socketPath: string): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const get = () =>
    new Promise<void>((resolve, reject) => {
      http
        .get({ socketPath, path: "/containers/json?all=1", agent }, (res) => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          res.resume();
          res.on("end", resolve);
        })
        .on("error", reject);
    });
  let count = 0;
  const end = performance.now() + THROUGHPUT_MS;
  const worker = async () => {
    while (performance.now() < end) {
      await get();
      count++;
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: 8 }, worker));
  const secs = (performance.now() - t) / 1000;
  agent.destroy();
  return count / secs;
}

async function withContainers(host: string, fn: () => Promise<number>): Promise<number> {
  const ids: string[] = [];
  for (let i = 0; i < CONTAINERS; i++)
    ids.push((await dockerOk(host, ["create", "--label", "bench=1", BUSYBOX, "true"])).trim());
  try {
    return await fn();
  } finally {
    await dockerOk(host, ["rm", ...ids]);
  }
}

async function main() {
  const ref = process.env.SOCKERLESS_REF_DOCKER_HOST;
  if (!ref)
    throw new Error('SOCKERLESS_REF_DOCKER_HOST is not set: run `eval "$(bash scripts/test-env.sh)"` first');
  if (process.env.BENCH_ONLY !== "docker") await benchMemory(ref);
  if (process.env.BENCH_ONLY !== "memory") {
    const rows = await benchDockerBackend(ref);
    console.log(
      `\n| benchmark | sockerless (docker backend) | docker engine | ratio | goal |\n|---|---|---|---|---|`,
    );
    for (const r of rows) console.log(`| ${r.join(" | ")} |`);
  }
}

async function benchMemory(ref: string) {
  const d = await startDaemon();
  try {
    await dockerOk(d.host, ["pull", BUSYBOX]);
    await dockerOk(ref, ["pull", BUSYBOX]);
    const sRun = await runLatency(d.host);
    const rRun = await runLatency(ref);
    const sList = await withContainers(d.host, () => listThroughput(d.host.slice("unix://".length)));
    const rList = await withContainers(ref, () => listThroughput(ref.slice("unix://".length)));
    const rows = [
      [
        "docker run --rm busybox echo hi (median ms)",
        sRun.toFixed(1),
        rRun.toFixed(1),
        `${(sRun / rRun).toFixed(2)}x time`,
        "goal <= 0.30x",
      ],
      [
        `GET /containers/json, ${CONTAINERS} containers (req/s)`,
        sList.toFixed(0),
        rList.toFixed(0),
        `${(sList / rList).toFixed(2)}x throughput`,
        "goal >= 2x",
      ],
    ];
    console.log(`| benchmark | sockerless (memory) | docker engine | ratio | goal |\n|---|---|---|---|---|`);
    for (const r of rows) console.log(`| ${r.join(" | ")} |`);
  } finally {
    await d.stop();
    cleanup(d);
  }
  console.log(`\n| benchmark | sockerless | simulator alone | ratio | note |\n|---|---|---|---|---|`);
  for (const r of await cloudRows()) console.log(`| ${r.join(" | ")} |`);
}

await main();
