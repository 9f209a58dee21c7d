// Images in and out through the docker CLI: push/login against a registry with auth, save/load
// with the reference Docker Engine, import. The reference engine is the judge of the archives.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import Docker from "dockerode";
import { gzipSync } from "node:zlib";
import { htpasswdLine, startRegistry, type Registry } from "../packages/images/test/helpers.js";
import { BUSYBOX, cleanup, docker, dockerOk, startDaemon, type Daemon } from "./helpers.js";

const REF = process.env.SOCKERLESS_REF_DOCKER_HOST;
const P = "transport-it"; // prefix of every name this suite creates

let d: Daemon;
let reg: Registry; // htpasswd-protected registry on an ephemeral port
let work: string;
const refImages: string[] = []; // to remove from the reference engine afterwards

const sl = (args: string[], input?: string | Buffer) => docker(d.host, args, { input, timeoutMs: 120_000 });
const slOk = (args: string[]) => dockerOk(d.host, args, { timeoutMs: 120_000 });
const ref = (args: string[]) => docker(REF as string, args, { timeoutMs: 120_000 });
const refOk = (args: string[]) => dockerOk(REF as string, args, { timeoutMs: 120_000 });

/** A docker config dir holding `user:password` for the test registry (what a wrong `docker login` cannot store). */
function configWith(user: string, password: string): string {
  const dir = mkdtempSync(path.join(work, "cfg-"));
  const auth = Buffer.from(`${user}:${password}`).toString("base64");
  writeFileSync(path.join(dir, "config.json"), JSON.stringify({ auths: { [reg.host]: { auth } } }));
  return dir;
}

before(async () => {
  if (!REF) throw new Error('SOCKERLESS_REF_DOCKER_HOST is not set (eval "$(bash scripts/test-env.sh)")');
  work = mkdtempSync(path.join(os.tmpdir(), "sockerless-transport-"));
  reg = await startRegistry({ htpasswd: await htpasswdLine("alice", "s3cret") });
  d = await startDaemon();
  await slOk(["pull", BUSYBOX]);
});

