// The docker backend: `sockerless serve --backend docker` in front of a real Docker Engine, driven
// by the docker CLI and dockerode. Most tests use the shared reference engine (unique names); the
// engine-goes-away test starts and stops a private dockerd of its own (scripts/dockerd.sh NAME).
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import Docker from "dockerode";
import { BUSYBOX, cleanup, docker, dockerOk, startDaemon, until, type Daemon } from "./helpers.js";

const REF = process.env.SOCKERLESS_REF_DOCKER_HOST;
const REGISTRY = process.env.SOCKERLESS_TEST_REGISTRY ?? "127.0.0.1:5000";
if (!REF)
  throw new Error(
    "SOCKERLESS_REF_DOCKER_HOST is not set: the docker backend suite needs the reference engine (scripts/test-env.sh)",
  );
const P = `dbe${process.pid}`; // unique names on the shared engine
const dockerdScript = path.resolve(import.meta.dirname, "../scripts/dockerd.sh");

let d: Daemon;
const tmp = mkdtempSync(path.join(os.tmpdir(), "sockerless-dbe-"));

/** Inspect one of our containers on the engine itself (it is named sockerless-<id>). */
async function onEngine(ref: string, format: string): Promise<string> {
  const id = (await dockerOk(d.host, ["inspect", "-f", "{{.Id}}", ref])).trim();
  return (await dockerOk(REF!, ["inspect", "-f", format, `sockerless-${id}`])).trim();
}

before(async () => {
  d = await startDaemon(undefined, ["--backend", "docker", "--docker-host", REF]);
  await dockerOk(REF, ["pull", BUSYBOX]);
});
after(async () => {
  const left = (await docker(d.host, ["ps", "-aq"])).stdout.split("\n").filter(Boolean);
  if (left.length) await docker(d.host, ["rm", "-f", ...left]);
  await d.stop();
  cleanup(d);
  rmSync(tmp, { recursive: true, force: true });
});

