import assert from "node:assert/strict";
import { test } from "node:test";
import type { ContainerRecord } from "@sockerless/engine";
import { cloudState, recordFromTags, recordTags, staleRecordKeys } from "../src/index.js";

const record = (env: string[]): ContainerRecord => ({
  Id: "a".repeat(64),
  Name: "/web",
  Created: "2026-01-01T00:00:00.000000001Z",
  Path: "sh",
  Args: ["-c", "echo hi"],
  Config: { Image: "busybox", Env: env, Labels: { "com.example": "x" } },
  HostConfig: { NetworkMode: "bridge" },
  Image: "sha256:" + "b".repeat(64),
  ImageRef: "busybox",
  State: cloudState({ running: true }),
  RestartCount: 0,
  Networks: {},
  Mounts: [],
  ManuallyStopped: false,
});

test("a record survives the trip through tags, without its state", () => {
  const rec = record(["A=1", "B=" + "x".repeat(3000)]);
  const tags = recordTags(rec, "ecs");
  for (const [k, v] of Object.entries(tags)) {
    assert.ok(k.length <= 128 && v.length <= 256, k);
    assert.match(v, /^[\p{L}\p{N}\s+\-=._:/@]*$/u, "only characters AWS allows in tag values");
  }
  const back = recordFromTags(tags, "ecs")!;
  const { State: _s, ...want } = rec;
  assert.deepEqual(back, want);
  assert.equal(recordFromTags(tags, "lambda"), undefined, "another backend's tags are not ours");
});

test("damaged or foreign tags give no record; a shorter record drops its extra chunks", () => {
  const tags = recordTags(record(["A=1"]), "ecs");
  assert.equal(recordFromTags({ ...tags, "sockerless-record-00": "not base64 gzip" }, "ecs"), undefined);
  assert.equal(recordFromTags({ Name: "x" }, "ecs"), undefined);
  const big = recordTags(record(Array.from({ length: 200 }, (_, i) => `V${i}=${Math.random()}`)), "ecs");
  assert.ok(staleRecordKeys(big, tags).length > 0);
  assert.throws(
    () => recordTags(record(Array.from({ length: 3000 }, (_, i) => `V${i}=${Math.random()}`)), "ecs"),
    /too large to keep in cloud tags/,
  );
});

test("cloud state: created, running and exited", () => {
  assert.equal(cloudState(undefined).Status, "created");
  const exited = cloudState({ running: false, exitCode: 3, finishedAt: new Date(0), error: "e" });
  assert.deepEqual([exited.Status, exited.ExitCode, exited.Running, exited.Error], ["exited", 3, false, "e"]);
});