after(async () => {
  for (const img of refImages) await ref(["rmi", "-f", img]);
  await d?.stop();
  if (d) cleanup(d);
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("docker login", () => {
  test("a wrong password is refused with dockerd's message; the right one logs in", async () => {
    const bad = await sl(["login", "-u", "alice", "--password-stdin", reg.host], "wrong\n");
    assert.notEqual(bad.code, 0);
    const expected = `login attempt to http://${reg.host}/v2/ failed with status: 401 Unauthorized`;
    assert.match(
      bad.stderr,
      new RegExp(`Error response from daemon: ${expected.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`),
    );
    // the reference engine says the same
    const refBad = await docker(REF as string, ["login", "-u", "alice", "--password-stdin", reg.host], {
      input: "wrong\n",
    });
    assert.notEqual(refBad.code, 0);
    assert.ok(refBad.stderr.includes(expected), refBad.stderr);

    const good = await sl(["login", "-u", "alice", "--password-stdin", reg.host], "s3cret\n");
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /Login Succeeded/);
  });
});

describe("docker push", () => {
  const name = () => `${reg.host}/${P}/busybox`;

  test("push to a registry with auth, pull it back on the reference engine: same digest, runs", async () => {
    await sl(["login", "-u", "alice", "--password-stdin", reg.host], "s3cret\n");
    await slOk(["tag", BUSYBOX, `${name()}:v1`]);
    const out = await slOk(["push", `${name()}:v1`]);
    assert.match(out, new RegExp(`The push refers to repository \\[${name().replace(/\./g, "\\.")}\\]`));
    assert.match(out, /: Pushed/);
    const m = /v1: digest: (sha256:[a-f0-9]{64}) size: (\d+)/.exec(out);
    assert.ok(m, out);
    // the pulled manifest went up unchanged: same digest as in the source registry
    const srcDigests = (
      await slOk(["image", "inspect", "--format", "{{json .RepoDigests}}", BUSYBOX])
    ).trim();
    assert.ok(srcDigests.includes(`@${m[1]}`), `${srcDigests} should contain ${m[1]}`);
    assert.ok(srcDigests.includes(`${name()}@${m[1]}`), "the push recorded the new repository digest");

    // the reference engine logs in with its own client config and pulls it
    const refCfg = configWith("alice", "s3cret");
    const pull = await docker(REF as string, ["pull", `${name()}:v1`], { env: { DOCKER_CONFIG: refCfg } });
    assert.equal(pull.code, 0, pull.stderr);
    refImages.push(`${name()}:v1`);
    assert.match(pull.stdout, new RegExp(`Digest: ${m[1]}`));
    const run = await refOk([
      "run",
      "--rm",
      "--network",
      "none",
      `${name()}:v1`,
      "sh",
      "-c",
      "echo pushed-and-pulled",
    ]);
    assert.equal(run, "pushed-and-pulled\n");

    // again: nothing to upload; into another repository: mounted from the first
    assert.match(await slOk(["push", `${name()}:v1`]), /: Layer already exists/);
    await slOk(["tag", BUSYBOX, `${reg.host}/${P}/other:x`]);
    assert.match(await slOk(["push", `${reg.host}/${P}/other:x`]), new RegExp(`: Mounted from ${P}/busybox`));
  });

  test("a committed image pushes and runs on the reference engine", async () => {
    await slOk(["run", "--name", `${P}-c`, BUSYBOX, "sh", "-c", "echo committed-here > /c.txt"]);
    const name = `${reg.host}/${P}/committed:v1`;
    await slOk(["commit", "-c", 'CMD ["cat", "/c.txt"]', `${P}-c`, name]);
    await slOk(["rm", `${P}-c`]);
    await sl(["login", "-u", "alice", "--password-stdin", reg.host], "s3cret\n");
    const out = await slOk(["push", name]);
    const digest = /v1: digest: (sha256:[a-f0-9]{64})/.exec(out)?.[1];
    assert.ok(digest, out);
    assert.match(
      out,
      new RegExp(`: Mounted from ${P}/busybox|: Layer already exists`),
      "the base layer is reused",
    );
    const pull = await docker(REF as string, ["pull", name], {
      env: { DOCKER_CONFIG: configWith("alice", "s3cret") },
    });
    assert.equal(pull.code, 0, pull.stderr);
    refImages.push(name);
    assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));
    assert.equal(await refOk(["run", "--rm", "--network", "none", name]), "committed-here\n");
  });

  test("bad credentials: a clear error and nothing pushed", async () => {
    await slOk(["tag", BUSYBOX, `${reg.host}/${P}/denied:v1`]);
    const r = await docker(d.host, ["push", `${reg.host}/${P}/denied:v1`], {
      env: { DOCKER_CONFIG: configWith("alice", "wrong") },
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unauthorized: authentication required/);
    const tags = await fetch(`${reg.base}/v2/${P}/denied/tags/list`, {
      headers: { authorization: "Basic " + Buffer.from("alice:s3cret").toString("base64") },
    });
    assert.equal(tags.status, 404);
  });

  test("an image that does not exist: 404 with dockerd's message", async () => {
    const r = await sl(["push", `${reg.host}/${P}/nothere:v1`]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      new RegExp(`An image does not exist locally with the tag: ${reg.host}/${P}/nothere`),
    );
  });
});

