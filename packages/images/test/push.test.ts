import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { DockerError } from "@sockerless/api";
import {
  hostPlatform,
  ImageStore,
  login,
  pushImage,
  type ProgressMessage,
  type RegistryOptions,
} from "../src/index.js";
import {
  htpasswdLine,
  makeTar,
  pushImage as pushToRegistry,
  sha256,
  startFront,
  startRegistry,
  tmpDir,
  type BuiltImage,
  type Registry,
} from "./helpers.js";

const opts: RegistryOptions = { insecureRegistries: [], mirrors: [] };
const arch = hostPlatform().architecture;

let src: Registry; // where images are pulled from
let dst: Registry; // where they are pushed to (no auth; fronted for auth and request counting)
let secured: Registry; // htpasswd (Basic) auth
let work: string;
let small: BuiltImage;
let big: BuiltImage;

async function newStore(): Promise<ImageStore> {
  const store = new ImageStore(await fsp.mkdtemp(path.join(work, "store-")), opts);
  await store.init();
  return store;
}

async function manifestOf(base: string, repo: string, ref: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/v2/${repo}/manifests/${ref}`, {
    headers: {
      accept:
        "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
      ...headers,
    },
  });
  return {
    status: res.status,
    body: Buffer.from(await res.arrayBuffer()),
    type: res.headers.get("content-type"),
  };
}

const statuses = (msgs: ProgressMessage[]) => msgs.map((m) => `${m.status ?? ""}${m.id ? ` ${m.id}` : ""}`);

before(async () => {
  work = await tmpDir("sockerless-push-");
  [src, dst, secured] = await Promise.all([
    startRegistry(),
    startRegistry(),
    startRegistry({ htpasswd: await htpasswdLine("alice", "secret") }),
  ]);
  small = await pushToRegistry(src.base, "src/small", {
    architecture: arch,
    layers: [{ tar: await makeTar([{ name: "hello.txt", content: "hello\n" }]), gzip: true }],
  });
  await fetch(`${src.base}/v2/src/small/manifests/latest`, {
    method: "PUT",
    headers: { "content-type": small.manifestMediaType },
    body: new Uint8Array(small.manifest),
  });
  // incompressible, so the gzip blob is bigger than the chunk size used below
  big = await pushToRegistry(src.base, "src/big", {
    architecture: arch,
    oci: true,
    layers: [
      { tar: await makeTar([{ name: "a.txt", content: "a" }]), gzip: true },
      { tar: await makeTar([{ name: "random.bin", content: randomBytes(300_000) }]), gzip: true },
    ],
  });
  await fetch(`${src.base}/v2/src/big/manifests/latest`, {
    method: "PUT",
    headers: { "content-type": big.manifestMediaType },
    body: new Uint8Array(big.manifest),
  });
});

after(async () => {
  await Promise.all([src?.stop(), dst?.stop(), secured?.stop()]);
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

describe("pushImage", () => {
  it("pushes a pulled image byte for byte: monolithic PUTs, then 'Layer already exists'", async () => {
    const store = await newStore();
    const front = await startFront(dst.base);
    try {
      await store.pull(`${src.host}/src/small`);
      await store.tag(`${src.host}/src/small`, `${front.host}/team/small`, "v1");
      const msgs: ProgressMessage[] = [];
      await pushImage(store, `${front.host}/team/small`, "v1", { onProgress: (m) => msgs.push(m) });
      const layerId = small.layers[0].diffId.slice(7, 19);
      assert.deepEqual(statuses(msgs).slice(0, 2), [
        `The push refers to repository [${front.host}/team/small]`,
        `Preparing ${layerId}`,
      ]);
      assert.ok(statuses(msgs).includes(`Pushed ${layerId}`));
      assert.equal(msgs.at(-2)?.status, `v1: digest: ${small.manifestDigest} size: ${small.manifest.length}`);
      assert.deepEqual(msgs.at(-1)?.aux, {
        Tag: "v1",
        Digest: small.manifestDigest,
        Size: small.manifest.length,
      });
      assert.ok(front.requests.some((r) => r.startsWith("PUT /v2/team/small/blobs/uploads/")));
      assert.ok(!front.requests.some((r) => r.startsWith("PATCH")), "small blobs go up in one PUT");
      const m = await manifestOf(dst.base, "team/small", "v1");
      assert.equal(m.status, 200);
      assert.ok(m.body.equals(small.manifest), "the pulled manifest is pushed unchanged");
      assert.ok(
        store
          .resolve(`${front.host}/team/small:v1`)
          ?.repoDigests.includes(`${front.host}/team/small@${small.manifestDigest}`),
      );

      const again: ProgressMessage[] = [];
      await pushImage(store, `${front.host}/team/small`, "v1", { onProgress: (x) => again.push(x) });
      assert.ok(statuses(again).includes(`Layer already exists ${layerId}`));
    } finally {
      await front.stop();
    }
  });

  it("uploads big blobs in PATCH chunks and mounts layers from another repository", async () => {
    const store = await newStore();
    const front = await startFront(dst.base);
    try {
      await store.pull(`${src.host}/src/big`);
      await store.tag(`${src.host}/src/big`, `${front.host}/team/big`, "latest");
      const chunk = 100_000;
      await pushImage(store, `${front.host}/team/big`, "latest", { chunkSize: chunk });
      const bigLayer = big.layers[1].compressed.length;
      assert.ok(bigLayer > 2 * chunk);
      const patches = front.requests
        .map((r, i) => [r, front.requestSizes[i]] as const)
        .filter(([r]) => r.startsWith("PATCH /v2/team/big/blobs/uploads/"));
      assert.equal(patches.length, Math.ceil(bigLayer / chunk));
      assert.equal(
        patches.reduce((a, [, n]) => a + n, 0),
        bigLayer,
      );
      const m = await manifestOf(dst.base, "team/big", "latest");
      assert.ok(m.body.equals(big.manifest));
      const blob = await fetch(`${dst.base}/v2/team/big/blobs/${big.layers[1].digest}`);
      assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), big.layers[1].digest);

      // same registry, other repository: the layers are mounted, not uploaded
      await store.tag(`${src.host}/src/big`, `${front.host}/other/big`, "x");
      const before = front.requests.length;
      const msgs: ProgressMessage[] = [];
      await pushImage(store, `${front.host}/other/big`, "x", { onProgress: (x) => msgs.push(x) });
      const newReqs = front.requests.slice(before);
      assert.ok(newReqs.some((r) => r === "POST /v2/other/big/blobs/uploads/"));
      assert.ok(statuses(msgs).includes(`Mounted from team/big ${big.layers[1].diffId.slice(7, 19)}`));
      assert.ok(!newReqs.some((r) => r.startsWith("PATCH")));
      assert.ok((await manifestOf(dst.base, "other/big", "x")).body.equals(big.manifest));
    } finally {
      await front.stop();
    }
  });

  it("makes a manifest for an image that has none stored; pushes every tag when given no tag", async () => {
    const store = await newStore();
    const rec = await store.pull(`${src.host}/src/small`);
    await fsp.rm(store.blobPath(rec.manifestDigest!)); // as for a loaded or imported image
    await store.tag(rec.id, `${dst.host}/all/tags`, "one");
    await store.tag(rec.id, `${dst.host}/all/tags`, "two");
    const msgs: ProgressMessage[] = [];
    await pushImage(store, `${dst.host}/all/tags`, undefined, { onProgress: (m) => msgs.push(m) });
    const done = msgs
      .filter((m) => /^(one|two): digest/.test(m.status ?? ""))
      .map((m) => m.status?.split(":")[0]);
    assert.deepEqual(done, ["one", "two"]);
    const m = await manifestOf(dst.base, "all/tags", "two");
    const manifest = JSON.parse(m.body.toString()) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    assert.equal(m.type, "application/vnd.docker.distribution.manifest.v2+json");
    assert.equal(manifest.config.digest, rec.id);
    const layer = Buffer.from(
      await (await fetch(`${dst.base}/v2/all/tags/blobs/${manifest.layers[0].digest}`)).arrayBuffer(),
    );
    assert.equal(sha256(gunzipSync(layer)), rec.diffIds[0]);
  });

  it("retries a failed upload in a new session, as dockerd does", async () => {
    const store = await newStore();
    const front = await startFront(dst.base, { failUploads: 1 });
    try {
      await store.pull(`${src.host}/src/small`);
      await store.tag(`${src.host}/src/small`, `${front.host}/retry/small`, "1");
      const msgs: ProgressMessage[] = [];
      await pushImage(store, `${front.host}/retry/small`, "1", { onProgress: (m) => msgs.push(m) });
      const id = small.layers[0].diffId.slice(7, 19);
      const st = statuses(msgs);
      assert.ok(st.indexOf(`Retrying in 1 second ${id}`) < st.indexOf(`Pushed ${id}`), String(st));
      assert.ok(st.includes(`Retrying in 1 second ${id}`));
      assert.equal(front.requests.filter((r) => r === "POST /v2/retry/small/blobs/uploads/").length, 3);
      assert.ok((await manifestOf(dst.base, "retry/small", "1")).body.equals(small.manifest));
    } finally {
      await front.stop();
    }
  });

  it("asks the token server for pull,push (and pull on mount sources)", async () => {
    const store = await newStore();
    const front = await startFront(dst.base, { auth: "bearer" });
    try {
      await store.pull(`${src.host}/src/small`);
      await store.tag(`${src.host}/src/small`, `${front.host}/tok/a`, "1");
      await store.tag(`${src.host}/src/small`, `${front.host}/tok/b`, "1");
      const auth = { username: "alice", password: "secret" };
      await pushImage(store, `${front.host}/tok/a`, "1", { auth });
      await pushImage(store, `${front.host}/tok/b`, "1", { auth });
      const scopes = front.tokenRequests.map((t) => t.scopes.join(" "));
      assert.ok(scopes.includes("repository:tok/a:pull,push repository:tok/b:pull"), String(scopes));
      assert.ok(scopes.includes("repository:tok/b:pull,push repository:tok/a:pull"), String(scopes));
      assert.ok(
        front.tokenRequests.every(
          (t) => t.authorization === "Basic " + Buffer.from("alice:secret").toString("base64"),
        ),
      );
      await assert.rejects(
        pushImage(store, `${front.host}/tok/a`, "1", { auth: { username: "alice", password: "nope" } }),
        (e: unknown) => e instanceof DockerError && /incorrect username or password/.test(e.message),
      );
    } finally {
      await front.stop();
    }
  });

  it("Basic auth: no credentials, wrong ones, right ones; a missing image is a 404", async () => {
    const store = await newStore();
    await store.pull(`${src.host}/src/small`);
    await store.tag(`${src.host}/src/small`, `${secured.host}/basic/img`, "1");
    const ref = `${secured.host}/basic/img`;
    await assert.rejects(pushImage(store, ref, "1"), { message: "no basic auth credentials" });
    await assert.rejects(pushImage(store, ref, "1", { auth: { username: "alice", password: "bad" } }), {
      message: "unauthorized: authentication required",
    });
    const headers = { authorization: "Basic " + Buffer.from("alice:secret").toString("base64") };
    assert.equal(
      (await manifestOf(secured.base, "basic/img", "1", headers)).status,
      404,
      "nothing was pushed",
    );
    await pushImage(store, ref, "1", { auth: { username: "alice", password: "secret" } });
    assert.ok((await manifestOf(secured.base, "basic/img", "1", headers)).body.equals(small.manifest));
    await assert.rejects(pushImage(store, `${secured.host}/basic/none`, "1"), {
      status: 404,
      message: `An image does not exist locally with the tag: ${secured.host}/basic/none`,
    });
  });
});

describe("login", () => {
  it("checks credentials with Basic auth and through the bearer token flow", async () => {
    assert.deepEqual(
      await login({ username: "alice", password: "secret", serveraddress: secured.host }, opts),
      {
        Status: "Login Succeeded",
        IdentityToken: "",
      },
    );
    await assert.rejects(login({ username: "alice", password: "bad", serveraddress: secured.host }, opts), {
      status: 401,
      message: `login attempt to http://${secured.host}/v2/ failed with status: 401 Unauthorized`,
    });
    const front = await startFront(dst.base, { auth: "bearer" });
    try {
      await login({ username: "alice", password: "secret", serveraddress: `http://${front.host}` }, opts);
      assert.equal(front.tokenRequests.length, 1);
      assert.equal(front.tokenRequests[0].query.scope, undefined, "login asks for no repository scope");
      await assert.rejects(
        login({ username: "alice", password: "bad", serveraddress: front.host }, opts),
        (e: unknown) =>
          e instanceof DockerError && e.status === 401 && /incorrect username or password/.test(e.message),
      );
    } finally {
      await front.stop();
    }
  });
});