describe("docker backend: containers", () => {
  test("run --rm: output and exit codes; the container is gone from the engine", async () => {
    assert.equal(await dockerOk(d.host, ["run", "--rm", BUSYBOX, "echo", "hello"]), "hello\n");
    const r = await docker(d.host, ["run", "--rm", BUSYBOX, "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "out\n");
    assert.equal(r.stderr, "err\n");
    const ours = await dockerOk(REF, ["ps", "-aq", "--filter", "label=sockerless.id"]);
    const mine = (await dockerOk(d.host, ["ps", "-aq", "--no-trunc"])).split("\n").filter(Boolean);
    // nothing of ours is left on the engine beyond the containers Sockerless still lists
    assert.ok(ours.split("\n").filter(Boolean).length >= mine.length);
    // stdin through the engine's attach, EOF delivered as a half-close
    assert.equal(
      await dockerOk(d.host, ["run", "--rm", "-i", BUSYBOX, "tr", "a-z", "A-Z"], { input: "stdin in\n" }),
      "STDIN IN\n",
    );
    const missing = await docker(d.host, ["run", "--rm", BUSYBOX, "no-such-binary"]);
    assert.equal(missing.code, 127, missing.stderr);
  });

  test("run -d, logs -f to the end, the engine runs a real container with our labels", async () => {
    const id = (
      await dockerOk(d.host, [
        "run",
        "-d",
        "--name",
        `${P}-logs`,
        BUSYBOX,
        "sh",
        "-c",
        "for i in 1 2 3; do echo line $i; sleep 0.3; done; exit 2",
      ])
    ).trim();
    assert.equal(await dockerOk(d.host, ["logs", "-f", `${P}-logs`]), "line 1\nline 2\nline 3\n");
    assert.equal((await dockerOk(d.host, ["wait", `${P}-logs`])).trim(), "2");
    assert.equal(await onEngine(`${P}-logs`, '{{index .Config.Labels "sockerless.id"}}'), id);
    assert.equal(await onEngine(`${P}-logs`, "{{.State.ExitCode}}"), "2");
    await dockerOk(d.host, ["rm", `${P}-logs`]);
    const gone = await docker(REF!, ["inspect", `sockerless-${id}`]);
    assert.notEqual(gone.code, 0);
  });

  test("exec -i with stdin, exec exit codes, top, stats --no-stream", async () => {
    const c = `${P}-exec`;
    await dockerOk(d.host, ["run", "-d", "--name", c, BUSYBOX, "sleep", "300"]);
    assert.equal(
      await dockerOk(d.host, ["exec", "-i", c, "sh", "-c", "tr a-z A-Z"], { input: "piped in\n" }),
      "PIPED IN\n",
    );
    assert.equal((await docker(d.host, ["exec", c, "sh", "-c", "exit 5"])).code, 5);
    // the pid and the address are the engine's, not numbers of our own
    assert.equal(
      (
        await dockerOk(d.host, [
          "inspect",
          "-f",
          "{{.State.Pid}} {{.NetworkSettings.Networks.bridge.IPAddress}}",
          c,
        ])
      ).trim(),
      await onEngine(c, "{{.State.Pid}} {{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"),
    );
    await dockerOk(d.host, ["update", "--memory", "64m", "--memory-swap", "128m", c]);
    assert.equal(await onEngine(c, "{{.HostConfig.Memory}}"), String(64 * 1024 * 1024));
    const top = await dockerOk(d.host, ["top", c]);
    assert.match(top, /sleep 300/);
    const stats = await dockerOk(d.host, [
      "stats",
      "--no-stream",
      "--format",
      "{{.Name}} {{.PIDs}} {{.MemUsage}}",
      c,
    ]);
    assert.match(stats, new RegExp(`^${c} 1 [1-9][0-9.]*[KM]iB`));
    await dockerOk(d.host, ["rm", "-f", c]);
  });

  test("run -it through a terminal (script)", async () => {
    const out = execFileSync(
      "script",
      ["-qfec", `docker run --rm -it ${BUSYBOX} sh -c 'tty; echo it-ok'`, "/dev/null"],
      {
        env: { ...process.env, DOCKER_HOST: d.host },
        input: "",
        encoding: "utf8",
      },
    );
    assert.match(out, /\/dev\/pts\/\d+\r?\n/);
    assert.match(out, /it-ok/);
  });

  test("attach to a running container gets its output and exit code", async () => {
    const c = `${P}-attach`;
    await dockerOk(d.host, [
      "run",
      "-d",
      "--name",
      c,
      BUSYBOX,
      "sh",
      "-c",
      "sleep 1; echo attached-out; exit 4",
    ]);
    const r = await docker(d.host, ["attach", c]);
    assert.equal(r.stdout, "attached-out\n");
    assert.equal(r.code, 4);
    await dockerOk(d.host, ["rm", c]);
  });

  test("cp in and out", async () => {
    const c = `${P}-cp`;
    await dockerOk(d.host, ["create", "--name", c, BUSYBOX, "cat", "/tmp/in.txt"]);
    const src = path.join(tmp, "in.txt");
    writeFileSync(src, "copied in\n");
    await dockerOk(d.host, ["cp", src, `${c}:/tmp/in.txt`]);
    assert.equal(await dockerOk(d.host, ["start", "-a", c]), "copied in\n");
    await dockerOk(d.host, ["cp", `${c}:/tmp/in.txt`, path.join(tmp, "out.txt")]);
    assert.equal(readFileSync(path.join(tmp, "out.txt"), "utf8"), "copied in\n");
    const missing = await docker(d.host, ["cp", `${c}:/nope`, tmp]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /Could not find the file \/nope in container/);
    assert.equal((await dockerOk(d.host, ["diff", c])).includes("A /tmp/in.txt"), true);
    await dockerOk(d.host, ["rm", c]);
  });

  test("pause and unpause freeze the real container", async () => {
    const c = `${P}-pause`;
    await dockerOk(d.host, ["run", "-d", "--name", c, BUSYBOX, "sleep", "300"]);
    await dockerOk(d.host, ["pause", c]);
    assert.equal((await dockerOk(d.host, ["inspect", "-f", "{{.State.Status}}", c])).trim(), "paused");
    assert.equal(await onEngine(c, "{{.State.Paused}}"), "true");
    const refused = await docker(d.host, ["exec", c, "true"]);
    assert.match(refused.stderr, /is paused/);
    await dockerOk(d.host, ["unpause", c]);
    assert.equal(await onEngine(c, "{{.State.Status}}"), "running");
    assert.equal(await dockerOk(d.host, ["exec", c, "echo", "thawed"]), "thawed\n");
    await dockerOk(d.host, ["rm", "-f", c]);
  });

  test("host bind mounts pass through", async () => {
    const dir = mkdtempSync(path.join(tmp, "bind-"));
    writeFileSync(path.join(dir, "h.txt"), "from host\n");
    assert.equal(
      await dockerOk(d.host, ["run", "--rm", "-v", `${dir}:/b`, BUSYBOX, "cat", "/b/h.txt"]),
      "from host\n",
    );
    await dockerOk(d.host, [
      "run",
      "--rm",
      "-v",
      `${dir}:/b`,
      BUSYBOX,
      "sh",
      "-c",
      "echo from container > /b/c.txt",
    ]);
    assert.equal(readFileSync(path.join(dir, "c.txt"), "utf8"), "from container\n");
    // --mount with a missing source is refused by the engine, as dockerd does; -v creates it
    const missing = path.join(dir, "missing");
    const r = await docker(d.host, ["create", "--mount", `type=bind,src=${missing},dst=/m`, BUSYBOX]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid mount config for type "bind": bind source path does not exist/);
    assert.equal(
      await dockerOk(d.host, [
        "run",
        "--rm",
        "--mount",
        `type=bind,src=${dir},dst=/m,readonly`,
        BUSYBOX,
        "cat",
        "/m/h.txt",
      ]),
      "from host\n",
    );
  });
  test("info carries the engine's containerd, runc and init commits", async () => {
    const f = "{{json .ContainerdCommit}} {{json .RuncCommit}} {{json .InitCommit}}";
    const ours = (await dockerOk(d.host, ["info", "-f", f])).trim();
    assert.equal(ours, (await dockerOk(REF!, ["info", "-f", f])).trim());
    assert.match(ours, /"ID":"[^"]+"/);
  });
});

describe("docker backend: networks, volumes, images", () => {
  test("a user network is a real engine network; aliases resolve through its DNS", async () => {
    const net = `${P}-net`;
    await dockerOk(d.host, ["network", "create", net]);
    assert.equal(
      (await dockerOk(REF!, ["network", "inspect", "-f", '{{index .Labels "sockerless.id"}}', net])).trim()
        .length,
      64,
    );
    await dockerOk(d.host, [
      "run",
      "-d",
      "--name",
      `${P}-srv`,
      "--network",
      net,
      "--network-alias",
      `${P}-web`,
      BUSYBOX,
      "sh",
      "-c",
      "echo served > /tmp/index.html; httpd -f -p 8080 -h /tmp",
    ]);
    const got = await until(async () => {
      const r = await docker(d.host, [
        "run",
        "--rm",
        "--network",
        net,
        BUSYBOX,
        "sh",
        "-c",
        `timeout 5 wget -qO- http://${P}-web:8080/index.html`,
      ]);
      return r.code === 0 && r.stdout;
    }, "the alias to answer");
    assert.equal(got, "served\n");
    const ip = (
      await dockerOk(d.host, [
        "inspect",
        "-f",
        `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`,
        `${P}-srv`,
      ])
    ).trim();
    assert.equal(ip, await onEngine(`${P}-srv`, `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`));
    // the container's own name resolves too, and after a rename only the new one
    const resolves = async (who: string) =>
      (await docker(d.host, ["run", "--rm", "--network", net, BUSYBOX, "nslookup", who])).code === 0;
    assert.ok(await resolves(`${P}-srv`));
    await dockerOk(d.host, ["rename", `${P}-srv`, `${P}-srv2`]);
    assert.ok(await resolves(`${P}-srv2`));
    assert.ok(!(await resolves(`${P}-srv`)));
    assert.ok(await resolves(`${P}-web`));
    const addr = `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`;
    assert.equal(
      (await dockerOk(d.host, ["inspect", "-f", addr, `${P}-srv2`])).trim(),
      await onEngine(`${P}-srv2`, addr),
    );
    await dockerOk(d.host, ["rm", "-f", `${P}-srv2`]);
    await dockerOk(d.host, ["network", "rm", net]);
    assert.notEqual((await docker(REF!, ["network", "inspect", net])).code, 0);
  });

  test("published ports are the engine's: docker port and ps show them, and they answer", async () => {
    const c = `${P}-port`;
    await dockerOk(d.host, [
      "run",
      "-d",
      "--name",
      c,
      "-p",
      "127.0.0.1::8080",
      BUSYBOX,
      "sh",
      "-c",
      "echo published > /tmp/index.html; httpd -f -p 8080 -h /tmp",
    ]);
    const binding = (await dockerOk(d.host, ["port", c, "8080"])).trim();
    assert.match(binding, /^127\.0\.0\.1:\d+$/);
    assert.equal(
      binding,
      (
        await dockerOk(REF!, [
          "port",
          `sockerless-${(await dockerOk(d.host, ["inspect", "-f", "{{.Id}}", c])).trim()}`,
          "8080",
        ])
      ).trim(),
    );
    assert.match(
      await dockerOk(d.host, ["ps", "--filter", `name=${c}`, "--format", "{{.Ports}}"]),
      new RegExp(`${binding.replace(/\./g, "\\.")}->8080/tcp`),
    );
    const body = await until(async () => {
      try {
        const res = await fetch(`http://${binding}/index.html`);
        return res.ok && (await res.text());
      } catch {
        return false;
      }
    }, "the published port to answer");
    assert.equal(body, "published\n");
    await dockerOk(d.host, ["rm", "-f", c]);
  });

  test("--network container:NAME shares the other container's network namespace", async () => {
    const c = `${P}-netns`;
    await dockerOk(d.host, [
      "run",
      "-d",
      "--name",
      c,
      BUSYBOX,
      "sh",
      "-c",
      "echo shared-ns > /tmp/i; httpd -f -p 8081 -h /tmp",
    ]);
    const got = await until(async () => {
      const r = await docker(d.host, [
        "run",
        "--rm",
        "--network",
        `container:${c}`,
        BUSYBOX,
        "sh",
        "-c",
        "timeout 5 wget -qO- http://127.0.0.1:8081/i",
      ]);
      return r.code === 0 && r.stdout;
    }, "the shared namespace to answer");
    assert.equal(got, "shared-ns\n");
    await dockerOk(d.host, ["rm", "-f", c]);
  });

  test("named volumes are engine volumes, shared between containers", async () => {
    const vol = `${P}-vol`;
    await dockerOk(d.host, ["volume", "create", vol]);
    await dockerOk(d.host, [
      "run",
      "--rm",
      "-v",
      `${vol}:/data`,
      BUSYBOX,
      "sh",
      "-c",
      "echo shared > /data/x",
    ]);
    assert.equal(
      await dockerOk(d.host, ["run", "--rm", "-v", `${vol}:/data`, BUSYBOX, "cat", "/data/x"]),
      "shared\n",
    );
    const mp = (await dockerOk(REF!, ["volume", "inspect", "-f", "{{.Mountpoint}}", vol])).trim();
    assert.equal((await dockerOk(d.host, ["volume", "inspect", "-f", "{{.Mountpoint}}", vol])).trim(), mp);
    await dockerOk(d.host, ["volume", "rm", vol]);
    assert.notEqual((await docker(REF!, ["volume", "inspect", vol])).code, 0);
  });

  test("images are the engine's: tags made on the engine are listed; pulls land on the engine", async () => {
    const tag = `${P}-direct:1`;
    await dockerOk(REF!, ["tag", BUSYBOX, tag]);
    try {
      const list = await dockerOk(d.host, ["images", "--format", "{{.Repository}}:{{.Tag}}"]);
      assert.ok(list.split("\n").includes(tag), list);
      const id = (await dockerOk(REF!, ["image", "inspect", "-f", "{{.Id}}", tag])).trim();
      assert.equal((await dockerOk(d.host, ["image", "inspect", "-f", "{{.Id}}", tag])).trim(), id);
      await dockerOk(d.host, ["tag", tag, `${P}-viasockerless:2`]);
      assert.equal(
        (await dockerOk(REF!, ["image", "inspect", "-f", "{{.Id}}", `${P}-viasockerless:2`])).trim(),
        id,
      );
      await dockerOk(d.host, ["rmi", `${P}-viasockerless:2`]);
      assert.notEqual((await docker(REF!, ["image", "inspect", `${P}-viasockerless:2`])).code, 0);
    } finally {
      await docker(REF!, ["rmi", tag]);
    }
    const pulled = await dockerOk(d.host, ["pull", BUSYBOX]);
    assert.match(pulled, /Status: Image is up to date|Downloaded newer image/);
  });

  test("build, commit, save, load, import and push are the engine's own", async () => {
    const img = (name: string) => `${P}-${name}:1`;
    let digest: string | undefined;
    const idOnEngine = async (ref: string) =>
      (await dockerOk(REF!, ["image", "inspect", "-f", "{{.Id}}", ref])).trim();
    try {
      // build: the engine builds (its RUN containers included) and the image runs through Sockerless
      const built = await dockerOk(d.host, ["build", "-t", img("built"), "-"], {
        input: `FROM ${BUSYBOX}\nRUN echo built-on-the-engine > /x\nCMD ["cat", "/x"]\n`,
        env: { DOCKER_BUILDKIT: "0" },
      });
      assert.match(built, /Successfully tagged/);
      assert.ok((await idOnEngine(img("built"))).startsWith("sha256:"));
      assert.equal(await dockerOk(d.host, ["run", "--rm", img("built")]), "built-on-the-engine\n");
      // --force-rm: the engine removes the failed RUN's container (it keeps it by default)
      const failing = await docker(d.host, ["build", "--force-rm", "-"], {
        input: `FROM ${BUSYBOX}\nRUN exit 3\n`,
        env: { DOCKER_BUILDKIT: "0" },
      });
      assert.notEqual(failing.code, 0);
      assert.match(failing.stderr, /returned a non-zero code: 3/);

      // commit: of the Sockerless container, with its change, options passed on
      const c = `${P}-commit`;
      await dockerOk(d.host, ["run", "--name", c, BUSYBOX, "sh", "-c", "echo committed > /c"]);
      await dockerOk(d.host, ["commit", "-c", "CMD cat /c", "-m", "via sockerless", c, img("committed")]);
      await dockerOk(d.host, ["rm", c]);
      assert.equal(await dockerOk(d.host, ["run", "--rm", img("committed")]), "committed\n");
      assert.equal(
        (await dockerOk(REF!, ["image", "inspect", "-f", "{{.Comment}}", img("committed")])).trim(),
        "via sockerless",
      );
      const missing = await docker(d.host, ["commit", `${P}-no-such-container`, img("x")]);
      assert.match(missing.stderr, /No such container/);

      // save and load: a round trip through the engine keeps the image id
      const tar = path.join(tmp, "saved.tar");
      await dockerOk(d.host, ["save", "-o", tar, img("built")]);
      const id = await idOnEngine(img("built"));
      await dockerOk(d.host, ["rmi", img("built")]);
      assert.match(await dockerOk(d.host, ["load", "-i", tar]), new RegExp(`Loaded image: ${img("built")}`));
      assert.equal(await idOnEngine(img("built")), id);

      // import: the engine's, from the exported filesystem on stdin
      const exported = path.join(tmp, "exported.tar");
      const e = `${P}-export`;
      await dockerOk(d.host, ["create", "--name", e, img("committed")]);
      await dockerOk(d.host, ["export", "-o", exported, e]);
      await dockerOk(d.host, ["rm", e]);
      await dockerOk(d.host, ["import", "-c", 'CMD ["cat", "/c"]', exported, img("imported")]);
      assert.equal(await dockerOk(d.host, ["run", "--rm", img("imported")]), "committed\n");

      // push: the engine pushes to the local registry, and pulls it back by digest
      const remote = `${REGISTRY}/${P}-pushed:1`;
      await dockerOk(d.host, ["tag", img("built"), remote]);
      const pushed = await dockerOk(d.host, ["push", remote]);
      digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed)?.[1];
      assert.ok(digest, pushed);
      await dockerOk(d.host, ["rmi", remote]);
      await dockerOk(d.host, ["pull", `${REGISTRY}/${P}-pushed@${digest}`]);
    } finally {
      for (const n of ["built", "committed", "imported"]) await docker(REF!, ["rmi", "-f", img(n)]);
      await docker(REF!, ["rmi", "-f", `${REGISTRY}/${P}-pushed:1`]);
      if (digest) await docker(REF!, ["rmi", "-f", `${REGISTRY}/${P}-pushed@${digest}`]);
    }
  });

  test("containers made directly on the engine are hidden from Sockerless", async () => {
    const name = `${P}-direct`;
    await dockerOk(REF!, ["create", "--name", name, "--network", "none", BUSYBOX, "true"]);
    try {
      const names = await dockerOk(d.host, ["ps", "-a", "--format", "{{.Names}}"]);
      assert.ok(!names.split("\n").includes(name));
      const r = await docker(d.host, ["inspect", name]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /No such object|No such container/);
    } finally {
      await docker(REF!, ["rm", "-f", name]);
    }
  });
});

describe("docker backend: dockerode", () => {
  test("create/start/wait/logs and exec with stdin through hijacked streams", async () => {
    const client = new Docker({ socketPath: d.host.slice("unix://".length) });
    const c = await client.createContainer({
      Image: BUSYBOX,
      name: `${P}-sdk`,
      Cmd: ["sh", "-c", "echo out; echo err >&2; sleep 300"],
    });
    await c.start();
    await until(async () => (await c.logs({ stdout: true, stderr: true })).length > 0, "logs");
    const exec = await c.exec({ Cmd: ["cat"], AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: true });
    const chunks: Buffer[] = [];
    const out = new Writable({
      write(b, _e, cb) {
        chunks.push(Buffer.from(b));
        cb();
      },
    });
    client.modem.demuxStream(stream, out, out);
    stream.end("through dockerode\n");
    await new Promise((r) => stream.on("end", r));
    assert.equal(Buffer.concat(chunks).toString(), "through dockerode\n");
    await until(async () => (await exec.inspect()).ExitCode === 0, "exec exit code");
    await c.kill();
    assert.equal((await c.wait()).StatusCode, 137);
    await c.remove();
  });
});

describe("docker backend: restart of Sockerless", () => {
  test("finds its containers on the engine with their real state and the output they wrote meanwhile", async () => {
    const [n1, n2] = [`${P}-r1`, `${P}-r2`];
    await dockerOk(d.host, [
      "run",
      "-d",
      "--name",
      n1,
      BUSYBOX,
      "sh",
      "-c",
      "echo r1; sleep 3; echo r1-late; exit 7",
    ]);
    await dockerOk(d.host, [
      "run",
      "-d",
      "--name",
      n2,
      BUSYBOX,
      "sh",
      "-c",
      "echo r2; sleep 3; echo r2-late >&2; sleep 300",
    ]);
    const [r1, r2] = [
      (await dockerOk(d.host, ["inspect", "-f", "{{.Id}}", n1])).trim(),
      (await dockerOk(d.host, ["inspect", "-f", "{{.Id}}", n2])).trim(),
    ];
    await until(async () => (await docker(d.host, ["logs", n2])).stdout === "r2\n", "r2 output");
    await d.stop();
    // both write again while Sockerless is down, and r1 exits
    assert.equal(
      await dockerOk(REF!, ["logs", `sockerless-${r1}`]),
      "r1\n",
      "r1 wrote its late line too early",
    );
    await until(
      async () =>
        (await dockerOk(REF!, ["inspect", "-f", "{{.State.Status}}", `sockerless-${r1}`])).trim() ===
          "exited" && (await docker(REF!, ["logs", `sockerless-${r2}`])).stderr === "r2-late\n",
      "r1 to exit and r2 to write on the engine",
    );
    d = await startDaemon(d.dataRoot, ["--backend", "docker", "--docker-host", REF!]);
    assert.equal(
      (await dockerOk(d.host, ["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", n1])).trim(),
      "exited 7",
    );
    assert.equal(await dockerOk(d.host, ["logs", n1]), "r1\nr1-late\n");
    assert.equal((await dockerOk(d.host, ["inspect", "-f", "{{.State.Status}}", n2])).trim(), "running");
    assert.equal(await dockerOk(d.host, ["exec", n2, "echo", "still here"]), "still here\n");
    const logs = await docker(d.host, ["logs", n2]);
    assert.equal(logs.stdout, "r2\n");
    assert.equal(logs.stderr, "r2-late\n");
    await dockerOk(d.host, ["kill", n2]);
    assert.equal((await dockerOk(d.host, ["wait", n2])).trim(), "137");
    await dockerOk(d.host, ["rm", n1, n2]);
  });
});

describe("docker backend: the engine goes away and comes back", () => {
  const name = `dbe${process.pid % 100000}`;
  const certs = path.join(tmp, "tls");
  let tlsPort = 0;
  const dockerd = (cmd: string) =>
    new Promise<string>((resolve, reject) => {
      // the private engine also listens on TCP with TLS and client-certificate verification
      const tlsArgs = `-H tcp://127.0.0.1:${tlsPort} --tlsverify --tlscacert ${certs}/ca.pem --tlscert ${certs}/server.pem --tlskey ${certs}/server-key.pem`;
      const p = spawn("bash", [dockerdScript, cmd, name], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, SOCKERLESS_DOCKERD_ARGS: tlsArgs },
      });
      let out = "";
      p.stdout.on("data", (b) => (out += b));
      p.stderr.on("data", (b) => (out += b));
      p.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`dockerd.sh ${cmd}: ${out}`))));
    });
  let priv: Daemon | undefined;
  let host = "";

  after(async () => {
    await priv?.stop();
    if (priv) cleanup(priv);
    // its state and the host bridges of its networks (which would use up the address pools)
    await dockerd("purge");
  });

  before(async () => {
    makeCerts(certs);
    tlsPort = await freePort();
  });

  test("clear 5xx errors naming the engine, then recovery by itself", async () => {
    await dockerd("start");
    host = (await dockerd("host")).trim();
    priv = await startDaemon(undefined, ["--backend", "docker", "--docker-host", host]);
    await dockerOk(priv.host, ["pull", BUSYBOX]);
    await dockerOk(priv.host, [
      "run",
      "-d",
      "--name",
      "victim",
      "--stop-timeout",
      "1",
      BUSYBOX,
      "sleep",
      "300",
    ]);

    await dockerd("stop");
    const r = await docker(priv.host, ["run", "--rm", BUSYBOX, "true"]);
    assert.equal(r.code, 125);
    assert.match(
      r.stderr,
      new RegExp(`Error response from daemon: cannot reach the Docker Engine at ${host}: `),
    );
    const direct = await fetchStatus(priv.host, "/images/json");
    assert.ok(direct >= 500 && direct < 600, `status ${direct}`);
    // what Sockerless itself knows still answers
    assert.match(await dockerOk(priv.host, ["ps", "-a", "--format", "{{.Names}}"]), /victim/);

    await dockerd("start");
    assert.equal(await dockerOk(priv.host, ["run", "--rm", BUSYBOX, "echo", "back"]), "back\n");
    // the container the engine stopped on its way down shows as exited, with the engine's code
    const state = await until(async () => {
      const s = (
        await dockerOk(priv!.host, ["inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", "victim"])
      ).trim();
      return s.startsWith("false") && s;
    }, "victim to be seen exited");
    assert.match(state, /^false (137|143)$/);
    await dockerOk(priv.host, ["start", "victim"]);
    assert.equal(
      await dockerOk(priv.host, ["exec", "victim", "echo", "exec after recovery"]),
      "exec after recovery\n",
    );
    await dockerOk(priv.host, ["rm", "-f", "victim"]);
  });

  test("TCP with TLS: --docker-tls-verify and a client certificate", async () => {
    const tcp = `tcp://127.0.0.1:${tlsPort}`;
    const withCert = await startDaemon(undefined, [
      "--backend",
      "docker",
      "--docker-host",
      tcp,
      "--docker-tls-verify",
      "--docker-tls-ca",
      `${certs}/ca.pem`,
      "--docker-tls-cert",
      `${certs}/client.pem`,
      "--docker-tls-key",
      `${certs}/client-key.pem`,
    ]);
    const noCert = await startDaemon(undefined, [
      "--backend",
      "docker",
      "--docker-host",
      tcp,
      "--docker-tls-verify",
      "--docker-tls-ca",
      `${certs}/ca.pem`,
    ]);
    try {
      assert.equal(await dockerOk(withCert.host, ["run", "--rm", BUSYBOX, "echo", "over tls"]), "over tls\n");
      // the engine refuses a client without a certificate: the error names the engine
      const r = await docker(noCert.host, ["images"]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`cannot reach the Docker Engine at ${tcp}`));
    } finally {
      for (const x of [withCert, noCert]) {
        await x.stop();
        cleanup(x);
      }
    }
  });
});

/** A CA, a server certificate for 127.0.0.1 and a client certificate, as dockerd's TLS docs make them. */
function makeCerts(dir: string) {
  mkdirSync(dir, { recursive: true });
  const sh = (cmd: string) => execFileSync("bash", ["-c", cmd], { cwd: dir, stdio: "pipe" });
  sh(
    "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=sockerless-test-ca",
  );
  for (const [who, ext] of [
    ["server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"],
    ["client", "extendedKeyUsage=clientAuth"],
  ]) {
    sh(`openssl req -newkey rsa:2048 -nodes -keyout ${who}-key.pem -out ${who}.csr -subj /CN=${who}`);
    sh(
      `openssl x509 -req -in ${who}.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out ${who}.pem -days 2 -extfile <(printf '${ext}')`,
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** The HTTP status of one GET through the daemon's unix socket. */
function fetchStatus(host: string, p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    import("node:http").then(({ default: http }) => {
      http
        .get({ socketPath: host.slice("unix://".length), path: p }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on("error", reject);
    });
  });
}