describe("docker save", () => {
  test("saved by Sockerless, loaded and run by the reference engine with the same image id", async () => {
    await slOk(["tag", BUSYBOX, `${P}-saved:v1`]);
    const file = path.join(work, "saved.tar");
    await slOk(["save", "-o", file, `${P}-saved:v1`]);
    const load = await refOk(["load", "-i", file]);
    refImages.push(`${P}-saved:v1`);
    assert.equal(load.trim(), `Loaded image: ${P}-saved:v1`);
    const id = (await slOk(["image", "inspect", "--format", "{{.Id}}", `${P}-saved:v1`])).trim();
    assert.equal((await refOk(["image", "inspect", "--format", "{{.Id}}", `${P}-saved:v1`])).trim(), id);
    const out = await refOk([
      "run",
      "--rm",
      "--network",
      "none",
      `${P}-saved:v1`,
      "sh",
      "-c",
      "echo saved-by-sockerless",
    ]);
    assert.equal(out, "saved-by-sockerless\n");
  });

  test("dockerode's image.get() (GET /images/{name}/get) gives an archive the reference engine loads", async () => {
    const client = new Docker({ socketPath: d.host.slice("unix://".length) });
    await slOk(["tag", BUSYBOX, `${P}-sdk:v1`]);
    const chunks: Buffer[] = [];
    for await (const c of (await client.getImage(`${P}-sdk:v1`).get()) as AsyncIterable<Buffer>)
      chunks.push(c);
    const r = await docker(REF as string, ["load"], { input: Buffer.concat(chunks) });
    assert.equal(r.code, 0, r.stderr);
    refImages.push(`${P}-sdk:v1`);
    assert.equal(r.stdout.trim(), `Loaded image: ${P}-sdk:v1`);
  });

  test("save of a missing image is a 404", async () => {
    const r = await sl(["save", "-o", path.join(work, "none.tar"), `${P}-none:v1`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`No such image: ${P}-none:v1`));
  });
});

describe("docker load", () => {
  let refTar: string;
  const images = async () =>
    (await slOk(["images", "--all", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]))
      .split("\n")
      .sort()
      .join("\n");

  before(async () => {
    await refOk(["pull", BUSYBOX]);
    await refOk(["tag", BUSYBOX, `${P}-ref:v1`]);
    refImages.push(`${P}-ref:v1`);
    refTar = path.join(work, "ref-saved.tar");
    await refOk(["save", "-o", refTar, `${P}-ref:v1`]);
  });

  test("a tarball the reference engine saved loads (plain and gzip) and runs, same image id", async () => {
    const refId = (await refOk(["image", "inspect", "--format", "{{.Id}}", `${P}-ref:v1`])).trim();
    assert.equal((await slOk(["load", "-i", refTar])).trim(), `Loaded image: ${P}-ref:v1`);
    assert.equal((await slOk(["image", "inspect", "--format", "{{.Id}}", `${P}-ref:v1`])).trim(), refId);
    assert.equal(
      await slOk(["run", "--rm", `${P}-ref:v1`, "sh", "-c", "echo loaded-from-docker"]),
      "loaded-from-docker\n",
    );

    await slOk(["rmi", `${P}-ref:v1`]);
    const gz = path.join(work, "ref-saved.tar.gz");
    writeFileSync(gz, gzipSync(readFileSync(refTar)));
    assert.equal((await slOk(["load", "-i", gz])).trim(), `Loaded image: ${P}-ref:v1`);
    assert.equal(await slOk(["run", "--rm", `${P}-ref:v1`, "cat", "/etc/hostname"]).then(() => "ok"), "ok");
  });

  test("corrupt tarballs: a clear error and `docker images` unchanged", async () => {
    await sl(["rmi", "-f", `${P}-ref:v1`]);
    const before = await images();
    const full = readFileSync(refTar);
    const truncated = path.join(work, "truncated.tar");
    writeFileSync(truncated, full.subarray(0, Math.floor(full.length / 2)));
    const garbage = path.join(work, "garbage.tar");
    writeFileSync(garbage, "definitely not a tar archive\n".repeat(100));
    for (const f of [truncated, garbage]) {
      const r = await sl(["load", "-i", f]);
      assert.notEqual(r.code, 0, f);
      assert.match(r.stderr, /Error response from daemon: invalid archive: /);
    }
    assert.equal(await images(), before);
    assert.equal((await sl(["image", "inspect", `${P}-ref:v1`])).code, 1, "nothing half-loaded");
  });

  test("a loaded image pushes to a registry and runs on the reference engine", async () => {
    await slOk(["load", "-i", refTar]);
    const name = `${reg.host}/${P}/loaded:v1`;
    await slOk(["tag", `${P}-ref:v1`, name]);
    await sl(["login", "-u", "alice", "--password-stdin", reg.host], "s3cret\n");
    const out = await slOk(["push", name]);
    const digest = /v1: digest: (sha256:[a-f0-9]{64})/.exec(out)?.[1];
    assert.ok(digest, out);
    const pull = await docker(REF as string, ["pull", name], {
      env: { DOCKER_CONFIG: configWith("alice", "s3cret") },
    });
    assert.equal(pull.code, 0, pull.stderr);
    refImages.push(name);
    assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));
    assert.equal(
      await refOk(["run", "--rm", "--network", "none", name, "sh", "-c", "echo loaded-pushed"]),
      "loaded-pushed\n",
    );
  });
});

