// testcontainers (npm) against the memory backend, with the Ryuk reaper disabled (its image is not
// reachable offline). Port-based waits (forListeningPorts, forHttp) cannot work: the sandbox has
// no network, so published ports are never reachable. Log, health-check, command and one-shot
// waits need no port. Cleanup of what a session leaves behind: `sockerless cleanup --label`.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import Docker from "dockerode";
import { fileURLToPath } from "node:url";
import { BUSYBOX, cleanup, dockerOk, startDaemon, type Daemon } from "./helpers.js";
import { runClient } from "./run-client.js";

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), "../packages/cli/dist/main.js");

process.env.TESTCONTAINERS_RYUK_DISABLED = "true";

let d: Daemon;
let tc: typeof import("testcontainers");
before(async () => {
  d = await startDaemon();
  await dockerOk(d.host, ["pull", BUSYBOX]);
  // testcontainers reads DOCKER_HOST once, when it first looks for a container runtime
  process.env.DOCKER_HOST = d.host;
  tc = await import("testcontainers");
});
after(async () => {
  await d.stop();
  cleanup(d);
});

const labelsOf = async (id: string) =>
  JSON.parse(await dockerOk(d.host, ["inspect", "--format", "{{json .Config.Labels}}", id]));

describe("testcontainers", () => {
  test("logs with tail=-1 or a non-number give every line, as dockerd (testcontainers sends -1)", async () => {
    const id = (await dockerOk(d.host, ["run", "-d", BUSYBOX, "sh", "-c", "echo a; echo b"])).trim();
    await dockerOk(d.host, ["wait", id]);
    const c = new Docker({ socketPath: d.host.slice("unix://".length) }).getContainer(id);
    for (const tail of [-1, "x", -5] as unknown as number[]) {
      const buf = (await c.logs({ stdout: true, tail })) as unknown as Buffer;
      assert.equal(
        buf.subarray(8, 10).toString() + buf.subarray(18, 20).toString(),
        "a\nb\n",
        `tail=${tail}`,
      );
    }
    const one = (await c.logs({ stdout: true, tail: 1 })) as unknown as Buffer;
    assert.equal(one.subarray(8).toString(), "b\n");
    await dockerOk(d.host, ["rm", id]);
  });

  test("log-message wait, environment, command, exec", async () => {
    const { GenericContainer, Wait } = tc;
    const c = await new GenericContainer(BUSYBOX)
      .withEnvironment({ GREETING: "hi there" })
      .withCommand(["sh", "-c", 'echo "$GREETING"; echo booting; sleep 1; echo server ready; sleep 1000'])
      .withWaitStrategy(Wait.forLogMessage("server ready"))
      .start();
    try {
      const logs = await dockerOk(d.host, ["logs", c.getId()]);
      assert.match(logs, /^hi there\nbooting\nserver ready\n/);
      const r = await c.exec(["sh", "-c", 'echo "$GREETING" ; echo oops >&2; exit 4']);
      assert.equal(r.exitCode, 4);
      assert.equal(r.stdout, "hi there\n");
      assert.equal(r.stderr, "oops\n");
      const labels = await labelsOf(c.getId());
      assert.equal(labels["org.testcontainers"], "true");
      assert.match(labels["org.testcontainers.session-id"], /^[0-9a-f-]{12,}$/);
      assert.equal(
        c.getName(),
        "/" + JSON.parse(await dockerOk(d.host, ["inspect", c.getId()]))[0].Name.slice(1),
      );
    } finally {
      await c.stop();
    }
    // stop() removes the container by default
    assert.equal(await dockerOk(d.host, ["ps", "-aq", "--filter", `id=${c.getId()}`]), "");
  });

  test("health-check wait", async () => {
    const { GenericContainer, Wait } = tc;
    const c = await new GenericContainer(BUSYBOX)
      .withCommand(["sh", "-c", "sleep 2; touch /tmp/healthy; sleep 1000"])
      .withHealthCheck({
        test: ["CMD-SHELL", "test -f /tmp/healthy"],
        interval: 500,
        timeout: 1000,
        retries: 20,
      })
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(30_000)
      .start();
    try {
      const status = await dockerOk(d.host, ["inspect", "--format", "{{.State.Health.Status}}", c.getId()]);
      assert.equal(status.trim(), "healthy");
    } finally {
      await c.stop();
    }
  });

  test("a failing health check fails start", async () => {
    const { GenericContainer, Wait } = tc;
    await assert.rejects(
      new GenericContainer(BUSYBOX)
        .withCommand(["sleep", "1000"])
        .withHealthCheck({ test: ["CMD", "false"], interval: 200, timeout: 1000, retries: 2 })
        .withWaitStrategy(Wait.forHealthCheck())
        .withStartupTimeout(20_000)
        .start(),
      /unhealthy/i,
    );
  });

  test("copy files and content into the container, read them back", async () => {
    const { GenericContainer, Wait } = tc;
    const dir = mkdtempSync(path.join(os.tmpdir(), "clients-tc-"));
    const src = path.join(dir, "config.ini");
    writeFileSync(src, "[main]\nkey = value\n");
    const c = await new GenericContainer(BUSYBOX)
      .withCopyFilesToContainer([{ source: src, target: "/etc/app/config.ini", mode: 0o640 }])
      .withCopyContentToContainer([
        { content: "#!/bin/sh\necho from script $1\n", target: "/usr/local/bin/greet", mode: 0o755 },
      ])
      .withCommand(["sh", "-c", "cat /etc/app/config.ini; echo started; sleep 1000"])
      .withWaitStrategy(Wait.forLogMessage("started"))
      .start();
    try {
      assert.equal((await c.exec(["cat", "/etc/app/config.ini"])).output, "[main]\nkey = value\n");
      assert.equal((await c.exec(["greet", "you"])).stdout, "from script you\n");
      assert.equal((await c.exec(["stat", "-c", "%a", "/etc/app/config.ini"])).stdout.trim(), "640");
      // the files were in place before the command ran
      assert.match(await dockerOk(d.host, ["logs", c.getId()]), /^\[main\]\nkey = value\nstarted\n/);
      // and copy at run time: archive PUT, then GET back through the library
      await c.copyContentToContainer([{ content: "late\n", target: "/tmp/late.txt" }]);
      const tar = await c.copyArchiveFromContainer("/tmp/late.txt");
      const chunks: Buffer[] = [];
      for await (const ch of tar) chunks.push(Buffer.from(ch));
      const buf = Buffer.concat(chunks);
      assert.equal(buf.subarray(0, 8).toString().replace(/\0.*$/, ""), "late.txt");
      assert.equal(buf.subarray(512, 517).toString(), "late\n");
    } finally {
      await c.stop();
    }
  });

  test("command wait, stop without removing, and restart", async () => {
    const { GenericContainer, Wait } = tc;
    const c = await new GenericContainer(BUSYBOX)
      .withCommand(["sh", "-c", "echo run >> /tmp/runs; sleep 1; touch /tmp/up; sleep 1000"])
      .withWaitStrategy(Wait.forSuccessfulCommand("test -f /tmp/up"))
      .start();
    const id = c.getId();
    await c.restart({ timeout: 1 });
    // the writable layer survives a restart: the command ran twice
    assert.equal((await c.exec(["cat", "/tmp/runs"])).stdout, "run\nrun\n");
    const stopped = await c.stop({ remove: false, timeout: 1 });
    assert.equal(stopped.getId(), id);
    const state = await dockerOk(d.host, [
      "inspect",
      "--format",
      "{{.State.Status}} {{.State.ExitCode}}",
      id,
    ]);
    assert.equal(state.trim(), "exited 137");
    await dockerOk(d.host, ["rm", id]);
  });

  test("one-shot startup", async () => {
    const { GenericContainer, Wait } = tc;
    const c = await new GenericContainer(BUSYBOX)
      .withCommand(["sh", "-c", "echo done"])
      .withWaitStrategy(Wait.forOneShotStartup())
      .start();
    assert.equal(await dockerOk(d.host, ["logs", c.getId()]), "done\n");
    await c.stop();
  });

  test("network with aliases, bind mount, tmpfs, working dir, entrypoint, user", async () => {
    const { GenericContainer, Network, Wait } = tc;
    const dir = mkdtempSync(path.join(os.tmpdir(), "clients-tc-bind-"));
    writeFileSync(path.join(dir, "f.txt"), "bound\n");
    const net = await new Network().start();
    const a = await new GenericContainer(BUSYBOX)
      .withNetwork(net)
      .withNetworkAliases("alpha")
      .withCommand(["sleep", "1000"])
      .withWaitStrategy(Wait.forSuccessfulCommand("true"))
      .start();
    const b = await new GenericContainer(BUSYBOX)
      .withNetwork(net)
      .withBindMounts([{ source: dir, target: "/b", mode: "ro" }])
      .withTmpFs({ "/scratch": "rw" })
      .withWorkingDir("/work")
      .withEntrypoint(["sh", "-c"])
      .withCommand(["echo started in $(pwd) as $(id -un); sleep 1000"])
      .withUser("nobody")
      .withWaitStrategy(Wait.forLogMessage(/started in \/work as nobody/))
      .start();
    try {
      const hosts = (await b.exec(["cat", "/etc/hosts"])).stdout;
      const ip = a.getIpAddress(net.getName());
      assert.match(hosts, new RegExp(`^${ip.replaceAll(".", "\\.")}\\s.*\\balpha\\b`, "m"));
      assert.equal((await b.exec(["cat", "/b/f.txt"])).stdout, "bound\n");
      assert.notEqual((await b.exec(["sh", "-c", "echo x > /b/new"])).exitCode, 0, "read-only bind");
      assert.equal((await b.exec(["sh", "-c", "echo x > /scratch/y && cat /scratch/y"])).stdout, "x\n");
    } finally {
      await b.stop();
      await a.stop();
      await net.stop();
    }
  });

  test("sockerless cleanup --label removes what a session left behind (the Ryuk replacement)", async () => {
    const { GenericContainer, Network, Wait } = tc;
    const net = await new Network().start();
    const c = await new GenericContainer(BUSYBOX)
      .withCommand(["sh", "-c", "echo up; sleep 1000"])
      .withNetwork(net)
      .withWaitStrategy(Wait.forLogMessage("up"))
      .start();
    const session = (await labelsOf(c.getId()))["org.testcontainers.session-id"];
    const label = `org.testcontainers.session-id=${session}`;
    await dockerOk(d.host, ["volume", "create", "--label", label, "clients-tc-vol"]);
    const bystander = (await dockerOk(d.host, ["run", "-d", BUSYBOX, "sleep", "1000"])).trim();

    const r = await runClient(process.execPath, [cli, "cleanup", "--label", label, "-H", d.host], d.host);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`removed container ${c.getId().slice(0, 12)}`));
    assert.match(r.stdout, new RegExp(`removed network ${net.getId().slice(0, 12)}`));
    assert.match(r.stdout, /removed volume clients-tc-vol/);
    const left = await dockerOk(d.host, ["ps", "-aq", "--no-trunc", "--filter", "label=org.testcontainers"]);
    assert.equal(left, "");
    assert.doesNotMatch(
      await dockerOk(d.host, ["network", "ls", "-q", "--no-trunc"]),
      new RegExp(net.getId()),
    );
    assert.equal(await dockerOk(d.host, ["volume", "ls", "-q", "--filter", `label=${label}`]), "");
    assert.equal(
      (await dockerOk(d.host, ["ps", "-q", "--no-trunc"])).trim(),
      bystander,
      "unlabelled container kept",
    );
    await dockerOk(d.host, ["rm", "-f", bystander]);

    const none = await runClient(process.execPath, [cli, "cleanup", "-H", d.host], d.host);
    assert.notEqual(none.code, 0, "cleanup without a label refuses to run");
  });
});
