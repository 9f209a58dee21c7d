// `npm run conformance`: every scenario against every target, judged against the reference
// (the first target). Writes docs/conformance.md on a full run; exits 1 on any unexplained
// difference or stale known difference.
//   --targets engine,memory   only these targets (the reference always runs)
//   --only REGEX              only scenarios whose name matches (no report written)
//   --host ID=DOCKER_HOST     use an already running daemon for target ID instead of starting one
//   --dump FILE               write every transcript as JSON
//   --draft FILE              write known-differences entries (values, no why) for every unexplained
//                             difference: a start for listing them, after checking each is intended
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { format, resolveConfig } from "prettier";
import { stringify } from "yaml";
import { BUSYBOX, HELLO, dockerOk } from "../helpers.js";
import { judge, loadKnownDifferences, targetsOf, type KnownDifference } from "./compare.js";
import { Context, type Scenario, type Transcript } from "./context.js";
import { renderReport, type Row } from "./report.js";
import { areas } from "./scenarios/index.js";
import { targets as allTargets, type RunningTarget, type Target } from "./targets.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const { values: opts } = parseArgs({
  options: {
    targets: { type: "string" },
    only: { type: "string" },
    dump: { type: "string" },
    draft: { type: "string" },
    host: { type: "string", multiple: true },
    concurrency: { type: "string", default: "6" },
  },
});

const SCENARIO_TIMEOUT_MS = 90_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)),
    ),
  ]);
}

/** The last run holding each `exclusive` key; the next one waits for it (cleanup included). */
const turns = new Map<string, Promise<unknown>>();

/** One scenario on one target: its transcript; an exception becomes the last step. */
async function runScenario(host: string, prefix: string, s: Scenario): Promise<Transcript> {
  if (!s.exclusive) return runAlone(host, prefix, s);
  const before = turns.get(s.exclusive) ?? Promise.resolve();
  const mine = before.then(() => runAlone(host, prefix, s));
  turns.set(s.exclusive, mine);
  return mine;
}

async function runAlone(host: string, prefix: string, s: Scenario): Promise<Transcript> {
  const t = new Context(host, prefix);
  try {
    await withTimeout(s.run(t), SCENARIO_TIMEOUT_MS, s.name);
  } catch (e) {
    t.record("error", e instanceof Error ? e.message : String(e));
  } finally {
    await t.cleanup().catch(() => {});
  }
  return t.steps;
}

/** Run fn over items with at most n at a time, results in input order. */
async function pool<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return results;
}

