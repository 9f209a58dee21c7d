import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { DockerError } from "@sockerless/api";
import { hostPlatform, ImageStore, loadImages, saveImages, type RegistryOptions } from "../src/index.js";
import { makeTar, sha256, tmpDir, type TarEntry } from "./helpers.js";

const opts: RegistryOptions = { insecureRegistries: [], mirrors: [] };
const arch = hostPlatform().architecture;
let work: string;

async function newStore(): Promise<ImageStore> {
  const store = new ImageStore(await fsp.mkdtemp(path.join(work, "store-")), opts);
  await store.init();
  return store;
}

const body = (b: Buffer) => Readable.from([b]);

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** An image config for these layers. */
function configFor(layers: Buffer[], cmd = ["/bin/sh"]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: arch,
      os: "linux",
      created: "2024-03-04T05:06:07Z",
      config: { Env: ["PATH=/bin"], Cmd: cmd },
      rootfs: { type: "layers", diff_ids: layers.map((l) => sha256(l)) },
      history: layers.map(() => ({ created: "2024-03-04T05:06:07Z", created_by: "test" })),
    }),
  );
}

let layer1: Buffer;
let layer2: Buffer;

/** A tarball as Docker 20.10 writes it: <id>/layer.tar, <config>.json, manifest.json, repositories. */
async function legacyArchive(
  tags: string[],
  layers = [layer1, layer2],
  config = configFor([layer1, layer2]),
) {
  const entries: TarEntry[] = [];
  const ids = layers.map((l, i) => sha256(`v1-${i}-${sha256(l)}`).slice(7));
  layers.forEach((l, i) => {
    entries.push({ name: `${ids[i]}/`, type: "directory" });
    entries.push({ name: `${ids[i]}/VERSION`, content: "1.0" });
    entries.push({ name: `${ids[i]}/layer.tar`, content: l });
  });
  const cfgName = `${sha256(config).slice(7)}.json`;
  entries.push({ name: cfgName, content: config });
  entries.push({
    name: "manifest.json",
    content: JSON.stringify([
      { Config: cfgName, RepoTags: tags, Layers: ids.map((id) => `${id}/layer.tar`) },
    ]),
  });
  return { tar: await makeTar(entries), id: sha256(config) };
}

before(async () => {
  work = await tmpDir("sockerless-load-");
  layer1 = await makeTar([
    { name: "bin/", type: "directory" },
    { name: "bin/hello", content: "#!/bin/sh\necho hello\n", mode: 0o755 },
    { name: "etc/", type: "directory" },
    { name: "etc/release", content: "one\n" },
  ]);
  layer2 = await makeTar([{ name: "etc/release", content: "two\n" }, { name: "etc/.wh.gone" }]);
});

