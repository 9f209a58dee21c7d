import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import tar from "tar-stream";
import { agentLayer, wrapImageConfig } from "../src/index.js";

describe("agent layer", () => {
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), "agent-layer-"));
  after(() => rmSync(cacheDir, { recursive: true, force: true }));

  it("holds the bundle, node, its libraries and the loader under /.sockerless, cached by content", async () => {
    const layer = await agentLayer({ cacheDir });
    const names = new Map<string, tar.Header>();
    const ex = tar.extract();
    ex.on("entry", (h, s, next) => {
      names.set(h.name, h);
      s.resume();
      s.on("end", next);
    });
    const sha = createHash("sha256");
    await new Promise<void>((resolve, reject) => {
      const r = createReadStream(layer.tarPath);
      r.on("data", (d) => sha.update(d));
      ex.on("finish", resolve).on("error", reject);
      r.pipe(ex);
    });
    assert.equal(layer.diffId, `sha256:${sha.digest("hex")}`);
    for (const n of [
      ".sockerless/agent.cjs",
      ".sockerless/bin/node",
      ".sockerless/bin/tini",
      ".sockerless/lib/libc.so.6",
      ".sockerless/lib/libstdc++.so.6",
      ".sockerless/lib/ld-linux-x86-64.so.2",
      ".sockerless/node_modules/node-pty/build/Release/pty.node",
      ".sockerless/node_modules/node-pty/lib/index.js",
    ])
      assert.ok(names.has(n), `${n} missing`);
    // every library node needs is shipped
    const needed = execFileSync("ldd", [process.execPath], { encoding: "utf8" })
      .split("\n")
      .map((l) => /^\s*(\S+)\s+=>/.exec(l)?.[1])
      .filter((x): x is string => !!x);
    for (const lib of needed) assert.ok(names.has(`.sockerless/lib/${lib}`), `${lib} not shipped`);
    assert.equal(names.get(".sockerless/bin/node")!.mode! & 0o111, 0o111);
    assert.deepEqual(layer.entrypoint, [
      "/.sockerless/bin/tini",
      "-s",
      "--",
      "/.sockerless/lib/ld-linux-x86-64.so.2",
      "--library-path",
      "/.sockerless/lib",
      "/.sockerless/bin/node",
      "/.sockerless/agent.cjs",
    ]);
    // a second call reuses the built tar
    const mtime = statSync(layer.tarPath).mtimeMs;
    const again = await agentLayer({ cacheDir });
    assert.deepEqual(again, layer);
    assert.equal(statSync(layer.tarPath).mtimeMs, mtime);
    // another daemon sharing the cache pruned it: the next call builds it again, same content
    rmSync(layer.tarPath);
    const rebuilt = await agentLayer({ cacheDir });
    assert.ok(existsSync(rebuilt.tarPath));
    assert.equal(rebuilt.diffId, layer.diffId);
  });
});

describe("wrapImageConfig", () => {
  const layer = { diffId: "sha256:" + "ab".repeat(32), entrypoint: ["/.sockerless/agent"] };
  it("wraps Entrypoint, keeps Cmd and everything else, and appends the layer", () => {
    const image = {
      architecture: "amd64",
      os: "linux",
      config: { Entrypoint: ["/docker-entrypoint.sh"], Cmd: ["nginx", "-g", "daemon off;"], Env: ["A=1"] },
      rootfs: { type: "layers", diff_ids: ["sha256:" + "01".repeat(32)] },
      history: [{ created_by: "base" }],
    };
    const out = wrapImageConfig(image, { layer, args: ["--listen", ":9111"] });
    assert.deepEqual(out.config!.Entrypoint, [
      "/.sockerless/agent",
      "--listen",
      ":9111",
      "--",
      "/docker-entrypoint.sh",
    ]);
    assert.deepEqual(out.config!.Cmd, ["nginx", "-g", "daemon off;"]);
    assert.deepEqual(out.config!.Env, ["A=1"]);
    assert.deepEqual(out.rootfs!.diff_ids, ["sha256:" + "01".repeat(32), layer.diffId]);
    assert.equal(out.history!.length, 2);
    assert.equal(out.architecture, "amd64");
    // the input is not modified
    assert.deepEqual(image.config.Entrypoint, ["/docker-entrypoint.sh"]);
    assert.equal(image.rootfs.diff_ids.length, 1);
  });
  it("wraps an image with only a Cmd", () => {
    const out = wrapImageConfig({ config: { Cmd: ["sh"] } }, { layer });
    assert.deepEqual(out.config!.Entrypoint, ["/.sockerless/agent", "--"]);
    assert.deepEqual(out.config!.Cmd, ["sh"]);
  });
});