async function main() {
  const wanted = opts.targets?.split(",");
  for (const w of wanted ?? [])
    if (!allTargets.some((t) => t.id === w)) throw new Error(`--targets: no target named "${w}"`);
  const given = new Map((opts.host ?? []).map((h) => h.split(/=(.*)/s).slice(0, 2) as [string, string]));
  const targets: Target[] = allTargets
    .filter((t, i) => i === 0 || !wanted || wanted.includes(t.id))
    .map((t) => {
      const host = given.get(t.id);
      return host ? { ...t, start: async () => ({ host, stop: async () => {} }) } : t;
    });
  const notSelected = Object.fromEntries(
    allTargets
      .filter((t) => !targets.some((x) => x.id === t.id))
      .map((t) => [t.id, "not selected (--targets)"]),
  );
  const only = opts.only ? new RegExp(opts.only) : undefined;
  const list = Object.entries(areas).flatMap(([area, ss]) => ss.map((s) => ({ area, s })));
  const selected = list.filter(({ s }) => !only || only.test(s.name));
  const names = new Set<string>();
  for (const { s } of list) {
    if (names.has(s.name)) throw new Error(`scenario name used twice: ${s.name}`);
    names.add(s.name);
  }
  const known = loadKnownDifferences(path.join(here, "known-differences.yaml"));
  for (const t of allTargets)
    for (const s of Object.keys(t.notRun ?? {}))
      if (!names.has(s)) throw new Error(`targets.ts: ${t.id}: notRun names no scenario "${s}"`);
  for (const k of known) {
    if (!names.has(k.scenario)) throw new Error(`known-differences.yaml: no scenario named "${k.scenario}"`);
    for (const t of targetsOf(k))
      if (!allTargets.some((x) => x.id === t) || t === allTargets[0].id)
        throw new Error(`known-differences.yaml: "${t}" is not a compared target`);
  }

  const started = Date.now();
  if (!process.env.SOCKERLESS_REF_DOCKER_HOST && targets[0].id === "engine")
    throw new Error('SOCKERLESS_REF_DOCKER_HOST is not set: run eval "$(bash scripts/test-env.sh)" first');
  const unavailable: Record<string, string> = {};
  const transcripts: Record<string, Transcript[]> = {};
  await Promise.all(
    targets.map(async (target) => {
      let running: RunningTarget | undefined;
      try {
        running = await target.start();
        await dockerOk(running.host, ["pull", "-q", BUSYBOX]);
        await dockerOk(running.host, ["pull", "-q", HELLO]);
      } catch (e) {
        unavailable[target.id] = (e instanceof Error ? e.message : String(e)).split("\n")[0];
        await running?.stop().catch(() => {});
        return;
      }
      try {
        const t0 = Date.now();
        transcripts[target.id] = await pool(selected, Number(opts.concurrency), async ({ s }) =>
          target.notRun?.[s.name] !== undefined
            ? []
            : runScenario(
                running.host,
                // ids padded to one length: generated names of one width on every target (ps table columns)
                `conformance-${target.id.padEnd(6, "-")}-${process.pid}-${list.findIndex((x) => x.s === s)}`,
                s,
              ),
        );
        console.error(
          `conformance: ${target.id}: ${selected.length} scenarios in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
        );
      } finally {
        await running.stop();
      }
    }),
  );

  const ref = targets[0];
  if (unavailable[ref.id])
    throw new Error(`the reference target ${ref.id} is not available: ${unavailable[ref.id]}`);
  const knownFor = (scenario: string, target: string): KnownDifference | undefined =>
    known.find((k) => k.scenario === scenario && targetsOf(k).includes(target));
  const rows: Row[] = selected.map(({ area, s }, i) => {
    const r: Row = { area, scenario: s.name, verdicts: {} };
    const refSteps = transcripts[ref.id][i];
    const refError = refSteps.find(([l]) => l === "error");
    r.verdicts[ref.id] = refError
      ? { kind: "fail", problems: [`the reference failed: ${refError[1]}`] }
      : { kind: "reference" };
    for (const t of allTargets.slice(1)) {
      const reason = notSelected[t.id] ?? unavailable[t.id] ?? t.notRun?.[s.name];
      r.verdicts[t.id] = reason
        ? { kind: "not run", reason }
        : judge(refSteps, transcripts[t.id][i], knownFor(s.name, t.id));
    }
    return r;
  });

  if (opts.dump)
    writeFileSync(
      opts.dump,
      JSON.stringify(
        Object.fromEntries(
          selected.map(({ s }, i) => [
            s.name,
            Object.fromEntries(targets.map((t) => [t.id, transcripts[t.id]?.[i]])),
          ]),
        ),
        null,
        1,
      ),
    );

  if (opts.draft) {
    const drafts = selected.flatMap(({ s }, i) =>
      allTargets.slice(1).flatMap((t) => {
        if (rows[i].verdicts[t.id]?.kind !== "fail" || !transcripts[t.id]) return [];
        const want = new Map(transcripts[ref.id][i]);
        const got = new Map(transcripts[t.id][i]);
        const steps = Object.fromEntries(
          [...new Set([...want.keys(), ...got.keys()])]
            .filter((l) => want.get(l) !== got.get(l))
            .map((l) => [l, got.get(l) ?? null]),
        );
        return [{ scenario: s.name, target: t.id, kind: "bug", why: "TODO", steps }];
      }),
    );
    writeFileSync(opts.draft, stringify(drafts, { lineWidth: 110 }));
  }

  const full = !only;
  const failures = rows.flatMap((r) =>
    Object.entries(r.verdicts).flatMap(([t, v]) =>
      v.kind === "fail" ? [`${r.scenario} — ${t}:\n  ${v.problems.join("\n  ")}`] : [],
    ),
  );
  if (full) {
    const file = path.join(repo, "docs/conformance.md");
    const notRun = {
      ...notSelected,
      ...Object.fromEntries(Object.entries(unavailable).map(([k, v]) => [k, `could not start: ${v}`])),
    };
    // Formatted as the repository's prettier would, so `npm run lint` accepts the committed file.
    const md = renderReport(allTargets, rows, notRun);
    writeFileSync(file, await format(md, { ...(await resolveConfig(file)), filepath: file }));
  }
  for (const t of targets.slice(1)) {
    const c = (k: string) => rows.filter((r) => r.verdicts[t.id]?.kind === k).length;
    console.log(
      `${t.id}: pass ${c("pass")}, known difference ${c("known")}, FAIL ${c("fail")}${unavailable[t.id] ? ` (not run: ${unavailable[t.id]})` : ""}`,
    );
  }
  for (const f of failures) console.log(`FAIL ${f}`);
  console.log(
    `conformance: ${selected.length} scenarios × ${targets.length} targets in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const missing = targets.filter((t) => unavailable[t.id]);
  if (failures.length || missing.length) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
