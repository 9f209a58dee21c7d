import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { DockerError } from "@sockerless/api";
import { hostPlatform, ImageStore, type ProgressMessage, type RegistryOptions } from "../src/index.js";
import {
  freePort,
  makeTar,
  pushImage,
  pushIndex,
  pushManifest,
  startFront,
  startRegistry,
  tmpDir,
  type BuiltImage,
  type Registry,
} from "./helpers.js";

const REPO = "test/img";
const opts: RegistryOptions = { insecureRegistries: [], mirrors: [] };
const hostArch = hostPlatform().architecture;
const otherArch = hostArch === "arm64" ? "amd64" : "arm64";

let reg: Registry;
let work: string;
let hostImg: BuiltImage;
let otherImg: BuiltImage;
let indexDigest: string;

const lexists = async (p: string) =>
  fsp.lstat(p).then(
    () => true,
    () => false,
  );

async function newStore(): Promise<{ store: ImageStore; root: string }> {
  const root = await fsp.mkdtemp(path.join(work, "store-"));
  const store = new ImageStore(root, opts);
  await store.init();
  return { store, root };
}

const isDockerError = (status: number, msg: RegExp | string) => (e: unknown) => {
  assert.ok(e instanceof DockerError, `expected DockerError, got ${String(e)}`);
  assert.equal(e.status, status, e.message);
  if (typeof msg === "string") assert.equal(e.message, msg);
  else assert.match(e.message, msg);
  return true;
};

before(async () => {
  work = await tmpDir("sockerless-pull-");
  reg = await startRegistry();
  const layer1 = await makeTar([
    { name: "bin/", type: "directory" },
    { name: "bin/busybox", content: "#!busybox\n".repeat(100_000), mode: 0o4755 },
    { name: "bin/sh", type: "symlink", linkname: "/bin/busybox" },
    { name: "etc/", type: "directory" },
    { name: "etc/hello.txt", content: "hello world\n" },
    { name: "etc/gone.txt", content: "to be deleted\n" },
    { name: "etc/arch", content: hostArch },
    { name: "opq/", type: "directory" },
    { name: "opq/old.txt", content: "old" },
  ]);
  const layer2 = await makeTar([
    { name: "etc/.wh.gone.txt" },
    { name: "opq/", type: "directory" },
    { name: "opq/.wh..wh..opq" },
    { name: "opq/new.txt", content: "new" },
    { name: "etc/layer2.txt", content: "second layer" },
  ]);
  hostImg = await pushImage(reg.base, REPO, {
    architecture: hostArch,
    layers: [
      { tar: layer1, gzip: true },
      { tar: layer2, gzip: true },
    ],
  });
  const otherLayer = await makeTar([{ name: "etc/arch", content: otherArch }]);
  otherImg = await pushImage(reg.base, REPO, {
    architecture: otherArch,
    oci: true,
    layers: [{ tar: otherLayer, gzip: false }],
  });
  indexDigest = (
    await pushIndex(reg.base, REPO, "latest", [
      { img: hostImg, architecture: hostArch },
      { img: otherImg, architecture: otherArch, ...(otherArch === "arm64" ? { variant: "v8" } : {}) },
    ])
  ).digest;
  // the host manifest alone under a tag, and under library/mirrored for the mirror test
  await pushManifest(reg.base, REPO, "single", hostImg.manifest, hostImg.manifestMediaType);
  const mirrored = await pushImage(reg.base, "library/mirrored", {
    architecture: hostArch,
    layers: [{ tar: layer2, gzip: true }],
  });
  await pushManifest(reg.base, "library/mirrored", "latest", mirrored.manifest, mirrored.manifestMediaType);
});

