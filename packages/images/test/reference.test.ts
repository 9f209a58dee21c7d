import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DockerError } from "@sockerless/api";
import {
  cidrContains,
  familiarString,
  formatPlatform,
  humanSize,
  isInsecureRegistry,
  normalizePlatform,
  parseChallenges,
  parseGoDuration,
  parseReference,
  platformScore,
  progressBar,
  registryEndpoints,
} from "../src/index.js";

const D = "sha256:" + "ab".repeat(32);

describe("parseReference", () => {
  it("normalises docker hub names", () => {
    assert.deepEqual(parseReference("busybox"), {
      domain: "docker.io",
      path: "library/busybox",
      tag: "latest",
      familiarName: "busybox",
    });
    assert.deepEqual(parseReference("docker.io/library/busybox:1.36"), {
      domain: "docker.io",
      path: "library/busybox",
      tag: "1.36",
      familiarName: "busybox",
    });
    assert.equal(parseReference("index.docker.io/foo/bar").familiarName, "foo/bar");
    assert.equal(parseReference("foo/bar").path, "foo/bar");
    assert.equal(parseReference("docker.io/library/a/b").familiarName, "library/a/b");
  });
  it("recognises registry domains", () => {
    const r = parseReference("127.0.0.1:5000/busybox:1");
    assert.deepEqual(r, {
      domain: "127.0.0.1:5000",
      path: "busybox",
      tag: "1",
      familiarName: "127.0.0.1:5000/busybox",
    });
    assert.equal(parseReference("localhost/x").domain, "localhost");
    assert.equal(parseReference("ghcr.io/a/b/c").path, "a/b/c");
    assert.equal(parseReference("[::1]:5000/x").domain, "[::1]:5000");
    assert.equal(parseReference("Registry/x").domain, "Registry");
  });
  it("parses digests", () => {
    const r = parseReference(`busybox@${D}`);
    assert.equal(r.digest, D);
    assert.equal(r.tag, undefined);
    assert.equal(familiarString(r), `busybox@${D}`);
    const both = parseReference(`busybox:1@${D}`);
    assert.equal(both.tag, "1");
    assert.equal(both.digest, D);
  });
  it("rejects invalid references with dockerd's messages", () => {
    const bad = (ref: string, msg: RegExp | string) =>
      assert.throws(
        () => parseReference(ref),
        (e: unknown) =>
          e instanceof DockerError &&
          e.status === 400 &&
          (typeof msg === "string" ? e.message === msg : msg.test(e.message)),
        ref,
      );
    bad("UPPER", "invalid reference format: repository name (library/UPPER) must be lowercase");
    bad("", "invalid reference format");
    bad("busybox:", "invalid reference format");
    bad("a b", "invalid reference format");
    bad("x@sha256:abc", /^invalid reference format/);
    bad("-x", "invalid reference format");
    bad("ab".repeat(32), /cannot specify 64-byte hexadecimal strings/);
    bad("x/" + "a".repeat(260), /must not be more than 255 characters/);
  });
});

describe("registry helpers", () => {
  it("parses WWW-Authenticate challenges", () => {
    const c = parseChallenges(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull", Basic realm="x"',
    );
    assert.equal(c.length, 2);
    assert.equal(c[0].scheme, "bearer");
    assert.equal(c[0].params.realm, "https://auth.docker.io/token");
    assert.equal(c[0].params.scope, "repository:library/busybox:pull");
    assert.equal(c[1].scheme, "basic");
  });
  it("decides plain HTTP like dockerd (loopback, listed names, CIDRs)", async () => {
    const opts = { insecureRegistries: ["myreg:5000", "10.0.0.0/8"], mirrors: [] };
    assert.equal(await isInsecureRegistry("127.0.0.1:5000", opts), true);
    assert.equal(await isInsecureRegistry("127.9.9.9", opts), true);
    assert.equal(await isInsecureRegistry("[::1]:5000", opts), true);
    assert.equal(await isInsecureRegistry("localhost:5000", opts), true);
    assert.equal(await isInsecureRegistry("myreg:5000", opts), true);
    assert.equal(await isInsecureRegistry("10.1.2.3:443", opts), true);
    assert.equal(await isInsecureRegistry("192.0.2.1:5000", opts), false);
    assert.deepEqual(
      (await registryEndpoints("192.0.2.1:5000", opts)).map((e) => e.base),
      ["https://192.0.2.1:5000"],
    );
    assert.equal((await registryEndpoints("myreg:5000", opts))[0].base, "http://myreg:5000");
    assert.deepEqual(
      (
        await registryEndpoints("docker.io", { insecureRegistries: [], mirrors: ["mirror.example:5000/"] })
      ).map((e) => e.base),
      ["https://mirror.example:5000", "https://registry-1.docker.io"],
    );
    // mirrors never apply to other registries
    assert.deepEqual(
      (await registryEndpoints("ghcr.io", { insecureRegistries: [], mirrors: ["http://m"] })).map(
        (e) => e.base,
      ),
      ["https://ghcr.io"],
    );
    assert.equal(cidrContains("fd00::/8", "fd12::1"), true);
    assert.equal(cidrContains("fd00::/8", "fe12::1"), false);
  });
  it("matches platforms", () => {
    const amd = { os: "linux", architecture: "amd64" };
    assert.ok(platformScore(amd, { os: "linux", architecture: "amd64" }) > 0);
    assert.ok(platformScore(amd, { os: "linux", architecture: "arm64" }) < 0);
    assert.ok(
      platformScore(
        { os: "linux", architecture: "arm64" },
        { os: "linux", architecture: "arm64", variant: "v8" },
      ) > 0,
    );
    const v7 = { os: "linux", architecture: "arm", variant: "v7" };
    assert.ok(platformScore(v7, { os: "linux", architecture: "arm", variant: "v6" }) > 0);
    assert.ok(
      platformScore(v7, { os: "linux", architecture: "arm", variant: "v7" }) >
        platformScore(v7, { os: "linux", architecture: "arm", variant: "v6" }),
    );
    assert.ok(
      platformScore(
        { os: "linux", architecture: "arm", variant: "v6" },
        { os: "linux", architecture: "arm", variant: "v7" },
      ) < 0,
    );
    assert.deepEqual(normalizePlatform({ os: "linux", architecture: "aarch64" }), {
      os: "linux",
      architecture: "arm64",
    });
    assert.deepEqual(normalizePlatform({ os: "linux", architecture: "x86_64" }), {
      os: "linux",
      architecture: "amd64",
    });
    assert.equal(formatPlatform(v7), "linux/arm/v7");
  });
  it("renders progress like dockerd", () => {
    assert.equal(humanSize(4261550), "4.262MB");
    assert.equal(humanSize(999), "999B");
    assert.equal(humanSize(1000), "1kB");
    assert.equal(progressBar(0, 0), "");
    assert.equal(
      progressBar(500_000, 1_000_000),
      "[=========================>                         ]    500kB/1MB",
    );
    assert.equal(parseGoDuration("1h30m"), 5_400_000);
    assert.equal(parseGoDuration("10"), undefined);
  });
});