describe("docker export and import", () => {
  let exported: string;

  before(async () => {
    await slOk(["run", "--name", `${P}-exp`, BUSYBOX, "sh", "-c", "echo exported-content > /marker"]);
    exported = path.join(work, "exported.tar");
    await slOk(["export", "-o", exported, `${P}-exp`]);
    await slOk(["rm", `${P}-exp`]);
  });

  test("import of an exported container (tarball on stdin, gzip file): runs, message in history", async () => {
    const id = (await sl(["import", "-m", "from a test", "-", `${P}-imp:1`], readFileSync(exported))).stdout;
    assert.match(id, /^sha256:[a-f0-9]{64}\n$/);
    assert.equal(await slOk(["run", "--rm", `${P}-imp:1`, "cat", "/marker"]), "exported-content\n");
    assert.match(await slOk(["history", "--format", "{{.Comment}}", `${P}-imp:1`]), /^from a test\n$/);

    const gz = path.join(work, "exported.tar.gz");
    writeFileSync(gz, gzipSync(readFileSync(exported)));
    await slOk(["import", gz, `${P}-imp:gz`]);
    assert.equal(await slOk(["run", "--rm", `${P}-imp:gz`, "cat", "/marker"]), "exported-content\n");
    assert.match(await slOk(["history", "--format", "{{.Comment}}", `${P}-imp:gz`]), /^Imported from -\n$/);

    // the export is a root filesystem the reference engine imports and runs too
    await refOk(["import", exported, `${P}-imp:ref`]);
    refImages.push(`${P}-imp:ref`);
    assert.equal(
      await refOk(["run", "--rm", "--network", "none", `${P}-imp:ref`, "/bin/cat", "/marker"]),
      "exported-content\n",
    );
  });

  test("import with -c changes; a change import does not allow is refused", async () => {
    await slOk([
      "import",
      "-c",
      'CMD ["cat", "/marker"]',
      "-c",
      "ENV STAGE=imported",
      exported,
      `${P}-impc:1`,
    ]);
    assert.equal(await slOk(["run", "--rm", `${P}-impc:1`]), "exported-content\n");
    assert.match(
      await slOk(["image", "inspect", "--format", "{{json .Config.Env}}", `${P}-impc:1`]),
      /"STAGE=imported"/,
    );
    const bad = await sl(["import", "-c", "RUN echo nope", exported, `${P}-impc:2`]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Error response from daemon: run is not a valid change command/);
    assert.equal((await sl(["image", "inspect", `${P}-impc:2`])).code, 1);
  });

  test("import from a URL (http on loopback); a URL that fails is a clear error", async () => {
    const server = http.createServer((req, res) => {
      if (req.url !== "/rootfs.tar") {
        res.writeHead(404);
        res.end("no");
        return;
      }
      const data = readFileSync(exported);
      res.writeHead(200, { "content-type": "application/x-tar", "content-length": data.length });
      res.end(data);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      const out = await slOk(["import", `http://127.0.0.1:${port}/rootfs.tar`, `${P}-url:1`]);
      assert.match(out, /sha256:[a-f0-9]{64}/);
      assert.equal(await slOk(["run", "--rm", `${P}-url:1`, "cat", "/marker"]), "exported-content\n");
      assert.match(
        await slOk(["history", "--format", "{{.Comment}}", `${P}-url:1`]),
        new RegExp(`^Imported from http://127.0.0.1:${port}/rootfs.tar\n$`),
      );
      const bad = await sl(["import", `http://127.0.0.1:${port}/missing.tar`, `${P}-url:2`]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /404/);
      assert.equal((await sl(["image", "inspect", `${P}-url:2`])).code, 1);
    } finally {
      server.close();
    }
  });
});