after(async () => {
  await reg?.stop();
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

describe("ImageStore.pull", () => {
  it("pulls through an OCI index for the host platform, with docker's progress messages", async () => {
    const { store, root } = await newStore();
    const ref = `${reg.host}/${REPO}`;
    const msgs: ProgressMessage[] = [];
    const rec = await store.pull(ref, { onProgress: (m) => msgs.push(m) });

    assert.equal(rec.id, hostImg.id);
    assert.equal(rec.id, "sha256:" + createHash("sha256").update(hostImg.configBytes).digest("hex"));
    assert.deepEqual(rec.repoTags, [`${ref}:latest`]);
    assert.deepEqual(rec.repoDigests, [`${ref}@${indexDigest}`]);
    assert.equal(rec.architecture, hostArch);
    assert.equal(rec.os, "linux");
    assert.deepEqual(
      rec.diffIds,
      hostImg.layers.map((l) => l.diffId),
    );
    assert.deepEqual(
      rec.layers,
      hostImg.layers.map((l) => l.digest),
    );
    assert.equal(rec.manifestDigest, hostImg.manifestDigest);
    assert.deepEqual(rec.config.Cmd, ["/bin/sh"]);
    assert.equal(rec.size, 1_000_000 + "/bin/busybox".length + 12 + 14 + hostArch.length + 3 + 3 + 12);

    // progress
    const layerIds = hostImg.layers.map((l) => l.digest.slice(7, 19));
    assert.deepEqual(msgs[0], { status: `Pulling from ${REPO}`, id: "latest" });
    for (const id of layerIds) {
      const statuses = msgs.filter((m) => m.id === id).map((m) => m.status);
      assert.equal(statuses[0], "Pulling fs layer");
      assert.ok(statuses.includes("Downloading"));
      const order = ["Verifying Checksum", "Download complete", "Extracting", "Pull complete"].map((s) =>
        statuses.indexOf(s),
      );
      assert.ok(
        order.every((i, k) => i > 0 && (k === 0 || i > order[k - 1])),
        `${id}: ${statuses.join(",")}`,
      );
    }
    const dl = msgs.find((m) => m.status === "Downloading" && m.id === layerIds[0]);
    assert.equal(dl?.progressDetail?.total, hostImg.layers[0].compressed.length);
    assert.match(dl?.progress ?? "", /^\[=*>\s*\]\s+\S+\/\S+$/);
    assert.deepEqual(msgs.at(-2), { status: `Digest: ${indexDigest}` });
    assert.deepEqual(msgs.at(-1), { status: `Status: Downloaded newer image for ${ref}:latest` });

    // content-addressed blobs
    for (const d of [rec.id, ...rec.layers, hostImg.manifestDigest]) {
      assert.ok(await lexists(path.join(root, "blobs/sha256", d.slice(7))), d);
    }
    assert.deepEqual(store.configBlob(rec.id), hostImg.configBytes);

    // rootfs
    const fs = await store.rootfsPath(rec.id);
    assert.equal(fs, path.join(root, "rootfs", rec.id.slice(7)));
    assert.equal(await fsp.readFile(path.join(fs, "etc/hello.txt"), "utf8"), "hello world\n");
    assert.equal(await fsp.readFile(path.join(fs, "etc/layer2.txt"), "utf8"), "second layer");
    assert.equal(await fsp.readFile(path.join(fs, "etc/arch"), "utf8"), hostArch);
    assert.equal(await lexists(path.join(fs, "etc/gone.txt")), false, "whiteout applied");
    assert.deepEqual(await fsp.readdir(path.join(fs, "opq")), ["new.txt"], "opaque dir applied");
    assert.equal(await fsp.readlink(path.join(fs, "bin/sh")), "busybox", "absolute symlink made relative");
    assert.equal((await fsp.stat(path.join(fs, "bin/busybox"))).mode & 0o7777, 0o4755);

    // pulling again: up to date, no layer messages
    const again: ProgressMessage[] = [];
    const rec2 = await store.pull(`${ref}:latest`, { onProgress: (m) => again.push(m) });
    assert.equal(rec2.id, rec.id);
    assert.deepEqual(
      again.map((m) => m.status),
      [`Pulling from ${REPO}`, `Digest: ${indexDigest}`, `Status: Image is up to date for ${ref}:latest`],
    );
    assert.equal(store.list().length, 1);
  });

  it("selects the requested platform from the index, and 404s when none matches", async () => {
    const { store } = await newStore();
    const ref = `${reg.host}/${REPO}:latest`;
    const rec = await store.pull(ref, { platform: { os: "linux", architecture: otherArch } });
    assert.equal(rec.id, otherImg.id);
    assert.equal(rec.architecture, otherArch);
    assert.equal(
      await fsp.readFile(path.join(await store.rootfsPath(rec.id), "etc/arch"), "utf8"),
      otherArch,
    );
    assert.deepEqual(rec.repoDigests, [`${reg.host}/${REPO}@${indexDigest}`]);

    await assert.rejects(
      store.pull(ref, { platform: { os: "linux", architecture: "s390x" } }),
      isDockerError(404, "no matching manifest for linux/s390x in the manifest list entries"),
    );
    await assert.rejects(
      store.pull(ref, { platform: { os: "linux", architecture: "arm", variant: "v7" } }),
      isDockerError(404, "no matching manifest for linux/arm/v7 in the manifest list entries"),
    );
    // a plain manifest with an explicit, different platform
    await assert.rejects(
      store.pull(`${reg.host}/${REPO}:single`, { platform: { os: "linux", architecture: otherArch } }),
      isDockerError(404, /was found but does not match the specified platform/),
    );
  });

  it("pulls a plain manifest by tag and by digest", async () => {
    const { store } = await newStore();
    const name = `${reg.host}/${REPO}`;
    const single = await store.pull(`${name}:single`);
    assert.equal(single.id, hostImg.id);
    assert.deepEqual(single.repoTags, [`${name}:single`]);
    assert.deepEqual(single.repoDigests, [`${name}@${hostImg.manifestDigest}`]);

    const msgs: ProgressMessage[] = [];
    const byDigest = await store.pull(`${name}@${indexDigest}`, { onProgress: (m) => msgs.push(m) });
    assert.equal(byDigest.id, hostImg.id);
    assert.deepEqual(byDigest.repoTags, [`${name}:single`]);
    assert.deepEqual(
      byDigest.repoDigests.sort(),
      [`${name}@${hostImg.manifestDigest}`, `${name}@${indexDigest}`].sort(),
    );
    assert.deepEqual(msgs[0], { status: `Pulling from ${REPO}`, id: indexDigest });
    assert.equal(msgs.at(-1)?.status, `Status: Downloaded newer image for ${name}@${indexDigest}`);
    assert.equal(store.resolve(`${name}@${indexDigest}`)?.id, hostImg.id);

    await assert.rejects(
      store.pull(`${name}@sha256:${"0".repeat(64)}`),
      isDockerError(404, new RegExp(`^manifest for ${name}@sha256:0+ not found: manifest unknown: `)),
    );
  });

  it("reports a missing tag, a missing repository and an unreachable registry like dockerd", async () => {
    const { store } = await newStore();
    await assert.rejects(
      store.pull(`${reg.host}/${REPO}:nope`),
      isDockerError(
        404,
        `manifest for ${reg.host}/${REPO}:nope not found: manifest unknown: manifest unknown`,
      ),
    );
    await assert.rejects(
      store.pull(`${reg.host}/does/not-exist`),
      isDockerError(404, /not found: .*unknown/),
    );
    const port = await freePort();
    await assert.rejects(
      store.pull(`127.0.0.1:${port}/x`),
      isDockerError(500, new RegExp(`^Get "http://127\\.0\\.0\\.1:${port}/v2/": .*ECONNREFUSED`)),
    );
    await assert.rejects(store.pull("Not/Valid"), isDockerError(400, /^invalid reference format/));
    assert.equal(store.list().length, 0);
  });

  it("rejects a blob whose digest does not match and stores nothing", async () => {
    const { store, root } = await newStore();
    const bad = hostImg.layers[1].digest;
    const front = await startFront(reg.base, { tamperDigest: bad });
    try {
      await assert.rejects(
        store.pull(`${front.host}/${REPO}:single`),
        isDockerError(500, `filesystem layer verification failed for digest ${bad}`),
      );
      assert.equal(store.list().length, 0);
      assert.equal(await lexists(path.join(root, "blobs/sha256", bad.slice(7))), false);
      assert.deepEqual(await fsp.readdir(path.join(root, "tmp")), [], "no temp leftovers");
      assert.deepEqual(await fsp.readdir(path.join(root, "rootfs")), []);
      // a tampered config is rejected too
      const front2 = await startFront(reg.base, { tamperDigest: hostImg.id });
      try {
        await assert.rejects(
          store.pull(`${front2.host}/${REPO}:single`),
          isDockerError(500, `image config verification failed for digest ${hostImg.id}`),
        );
      } finally {
        await front2.stop();
      }
      // the untampered registry works with the same store; a good layer that the failed pulls
      // finished is kept and reused (whether it finished before the bad one stopped the pull
      // depends on timing: the pull cancels the other downloads when one fails)
      const good = hostImg.layers[0].digest;
      const kept = await lexists(path.join(root, "blobs/sha256", good.slice(7)));
      const msgs: ProgressMessage[] = [];
      const rec = await store.pull(`${reg.host}/${REPO}:single`, { onProgress: (m) => msgs.push(m) });
      assert.equal(rec.id, hostImg.id);
      const reused = msgs.some((m) => m.id === good.slice(7, 19) && m.status === "Already exists");
      assert.equal(reused, kept, JSON.stringify(msgs));
    } finally {
      await front.stop();
    }
  });

  it("authenticates with bearer tokens (basic credentials to the token endpoint)", async () => {
    const front = await startFront(reg.base, { auth: "bearer" });
    try {
      const { store } = await newStore();
      const ref = `${front.host}/${REPO}:single`;
      await assert.rejects(
        store.pull(ref),
        isDockerError(500, /unauthorized: incorrect username or password/),
      );
      await assert.rejects(
        store.pull(ref, { auth: { username: "alice", password: "wrong" } }),
        isDockerError(500, /unauthorized: incorrect username or password/),
      );
      const rec = await store.pull(ref, { auth: { username: "alice", password: "secret" } });
      assert.equal(rec.id, hostImg.id);
      const last = front.tokenRequests.at(-1);
      assert.equal(last?.authorization, "Basic " + Buffer.from("alice:secret").toString("base64"));
      assert.equal(last?.query.service, "front");
      assert.equal(last?.query.scope, `repository:${REPO}:pull`);
      assert.equal(last?.query.account, "alice");
      // a registry token is used as is
      const { store: s2 } = await newStore();
      await assert.rejects(
        s2.pull(ref, { auth: { registrytoken: "forged" } }),
        isDockerError(500, /unauthorized/),
      );
    } finally {
      await front.stop();
    }
  });

  it("follows blob redirects to another origin", async () => {
    const front = await startFront(reg.base, { auth: "bearer", redirectBlobs: true });
    try {
      const { store } = await newStore();
      const rec = await store.pull(`${front.host}/${REPO}:single`, {
        auth: { username: "alice", password: "secret" },
      });
      assert.equal(rec.id, hostImg.id);
      assert.ok(front.requests.some((r) => r.includes("/blobs/")));
    } finally {
      await front.stop();
    }
  });

  it("authenticates with basic auth challenges", async () => {
    const front = await startFront(reg.base, { auth: "basic" });
    try {
      const { store } = await newStore();
      const ref = `${front.host}/${REPO}:single`;
      await assert.rejects(store.pull(ref), isDockerError(500, /unauthorized: authentication required/));
      const rec = await store.pull(ref, { auth: { username: "alice", password: "secret" } });
      assert.equal(rec.id, hostImg.id);
    } finally {
      await front.stop();
    }
  });

  it("uses registry mirrors for docker.io images only, falling back across mirrors", async () => {
    const deadPort = await freePort();
    const failing = await startFront(reg.base, { failManifests: true });
    try {
      const root = await fsp.mkdtemp(path.join(work, "store-"));
      const store = new ImageStore(root, {
        insecureRegistries: [],
        mirrors: [`http://127.0.0.1:${deadPort}`, failing.base, reg.base],
      });
      await store.init();
      const msgs: ProgressMessage[] = [];
      const rec = await store.pull("mirrored", { onProgress: (m) => msgs.push(m) });
      assert.deepEqual(rec.repoTags, ["mirrored:latest"]);
      assert.match(rec.repoDigests[0], /^mirrored@sha256:[a-f0-9]{64}$/);
      assert.deepEqual(msgs[0], { status: "Pulling from library/mirrored", id: "latest" });
      assert.equal(msgs.at(-1)?.status, "Status: Downloaded newer image for mirrored:latest");
      assert.ok(failing.requests.some((r) => r.includes("/manifests/")));
      assert.equal(store.resolve("docker.io/library/mirrored:latest")?.id, rec.id);
    } finally {
      await failing.stop();
    }
  });

  it("honours an abort signal", async () => {
    const { store } = await newStore();
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(store.pull(`${reg.host}/${REPO}:single`, { signal: ac.signal }));
    assert.equal(store.list().length, 0);
  });
});

describe("ImageStore bookkeeping", () => {
  it("resolves, tags, untags and removes with dockerd's semantics; persists across instances", async () => {
    const { store, root } = await newStore();
    const name = `${reg.host}/${REPO}`;
    const rec = await store.pull(name);
    const id = rec.id;
    const hex = id.slice(7);

    // resolve
    assert.equal(store.resolve(id)?.id, id);
    assert.equal(store.resolve(hex)?.id, id);
    assert.equal(store.resolve(hex.slice(0, 5))?.id, id);
    assert.equal(store.resolve(`sha256:${hex.slice(0, 8)}`)?.id, id);
    assert.equal(store.resolve(name)?.id, id);
    assert.equal(store.resolve(`${name}:latest`)?.id, id);
    assert.equal(store.resolve(`${name}@${indexDigest}`)?.id, id);
    assert.equal(store.resolve(`${name}:other`), undefined);
    assert.equal(store.resolve("busybox"), undefined);
    assert.equal(store.get(id)?.id, id);

    // tag
    await store.tag(name, "busybox");
    await store.tag(hex.slice(0, 12), "docker.io/library/busybox", "1.36");
    await store.tag(id, "extra/repo:v1");
    assert.equal(store.resolve("busybox")?.id, id);
    assert.equal(store.resolve("docker.io/library/busybox:latest")?.id, id);
    assert.equal(store.resolve("busybox:1.36")?.id, id);
    assert.deepEqual(store.get(id)?.repoTags, [
      `${name}:latest`,
      "busybox:latest",
      "busybox:1.36",
      "extra/repo:v1",
    ]);
    await assert.rejects(store.tag("nope", "x"), isDockerError(404, "No such image: nope"));
    await assert.rejects(store.tag(id, "UPPER"), isDockerError(400, /invalid reference format/));
    await assert.rejects(store.tag(id, "x", "bad tag"), isDockerError(400, "invalid tag format"));
    await assert.rejects(store.tag(id, `x@${indexDigest}`), isDockerError(400, /digest/));
    assert.match(store.inspect(id).Metadata.LastTagTime, /^\d{4}-\d\d-\d\dT/);

    // views
    const insp = store.inspect("busybox");
    assert.equal(insp.Id, id);
    assert.deepEqual(insp.RootFS, { Type: "layers", Layers: hostImg.layers.map((l) => l.diffId) });
    assert.deepEqual(insp.GraphDriver, { Name: "sockerless", Data: null });
    assert.equal(insp.Config.Cmd?.[0], "/bin/sh");
    assert.equal(insp.Config.Hostname, "");
    assert.equal(insp.Config.Image, "");
    assert.equal(insp.Os, "linux");
    assert.equal(insp.Size, rec.size);
    assert.equal(insp.Created, "2024-01-02T03:04:05.123456789Z");
    assert.equal(insp.Author, "sockerless tests");
    assert.equal(insp.Container, "");
    assert.equal(insp.DockerVersion, "");
    assert.equal(insp.ContainerConfig.Volumes, null); // present (API < 1.45) and empty, as dockerd
    const sum = store.summary(store.get(id) as NonNullable<ReturnType<ImageStore["get"]>>);
    assert.equal(sum.Created, Math.floor(Date.parse("2024-01-02T03:04:05Z") / 1000));
    assert.equal(sum.SharedSize, -1);
    assert.equal(sum.Containers, -1);
    assert.deepEqual(sum.Labels, { "org.example.arch": hostArch });
    assert.equal("VirtualSize" in sum, false);
    const hist = store.history(id);
    assert.equal(hist.length, 3);
    assert.equal(hist[0].Id, id);
    assert.equal(hist[0].CreatedBy, "RUN layer 2");
    assert.equal(hist[0].Comment, "buildkit.dockerfile.v0");
    assert.equal(hist[0].Size, rec.layerSizes?.[1]);
    assert.ok(hist[0].Tags?.includes("busybox:latest"));
    assert.deepEqual(
      hist.slice(1).map((h) => [h.Id, h.Size, h.Tags]),
      [
        ["<missing>", 0, null],
        ["<missing>", rec.layerSizes?.[0], null],
      ],
    );

    // persistence
    const reopened = new ImageStore(root, opts);
    await reopened.init();
    assert.deepEqual(reopened.list(), store.list());
    assert.equal(reopened.resolve("busybox:1.36")?.id, id);

    // untag: other tags remain
    assert.deepEqual(await store.remove("busybox:1.36"), [{ Untagged: "busybox:1.36" }]);
    // removing the last tag of a repository drops its digest references as well
    assert.deepEqual(await store.remove(`${name}:latest`), [
      { Untagged: `${name}:latest` },
      { Untagged: `${name}@${indexDigest}` },
    ]);
    // by id with several repositories: conflict unless forced
    await assert.rejects(
      store.remove(hex.slice(0, 12)),
      isDockerError(
        409,
        `conflict: unable to delete ${hex.slice(0, 12)} (must be forced) - image is referenced in multiple repositories`,
      ),
    );
    await assert.rejects(store.remove("nope"), isDockerError(404, "No such image: nope"));
    const rootfs = await store.rootfsPath(id);
    const deleted = await store.remove(id, { force: true });
    // dockerd lists references sorted by their full name (docker.io/extra/... < docker.io/library/...)
    assert.deepEqual(deleted.slice(0, 3), [
      { Untagged: "extra/repo:v1" },
      { Untagged: "busybox:latest" },
      { Deleted: id },
    ]);
    assert.equal(deleted.length, 3 + hostImg.layers.length);
    assert.ok(deleted.slice(3).every((d) => /^sha256:[a-f0-9]{64}$/.test(d.Deleted ?? "")));
    assert.equal(deleted.at(-1)?.Deleted, hostImg.layers[0].diffId, "bottom layer's chain id is its diff id");
    assert.equal(store.list().length, 0);
    assert.deepEqual(await fsp.readdir(path.join(root, "blobs/sha256")), []);
    assert.equal(await lexists(rootfs), false);

    const again = new ImageStore(root, opts);
    await again.init();
    assert.equal(again.list().length, 0);
  });

  it("removing the only tag or a single-repository image by id deletes it", async () => {
    const { store } = await newStore();
    const name = `${reg.host}/${REPO}`;
    const rec = await store.pull(`${name}:single`);
    // shared layer between two images: deleting one keeps the other's blobs
    const other = await store.pull(`${name}:latest`, { platform: { os: "linux", architecture: otherArch } });
    const res = await store.remove(rec.id.slice(7, 19));
    assert.deepEqual(res.slice(0, 3), [
      { Untagged: `${name}:single` },
      { Untagged: `${name}@${hostImg.manifestDigest}` },
      { Deleted: rec.id },
    ]);
    assert.ok(store.get(other.id));
    const res2 = await store.remove(`${name}:latest`);
    assert.deepEqual(res2.slice(0, 3), [
      { Untagged: `${name}:latest` },
      { Untagged: `${name}@${indexDigest}` },
      { Deleted: other.id },
    ]);
    assert.equal(store.list().length, 0);
  });

  it("shares one unpack between concurrent rootfsPath callers and rebuilds a missing rootfs", async () => {
    const { store, root } = await newStore();
    const rec = await store.pull(`${reg.host}/${REPO}:single`);
    const dir = path.join(root, "rootfs", rec.id.slice(7));
    await fsp.rm(dir, { recursive: true, force: true });
    const [a, b, c] = await Promise.all([
      store.rootfsPath(rec.id),
      store.rootfsPath(`${reg.host}/${REPO}:single`),
      store.rootfsPath(rec.id.slice(7, 15)),
    ]);
    assert.equal(a, dir);
    assert.equal(b, dir);
    assert.equal(c, dir);
    assert.equal(await fsp.readFile(path.join(dir, "etc/hello.txt"), "utf8"), "hello world\n");
    assert.equal(await fsp.readlink(path.join(dir, "bin/sh")), "busybox");
    assert.deepEqual(await fsp.readdir(path.join(root, "tmp")), []);
    await assert.rejects(store.rootfsPath("nope"), isDockerError(404, "No such image: nope"));
  });

  it("prunes dangling images, or all unused ones, with filters", async () => {
    const { store } = await newStore();
    const name = `${reg.host}/${REPO}`;
    const a = await store.pull(`${name}:single`);
    const b = await store.pull(`${name}:latest`, { platform: { os: "linux", architecture: otherArch } });
    // make a dangling: retag its tag onto b
    await store.tag(b.id, name, "single");
    assert.deepEqual(store.get(a.id)?.repoTags, []);
    assert.deepEqual(
      store.summary(store.get(a.id) as NonNullable<ReturnType<ImageStore["get"]>>).RepoTags,
      [],
    );

    // in use → kept
    let rep = await store.prune({}, new Set([a.id]));
    assert.deepEqual(rep, { ImagesDeleted: null, SpaceReclaimed: 0 });
    // until in the past → kept
    rep = await store.prune({ until: "2000-01-01T00:00:00Z" }, new Set());
    assert.equal(rep.ImagesDeleted, null);
    // label mismatch → kept
    rep = await store.prune({ label: ["org.example.arch=none"] }, new Set());
    assert.equal(rep.ImagesDeleted, null);
    rep = await store.prune({ label: [`org.example.arch=${hostArch}`], until: "1h" }, new Set());
    assert.deepEqual(rep.ImagesDeleted?.slice(0, 2), [
      { Untagged: `${name}@${hostImg.manifestDigest}` },
      { Deleted: a.id },
    ]);
    assert.equal(rep.SpaceReclaimed, a.size);
    assert.equal(store.get(a.id), undefined);
    assert.ok(store.get(b.id));
    // dangling only: tagged b stays; dangling=false removes it
    rep = await store.prune({ dangling: true }, new Set());
    assert.equal(rep.ImagesDeleted, null);
    rep = await store.prune({ dangling: false, "label!": ["nope"] }, new Set());
    assert.ok(rep.ImagesDeleted?.some((d) => d.Deleted === b.id));
    assert.equal(rep.SpaceReclaimed, b.size);
    assert.equal(store.list().length, 0);
    await assert.rejects(store.prune({ until: "garbage" }, new Set()), isDockerError(400, /until|time/));
  });
});