after(async () => {
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

describe("loadImages", () => {
  it("loads Docker 20.10's legacy layout, plain and gzip-compressed; ids and files as saved", async () => {
    const { tar, id } = await legacyArchive(["example.com/app:1.0", "app:latest"]);
    for (const input of [tar, gzipSync(tar)]) {
      const store = await newStore();
      const lines = await loadImages(store, body(input));
      assert.deepEqual(lines, ["Loaded image: example.com/app:1.0", "Loaded image: app:latest"]);
      const rec = store.resolve("app")!;
      assert.equal(rec.id, id);
      assert.deepEqual(rec.repoTags.sort(), ["app:latest", "example.com/app:1.0"]);
      assert.deepEqual(rec.repoDigests, []);
      assert.deepEqual(rec.config.Cmd, ["/bin/sh"]);
      const root = await store.rootfsPath(id);
      assert.equal(await fsp.readFile(path.join(root, "etc/release"), "utf8"), "two\n");
      assert.equal(((await fsp.stat(path.join(root, "bin/hello"))).mode & 0o777).toString(8), "755");
    }
  });

  it("round-trips its own save (OCI layout + manifest.json); untagged images print their id", async () => {
    const src = await newStore();
    const { tar, id } = await legacyArchive(["rt:1"]);
    await loadImages(src, body(tar));
    const saved = await readAll(await saveImages(src, ["rt:1"]));
    const dst = await newStore();
    assert.deepEqual(await loadImages(dst, body(saved)), ["Loaded image: rt:1"]);
    assert.equal(dst.resolve("rt:1")?.id, id);
    const byId = await readAll(await saveImages(src, [id]));
    const third = await newStore();
    assert.deepEqual(await loadImages(third, body(byId)), [`Loaded image ID: ${id}`]);
    assert.deepEqual(third.get(id)?.repoTags, []);
  });

  it("saves every tag of a repository named without a tag, and several images in one archive", async () => {
    const store = await newStore();
    const a = await legacyArchive(["multi:1", "multi:2"], [layer1], configFor([layer1], ["a"]));
    const b = await legacyArchive(["other:x"], [layer1, layer2], configFor([layer1, layer2], ["b"]));
    await loadImages(store, body(a.tar));
    await loadImages(store, body(b.tar));
    const saved = await readAll(await saveImages(store, ["multi", "other:x"]));
    const dst = await newStore();
    const lines = await loadImages(dst, body(saved));
    assert.deepEqual(lines.sort(), [
      "Loaded image: multi:1",
      "Loaded image: multi:2",
      "Loaded image: other:x",
    ]);
    assert.equal(dst.resolve("multi:2")?.id, a.id);
    assert.equal(dst.resolve("other:x")?.id, b.id);
    await assert.rejects(saveImages(store, ["nothere:1"]), {
      status: 404,
      message: "No such image: nothere:1",
    });
  });

  it("loads a bare OCI image layout (index.json, gzip layers, links between files)", async () => {
    const config = configFor([layer1]);
    const gz = gzipSync(layer1);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: sha256(config),
          size: config.length,
        },
        layers: [
          { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256(gz), size: gz.length },
        ],
      }),
    );
    const index = {
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: sha256(manifest),
          size: manifest.length,
          annotations: { "io.containerd.image.name": "docker.io/library/oci-only:v2" },
        },
      ],
    };
    const tar = await makeTar([
      { name: "oci-layout", content: '{"imageLayoutVersion":"1.0.0"}' },
      { name: "index.json", content: JSON.stringify(index) },
      { name: `blobs/sha256/${sha256(config).slice(7)}`, content: config },
      { name: `blobs/sha256/${sha256(manifest).slice(7)}`, content: manifest },
      { name: `blobs/sha256/${sha256(gz).slice(7)}`, content: gz },
      // as Docker 25 keeps legacy names pointing into blobs/
      { name: "legacy/layer.tar", type: "symlink", linkname: `../blobs/sha256/${sha256(gz).slice(7)}` },
    ]);
    const store = await newStore();
    assert.deepEqual(await loadImages(store, body(tar)), ["Loaded image: oci-only:v2"]);
    const rec = store.resolve("oci-only:v2")!;
    assert.equal(rec.id, sha256(config));
    assert.deepEqual(rec.layers, [sha256(gz)]);
    assert.equal(
      await fsp.readFile(path.join(await store.rootfsPath(rec.id), "etc/release"), "utf8"),
      "one\n",
    );
  });

  it("moves a tag from another image, saying so as dockerd does", async () => {
    const store = await newStore();
    const a = await legacyArchive(["mv:1"], [layer1], configFor([layer1], ["a"]));
    const b = await legacyArchive(["mv:1"], [layer1], configFor([layer1], ["b"]));
    await loadImages(store, body(a.tar));
    assert.deepEqual(await loadImages(store, body(b.tar)), [
      `The image mv:1 already exists, renaming the old one with ID ${a.id} to empty string`,
      "Loaded image: mv:1",
    ]);
    assert.deepEqual(store.get(a.id)?.repoTags, []);
  });

  it("rejects corrupt archives with a clear error and leaves nothing behind", async () => {
    const store = await newStore();
    const good = await legacyArchive(["ok:1"], [layer1], configFor([layer1]));
    await loadImages(store, body(good.tar));
    const blobsBefore = (await fsp.readdir(store.blobDir)).sort();
    const wrongDiff = await legacyArchive(["bad:1"], [layer2], configFor([layer1], ["other"]));
    const cases: [string, Buffer, RegExp][] = [
      ["not a tar", Buffer.from("this is not a tarball\n".repeat(50)), /^invalid archive: /],
      ["truncated", wrongDiff.tar.subarray(0, 1500), /^invalid archive: /],
      ["empty", Buffer.alloc(0), /^invalid archive: /],
      [
        "diff id mismatch",
        wrongDiff.tar,
        /^invalid diffID for layer 0: expected "sha256:[a-f0-9]+", got "sha256:/,
      ],
      [
        "entry outside the archive",
        await makeTar([{ name: "../evil", content: "x" }]),
        /^invalid archive: entry "..\/evil" points outside the archive/,
      ],
      [
        "no manifest",
        await makeTar([{ name: "hello.txt", content: "x" }]),
        /neither manifest.json nor index.json/,
      ],
      [
        "layer missing",
        await makeTar([
          {
            name: "manifest.json",
            content: JSON.stringify([{ Config: "c.json", RepoTags: ["x:1"], Layers: ["l.tar"] }]),
          },
          { name: "c.json", content: configFor([layer1]) },
        ]),
        /l\.tar: no such file in the archive/,
      ],
    ];
    for (const [what, input, msg] of cases) {
      await assert.rejects(
        loadImages(store, body(input)),
        (e: unknown) => e instanceof DockerError && e.status === 400 && msg.test(e.message),
        what,
      );
    }
    assert.deepEqual(
      store.list().map((r) => r.repoTags),
      [["ok:1"]],
    );
    assert.deepEqual((await fsp.readdir(store.blobDir)).sort(), blobsBefore, "no stray blobs");
    assert.deepEqual(await fsp.readdir(store.tmpDir), [], "no temp files");
    assert.equal(
      await fsp.readFile(path.join(await store.rootfsPath("ok:1"), "etc/release"), "utf8"),
      "one\n",
    );
  });
});
