// Judge a target's transcript against the reference's, given the listed known differences.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import type { Transcript } from "./context.js";

/** What the target gives instead of the reference at one step: exact text, a pattern, or nothing. */
export type Expected = string | { matches: string } | null;

/** Why a difference is expected: what kind of reason, for the report's grouping. */
export const KINDS = {
  sandbox: "a limit of the memory backend's in-process sandbox (README: what it is, honestly)",
  platform:
    "a limit of the cloud platform a backend runs on (ECS Fargate, Lambda, CloudWatch Logs) or of the AWS simulator",
  "api-version": "the reference is dockerd 20.10 (API 1.41); Sockerless follows API 1.44 and current dockerd",
  validation: "Sockerless checks input the 20.10 engine accepts or answers with a 500",
  "not-implemented": "a feature Sockerless does not have yet; it answers with a clear error",
  bug: "a Sockerless bug, listed so the run stays meaningful until it is fixed",
} as const;
export type Kind = keyof typeof KINDS;

export interface KnownDifference {
  scenario: string;
  /** One target id, or several when the reason is shared (e.g. the API version). */
  target: string | string[];
  kind: Kind | Kind[];
  steps: Record<string, Expected>;
  why: string;
}

export const targetsOf = (k: KnownDifference) => (Array.isArray(k.target) ? k.target : [k.target]);
export const kindsOf = (k: KnownDifference) => (Array.isArray(k.kind) ? k.kind : [k.kind]);

export type Verdict =
  | { kind: "pass" }
  | { kind: "known"; difference: KnownDifference; reference: Record<string, string | undefined> }
  | { kind: "fail"; problems: string[] };

export function loadKnownDifferences(file: string): KnownDifference[] {
  const list = parse(readFileSync(file, "utf8")) as unknown;
  if (!Array.isArray(list)) throw new Error(`${file}: expected a list`);
  const seen = new Set<string>();
  return list.map((e: Partial<KnownDifference>, i) => {
    const where = `${file}: entry ${i + 1} (${e?.scenario} / ${e?.target})`;
    if (typeof e?.scenario !== "string" || !e.target)
      throw new Error(`${where}: scenario and target are required`);
    if (typeof e.why !== "string" || e.why.trim().length < 20) throw new Error(`${where}: needs a why`);
    if (!e.steps || typeof e.steps !== "object" || !Object.keys(e.steps).length)
      throw new Error(`${where}: needs steps`);
    const k = e as KnownDifference;
    for (const kind of kindsOf(k)) if (!(kind in KINDS)) throw new Error(`${where}: unknown kind "${kind}"`);
    for (const t of targetsOf(k)) {
      const key = `${k.scenario}\0${t}`;
      if (seen.has(key)) throw new Error(`${where}: listed twice for ${t}`);
      seen.add(key);
    }
    return k;
  });
}

const matches = (want: Expected, got: string | undefined) => {
  if (want === null) return got === undefined;
  if (got === undefined) return false;
  if (typeof want === "string") return want === got;
  return new RegExp(want.matches).test(got);
};

const show = (v: string | undefined) => (v === undefined ? "(no such step)" : JSON.stringify(v));

export function judge(reference: Transcript, got: Transcript, known?: KnownDifference): Verdict {
  const ref = new Map(reference);
  const tgt = new Map(got);
  const labels = [...new Set([...ref.keys(), ...tgt.keys()])];
  const differing = labels.filter((l) => ref.get(l) !== tgt.get(l));
  const problems: string[] = [];
  for (const l of differing) {
    if (!known || !(l in known.steps))
      problems.push(`step "${l}" differs: reference ${show(ref.get(l))}, target ${show(tgt.get(l))}`);
    else if (!matches(known.steps[l], tgt.get(l)))
      problems.push(
        `step "${l}" differs otherwise than listed: reference ${show(ref.get(l))}, target ${show(tgt.get(l))}`,
      );
  }
  for (const l of Object.keys(known?.steps ?? {}))
    if (!differing.includes(l))
      problems.push(`listed difference at step "${l}" no longer occurs (remove it from the list)`);
  if (problems.length) return { kind: "fail", problems };
  if (!known) return { kind: "pass" };
  return {
    kind: "known",
    difference: known,
    reference: Object.fromEntries(differing.map((l) => [l, ref.get(l)])),
  };
}
