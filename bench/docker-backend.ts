// The docker backend's added latency: the same docker CLI commands through Sockerless (docker
// backend, in front of the reference engine) and against that engine directly, interleaved run by
// run so both see the same machine load. Prints medians and ratios.
import { performance } from "node:perf_hooks";
import { BUSYBOX, cleanup, docker, dockerOk, startDaemon } from "../test/helpers.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(host: string, args: string[], expect?: string): Promise<number> {
  const t = performance.now();
  const r = await docker(host, args);
  const ms = performance.now() - t;
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  if (expect !== undefined && r.stdout !== expect)
    throw new Error(`docker ${args.join(" ")}: unexpected output ${JSON.stringify(r.stdout)}`);
  return ms;
}

/** Median ms of the same command on both sides, alternating which goes first. */
async function compare(
  s: { host: string; args: string[] },
  r: { host: string; args: string[] },
  expect?: string,
): Promise<[number, number]> {
  await timed(s.host, s.args, expect); // warm-up
  await timed(r.host, r.args, expect);
  const st: number[] = [];
  const rt: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    if (i % 2) {
      st.push(await timed(s.host, s.args, expect));
      rt.push(await timed(r.host, r.args, expect));
    } else {
      rt.push(await timed(r.host, r.args, expect));
      st.push(await timed(s.host, s.args, expect));
    }
  }
  return [median(st), median(rt)];
}

export async function benchDockerBackend(ref: string): Promise<string[][]> {
  const d = await startDaemon(undefined, ["--backend", "docker", "--docker-host", ref]);
  const rows: string[][] = [];
  const row = (what: string, [s, r]: [number, number], goal = "") =>
    rows.push([what, s.toFixed(1), r.toFixed(1), `${(s / r).toFixed(2)}x time`, goal]);
  try {
    await dockerOk(ref, ["pull", BUSYBOX]);
    // The reference engine runs with --bridge=none: its default network is no network at all,
    // while ours is a real bridge network on the engine. `--network none` compares like with like.
    row(
      "docker run --rm busybox true, --network none (median ms)",
      await compare(
        { host: d.host, args: ["run", "--rm", "--network", "none", BUSYBOX, "true"] },
        { host: ref, args: ["run", "--rm", "--network", "none", BUSYBOX, "true"] },
        "",
      ),
      "goal <= 1.15x",
    );
    row(
      "docker run --rm busybox true, default network (median ms)",
      await compare(
        { host: d.host, args: ["run", "--rm", BUSYBOX, "true"] },
        { host: ref, args: ["run", "--rm", "--network", "sockerless-bridge", BUSYBOX, "true"] },
        "",
      ),
      "goal <= 1.15x",
    );
    const script = "for i in $(seq 1 200); do echo log line $i; done";
    const id = (
      await dockerOk(d.host, ["run", "-d", "--network", "none", BUSYBOX, "sh", "-c", script])
    ).trim();
    await dockerOk(d.host, ["wait", id]);
    const onEngine = `sockerless-${id}`;
    const logs = await dockerOk(d.host, ["logs", id]);
    row(
      "docker ps (median ms)",
      await compare({ host: d.host, args: ["ps", "-a", "-q"] }, { host: ref, args: ["ps", "-a", "-q"] }),
    );
    row(
      "docker inspect (median ms)",
      await compare({ host: d.host, args: ["inspect", id] }, { host: ref, args: ["inspect", onEngine] }),
    );
    row(
      "docker logs, 200 lines (median ms)",
      await compare({ host: d.host, args: ["logs", id] }, { host: ref, args: ["logs", onEngine] }, logs),
    );
    await dockerOk(d.host, ["rm", id]);
  } finally {
    await d.stop();
    cleanup(d);
  }
  return rows;
}
