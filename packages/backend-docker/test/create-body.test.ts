import assert from "node:assert/strict";
import { test } from "node:test";
import type { ContainerRecord } from "@sockerless/engine";
import { parseRfc3339Ns } from "../src/backend.js";
import { createBody } from "../src/create-body.js";

const record = (over: Partial<ContainerRecord> = {}): ContainerRecord => ({
  Id: "a".repeat(64),
  Name: "/web",
  Created: "2026-01-01T00:00:00Z",
  Path: "sh",
  Args: ["-c", "true"],
  Config: {
    Image: "busybox",
    Cmd: ["sh", "-c", "true"],
    Env: ["PATH=/bin"],
    Labels: { app: "x" },
    Healthcheck: { Test: ["CMD", "true"] },
    Volumes: { "/anon": {} },
  },
  HostConfig: {
    NetworkMode: "bridge",
    RestartPolicy: { Name: "always" },
    AutoRemove: true,
    Binds: ["/host:/ctr:ro", "vol:/data"],
    Memory: 1048576,
  },
  Image: "sha256:" + "b".repeat(64),
  ImageRef: "busybox",
  State: {} as ContainerRecord["State"],
  RestartCount: 0,
  Networks: { bridge: { Aliases: ["a1"] }, mynet: { Aliases: ["db"] } },
  Mounts: [
    { Type: "bind", Source: "/host", Destination: "/ctr", Mode: "ro", RW: false, Propagation: "rprivate" },
    { Type: "volume", Name: "vol", Source: "/x", Destination: "/data", Mode: "z", RW: true, Propagation: "" },
    { Type: "tmpfs", Source: "/t", Destination: "/run", Mode: "", RW: true, Propagation: "" },
  ],
  ManuallyStopped: false,
  ...over,
});

test("the engine keeps restart policy, auto-remove and health checks; the user's config passes", () => {
  const { body, extraNetworks } = createBody(record(), { "sockerless.id": "i" }, (n) =>
    n === "bridge" ? "sockerless-bridge" : n,
  );
  assert.deepEqual(body.HostConfig.RestartPolicy, { Name: "no" });
  assert.equal(body.HostConfig.AutoRemove, false);
  assert.deepEqual(body.Healthcheck, { Test: ["NONE"] });
  assert.equal(body.HostConfig.Memory, 1048576);
  assert.equal(body.Image, "sha256:" + "b".repeat(64));
  assert.deepEqual(body.Labels, { app: "x", "sockerless.id": "i" });
  // mounts as the engine resolved them: binds by path, volumes by name, no anonymous volume twice
  assert.deepEqual(body.HostConfig.Binds, ["/host:/ctr:ro"]);
  assert.deepEqual(body.HostConfig.Mounts, [
    { Type: "volume", Source: "vol", Target: "/data", ReadOnly: false },
    { Type: "tmpfs", Target: "/run", ReadOnly: false },
  ]);
  assert.equal("Volumes" in body, false);
  assert.equal(body.HostConfig.NetworkMode, "sockerless-bridge");
  assert.deepEqual(Object.keys(body.NetworkingConfig!.EndpointsConfig), ["sockerless-bridge"]);
  assert.deepEqual(extraNetworks, ["mynet"]);
});

test("--network container:NAME joins that container's engine-side namespace", () => {
  const c = record({ HostConfig: { NetworkMode: "container:other" }, Networks: {} });
  assert.equal(
    createBody(c, {}, (n) => n, "sockerless-123").body.HostConfig.NetworkMode,
    "container:sockerless-123",
  );
  assert.throws(() => createBody(c, {}, (n) => n, undefined), { status: 404 });
});

test("the engine's log timestamps to ns since the epoch", () => {
  assert.equal(parseRfc3339Ns("2026-11-27T10:00:00.123456789Z"), 1795773600123456789n);
  assert.equal(parseRfc3339Ns("2026-11-27T10:00:00Z"), 1795773600000000000n);
  assert.equal(parseRfc3339Ns("2026-11-27T12:00:00.5+02:00"), 1795773600500000000n);
  assert.equal(parseRfc3339Ns("not a time"), undefined);
});
