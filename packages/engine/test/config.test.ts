import assert from "node:assert/strict";
import { test } from "node:test";
import type { ImageRecord } from "@sockerless/images";
import {
  applyImageConfig,
  mergeImageEnv,
  replaceOrAppendEnv,
  parseFilters,
  validateCreate,
  wantedMounts,
  normalizeSignal,
  parseExtraHost,
  parseTimeArg,
} from "../src/index.js";

const image = (config: ImageRecord["config"]): ImageRecord => ({
  id: "sha256:" + "0".repeat(64),
  repoTags: [],
  repoDigests: [],
  created: new Date().toISOString(),
  architecture: "amd64",
  os: "linux",
  config,
  diffIds: [],
  layers: [],
  size: 0,
  history: [],
});

test("env is merged by key and PATH survives", () => {
  assert.deepEqual(mergeImageEnv(["PATH=/bin", "A=1"], ["A=2", "B=3"]), ["A=2", "B=3", "PATH=/bin"]);
  assert.deepEqual(replaceOrAppendEnv(["PATH=/bin", "A=1"], ["A=2", "B=3"]), ["PATH=/bin", "A=2", "B=3"]);
});

test("an explicit entrypoint drops the image's cmd", () => {
  const img = image({ Entrypoint: ["/ep"], Cmd: ["default"], WorkingDir: "/w", User: "u" });
  assert.deepEqual(applyImageConfig({ Entrypoint: ["/mine"] }, img).Cmd, null);
  const kept = applyImageConfig({}, img);
  assert.deepEqual(
    [kept.Entrypoint, kept.Cmd, kept.WorkingDir, kept.User],
    [["/ep"], ["default"], "/w", "u"],
  );
  assert.deepEqual(applyImageConfig({ Cmd: ["x"] }, img).Entrypoint, ["/ep"]);
});

test("filters accept both JSON shapes and reject garbage", () => {
  assert.deepEqual([...parseFilters('{"label":["a=b"]}')], [["label", ["a=b"]]]);
  assert.deepEqual([...parseFilters('{"label":{"a=b":true}}')], [["label", ["a=b"]]]);
  assert.throws(() => parseFilters("{x"), /invalid filter/);
});

test("restart policy and --rm conflict like dockerd", () => {
  assert.throws(
    () => validateCreate({ Cmd: ["x"] }, { AutoRemove: true, RestartPolicy: { Name: "always" } }),
    /conflicting options/,
  );
  assert.throws(
    () => validateCreate({ Cmd: ["x"] }, { RestartPolicy: { Name: "always", MaximumRetryCount: 2 } }),
    /on-failure/,
  );
  assert.throws(() => validateCreate({}, {}), /no command specified/);
});

test("null healthcheck durations (docker-py, compose) mean unset", () => {
  const Healthcheck = {
    Test: ["CMD", "true"],
    Interval: 1e9,
    Timeout: null,
    StartPeriod: null,
    Retries: null,
  };
  validateCreate({ Cmd: ["x"], Healthcheck } as unknown as Parameters<typeof validateCreate>[0], {});
  assert.throws(
    () => validateCreate({ Cmd: ["x"], Healthcheck: { Test: ["CMD", "true"], StartPeriod: 5 } }, {}),
    /StartPeriod in Healthcheck cannot be less than 1ms/,
  );
});

test("binds, mounts and anonymous volumes", () => {
  const m = wantedMounts(
    { Volumes: { "/anon": {} } },
    { Binds: ["/host:/a:ro", "named:/b"], Tmpfs: { "/t": "" } },
  );
  assert.deepEqual(
    m.map((x) => [x.type, x.source, x.target, x.readOnly]),
    [
      ["volume", "", "/anon", false],
      ["bind", "/host", "/a", true],
      ["volume", "named", "/b", false],
      ["tmpfs", "", "/t", false],
    ],
  );
  assert.throws(() => wantedMounts({}, { Binds: ["/x:relative"] }), /absolute/);
  assert.throws(() => wantedMounts({}, { Binds: ["/x:/y:bogus"] }), /invalid mode/);
});

test("signals and times", () => {
  assert.equal(normalizeSignal("term"), "SIGTERM");
  assert.equal(normalizeSignal("9"), "SIGKILL");
  assert.throws(() => normalizeSignal("NOPE"), /Invalid signal/);
  assert.equal(parseTimeArg("1700000000"), 1700000000000);
  assert.equal(parseTimeArg("10s", 100000), 90000);
});

test("parseExtraHost splits --add-host at the first separator", () => {
  assert.deepEqual(parseExtraHost("h1:10.9.8.7"), ["h1", "10.9.8.7"]);
  assert.deepEqual(parseExtraHost("h6:::1"), ["h6", "::1"]);
  assert.deepEqual(parseExtraHost("h2=fd00::2"), ["h2", "fd00::2"]);
  assert.equal(parseExtraHost("nohost"), undefined);
  assert.equal(parseExtraHost(":1.2.3.4"), undefined);
});
