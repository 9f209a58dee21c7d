// The conformance judge: what passes, what a known difference covers, what fails.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { judge, type KnownDifference } from "./conformance/compare.js";
import { normalise } from "./conformance/normalise.js";

const known = (steps: KnownDifference["steps"]): KnownDifference => ({
  scenario: "s",
  target: "memory",
  kind: "sandbox",
  steps,
  why: "because the sandbox cannot do it",
});

describe("conformance judge", () => {
  const ref: [string, string][] = [
    ["a", "exit=0"],
    ["b", "exit=1"],
  ];

  test("equal transcripts pass", () => {
    assert.deepEqual(judge(ref, [...ref]), { kind: "pass" });
  });

  test("an unlisted difference fails and names the step", () => {
    const v = judge(ref, [ref[0], ["b", "exit=2"]]);
    assert.equal(v.kind, "fail");
    assert.match(v.kind === "fail" ? v.problems[0] : "", /step "b" differs/);
  });

  test("a listed difference is known, with the reference's value", () => {
    const v = judge(ref, [ref[0], ["b", "exit=2"]], known({ b: "exit=2" }));
    assert.equal(v.kind, "known");
    assert.deepEqual(v.kind === "known" ? v.reference : {}, { b: "exit=1" });
  });

  test("a listed difference with another value fails", () => {
    const v = judge(ref, [ref[0], ["b", "exit=3"]], known({ b: "exit=2" }));
    assert.equal(v.kind, "fail");
  });

  test("a listed difference that no longer occurs fails", () => {
    const v = judge(ref, [...ref], known({ b: "exit=2" }));
    assert.equal(v.kind, "fail");
    assert.match(v.kind === "fail" ? v.problems[0] : "", /no longer occurs/);
  });

  test("patterns and absent steps", () => {
    assert.equal(
      judge(ref, [ref[0], ["b", "exit=77"]], known({ b: { matches: "^exit=7+$" } })).kind,
      "known",
    );
    assert.equal(judge(ref, [ref[0]], known({ b: null })).kind, "known");
    assert.equal(
      judge(ref, [ref[0], ["b", "exit=1"], ["error", "boom"]], known({ error: "boom" })).kind,
      "known",
    );
  });

  test("normalise: ids, names, times, durations, engine-chosen addresses", () => {
    const names = new Map([["conformance-memory-1-2-c", "<c>"]]);
    const s = normalise(
      `conformance-memory-1-2-c ${"a".repeat(64)} ${"b".repeat(12)} 2024-01-02T03:04:05.123456789Z Up 1 second 3 minutes ago 172.18.0.2 10.213.7.1`,
      names,
    );
    assert.equal(s, "<c> <id> <id12> <time> Up <duration> <ago> <ip> 10.213.7.1");
  });
});
