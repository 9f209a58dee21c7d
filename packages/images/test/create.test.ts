import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { ImageStore, type ImageManifest, type ImageConfigBlob } from "../src/index.js";
import { makeTar, pushBlob, pushManifest, sha256, startRegistry, tmpDir, type Registry } from "./helpers.js";

let work: string;
let store: ImageStore;
let registry: Registry;

before(async () => {
  work = await tmpDir("sockerless-create-");
  store = new ImageStore(path.join(work, "store"), { insecureRegistries: [], mirrors: [] });
  await store.init();
  registry = await startRegistry();
});
after(async () => {
  await registry?.stop();
  await fsp.rm(work, { recursive: true, force: true });
});

async function tarFile(name: string, entries: Parameters<typeof makeTar>[0]): Promise<string> {
  const file = path.join(work, name);
  await fsp.writeFile(file, await makeTar(entries));
  return file;
}

describe("ImageStore.createImage", () => {
  let baseId = "";

  it("creates a base image whose id is the digest of its config and whose blobs are gzip layers", async () => {
    const layer = await tarFile("base.tar", [
      { name: "etc/", type: "directory" },
      { name: "etc/motd", content: "hello\n" },
      { name: "bin/", type: "directory" },
      { name: "bin/tool", content: "#!/bin/sh\necho tool\n", mode: 0o755 },
      { name: "old.txt", content: "old\n" },
    ]);
    const rec = await store.createImage({
      layers: [{ tarPath: layer }],
      config: { Cmd: ["sh"], Env: ["PATH=/bin"] },
      history: [{ created_by: "import base" }],
      created: "2024-01-02T03:04:05Z",
      architecture: "amd64",
    });
    baseId = rec.id;
    const configBytes = store.configBlob(rec.id);
    assert.equal(sha256(configBytes), rec.id);
    const cfg = JSON.parse(configBytes.toString()) as ImageConfigBlob;
    assert.deepEqual(cfg.rootfs, { type: "layers", diff_ids: [sha256(await fsp.readFile(layer))] });
    assert.equal(cfg.os, "linux");
    assert.equal(cfg.architecture, "amd64");
    assert.deepEqual(cfg.config?.Cmd, ["sh"]);
    const blob = await fsp.readFile(store.blobPath(rec.layers[0]));
    assert.equal(sha256(blob), rec.layers[0]);
    assert.deepEqual(gunzipSync(blob), await fsp.readFile(layer));
    const root = await store.rootfsPath(rec.id);
    assert.equal(await fsp.readFile(path.join(root, "etc/motd"), "utf8"), "hello\n");
    assert.equal((await fsp.stat(path.join(root, "bin/tool"))).mode & 0o777, 0o755);
    assert.deepEqual(rec.layerSizes, [6 + 20 + 4]);
  });

  it("adds layers on top of a parent, applying whiteouts, with the parent's history kept", async () => {
    const layer = await tarFile("child.tar", [
      { name: "etc/", type: "directory" },
      { name: "etc/motd", content: "changed\n" },
      { name: ".wh.old.txt", content: "" },
      { name: "new/", type: "directory" },
      { name: "new/file", content: "new\n" },
    ]);
    const rec = await store.createImage({
      parent: baseId,
      layers: [{ tarPath: layer }],
      config: { Cmd: ["cat", "/new/file"], Env: ["PATH=/bin"], Labels: { a: "b" } },
      history: [
        { created_by: "/bin/sh -c change" },
        { created_by: '/bin/sh -c #(nop)  CMD ["cat" "/new/file"]', empty_layer: true },
      ],
      author: "me",
      comment: "a commit",
    });
    const base = store.get(baseId)!;
    assert.equal(rec.parent, baseId);
    assert.equal(rec.layers.length, 2);
    assert.equal(rec.layers[0], base.layers[0]);
    assert.equal(rec.diffIds[1], sha256(await fsp.readFile(layer)));
    const root = await store.rootfsPath(rec.id);
    assert.equal(await fsp.readFile(path.join(root, "etc/motd"), "utf8"), "changed\n");
    assert.equal(await fsp.readFile(path.join(root, "new/file"), "utf8"), "new\n");
    await assert.rejects(fsp.lstat(path.join(root, "old.txt")));
    // the parent's tree is untouched
    const baseRoot = await store.rootfsPath(baseId);
    assert.equal(await fsp.readFile(path.join(baseRoot, "old.txt"), "utf8"), "old\n");
    const hist = store.history(rec.id);
    assert.deepEqual(
      hist.map((h) => h.CreatedBy),
      ['/bin/sh -c #(nop)  CMD ["cat" "/new/file"]', "/bin/sh -c change", "import base"],
    );
    const insp = store.inspect(rec.id);
    assert.equal(insp.Author, "me");
    assert.equal(insp.Comment, "a commit");
    assert.equal(insp.Parent, baseId);
    assert.deepEqual(insp.Config.Labels, { a: "b" });

    // survives a reload of the index
    const again = new ImageStore(path.join(work, "store"), { insecureRegistries: [], mirrors: [] });
    await again.init();
    assert.deepEqual(again.get(rec.id)?.diffIds, rec.diffIds);
  });

  it("rejects history that does not match the layers, and an unknown parent", async () => {
    const layer = await tarFile("x.tar", [{ name: "x", content: "x" }]);
    await assert.rejects(
      store.createImage({ layers: [{ tarPath: layer }], config: {}, history: [] }),
      /history has 0 layer entries for 1 layers/,
    );
    await assert.rejects(
      store.createImage({ parent: "sha256:" + "0".repeat(64), layers: [], config: {} }),
      /No such image/,
    );
  });

  it("an image without new layers (only config changes) shares the parent's layers", async () => {
    const rec = await store.createImage({
      parent: baseId,
      layers: [],
      config: { Cmd: ["true"] },
      history: [{ created_by: "/bin/sh -c #(nop)  CMD true", empty_layer: true }],
    });
    assert.deepEqual(rec.layers, store.get(baseId)!.layers);
    const root = await store.rootfsPath(rec.id);
    assert.equal(await fsp.readFile(path.join(root, "etc/motd"), "utf8"), "hello\n");
  });

  it("yields a manifest a registry accepts, with gzip layer descriptors", async () => {
    const child = store.list().find((r) => r.layers.length === 2)!;
    const { bytes, digest, mediaType } = await store.manifestFor(child.id);
    assert.equal(mediaType, "application/vnd.docker.distribution.manifest.v2+json");
    const m = JSON.parse(bytes.toString()) as ImageManifest;
    assert.equal(m.config.digest, child.id);
    assert.deepEqual(
      m.layers.map((l) => l.digest),
      child.layers,
    );
    for (const l of m.layers) assert.equal(l.mediaType, "application/vnd.docker.image.rootfs.diff.tar.gzip");
    for (const l of child.layers)
      await pushBlob(registry.base, "created/child", await fsp.readFile(store.blobPath(l)));
    await pushBlob(registry.base, "created/child", store.configBlob(child.id));
    const pushed = await pushManifest(registry.base, "created/child", "v1", bytes, mediaType);
    assert.equal(pushed, digest);
    // and it pulls back to the same image id
    const other = new ImageStore(path.join(work, "store2"), {
      insecureRegistries: [registry.host],
      mirrors: [],
    });
    await other.init();
    const pulled = await other.pull(`${registry.host}/created/child:v1`);
    assert.equal(pulled.id, child.id);
    const root = await other.rootfsPath(pulled.id);
    assert.equal(await fsp.readFile(path.join(root, "new/file"), "utf8"), "new\n");
  });
});
