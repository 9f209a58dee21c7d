// The docker CLI on this machine against a real `sockerless serve` (memory backend).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { BUSYBOX, HELLO, cleanup, docker, dockerOk, startDaemon, until, type Daemon } from "./helpers.js";

let d: Daemon;
const run = (args: string[], input?: string) => docker(d.host, args, { input });
const ok = (args: string[], input?: string) => dockerOk(d.host, args, { input });
const inspect = async (name: string, fmt: string) => (await ok(["inspect", "--format", fmt, name])).trim();

before(async () => {
  d = await startDaemon();
  await ok(["pull", BUSYBOX]);
});
after(async () => {
  await d.stop();
  cleanup(d);
});

describe("system", () => {
  test("version reports API 1.44 and linux", async () => {
    assert.equal(
      (await ok(["version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}"])).trim(),
      "1.44 linux",
    );
  });
  test("info reports the backend", async () => {
    assert.match(await ok(["info", "--format", "{{.OperatingSystem}} {{.OSType}}"]), /memory backend.*linux/);
  });
});

describe("run", () => {
  test("prints output and removes with --rm", async () => {
    assert.equal(
      await ok(["run", "--rm", "--name", "rm-me", BUSYBOX, "echo", "hello world"]),
      "hello world\n",
    );
    const r = await run(["inspect", "rm-me"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /No such object/);
  });
  test("exit code of the process is the exit code of docker run", async () => {
    const r = await run(["run", "--rm", BUSYBOX, "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "out\n");
    assert.equal(r.stderr, "err\n");
  });
  test("env is merged with the image's (PATH survives)", async () => {
    const out = await ok(["run", "--rm", "-e", "FOO=bar", BUSYBOX, "sh", "-c", "echo $FOO $PATH"]);
    assert.equal(out, "bar /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
  });
  test("absolute command paths work (/bin/sh -c)", async () => {
    assert.equal(await ok(["run", "--rm", BUSYBOX, "/bin/sh", "-c", "/bin/echo abs"]), "abs\n");
  });
  test("a missing command fails like dockerd (exit 127)", async () => {
    const r = await run(["run", "--rm", BUSYBOX, "no-such-command"]);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /executable file not found/);
  });
  test("stdin is piped with -i", async () => {
    assert.equal(await ok(["run", "--rm", "-i", BUSYBOX, "cat"], "piped line\n"), "piped line\n");
  });
  test("image missing locally is pulled, its config honoured", async () => {
    const r = await run(["run", "--rm", HELLO]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hello from script \n");
    assert.equal(await ok(["run", "--rm", HELLO, "sh", "-c", "pwd; echo $GREETING"]), "/srv\nhi\n");
  });
  test("workdir and user flags", async () => {
    assert.equal(await ok(["run", "--rm", "-w", "/var/work", BUSYBOX, "pwd"]), "/var/work\n");
  });
});

describe("lifecycle", () => {
  test("detached container: logs, exec, stop exit code", async () => {
    const id = (
      await ok(["run", "-d", "--name", "lc1", BUSYBOX, "sh", "-c", "echo one; echo two >&2; sleep 100"])
    ).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    await until(async () => (await run(["logs", "lc1"])).stdout.includes("one"), "logs");
    const logs = await run(["logs", "lc1"]);
    assert.equal(logs.stdout, "one\n");
    assert.equal(logs.stderr, "two\n");
    assert.equal(await inspect("lc1", "{{.State.Status}} {{.State.Running}}"), "running true");
    assert.equal(
      await ok(["exec", "-e", "X=1", "-w", "/tmp", "lc1", "sh", "-c", "echo $X; pwd"]),
      "1\n/tmp\n",
    );
    const ex = await run(["exec", "lc1", "sh", "-c", "exit 5"]);
    assert.equal(ex.code, 5);
    assert.equal(await ok(["exec", "-i", "lc1", "cat"], "exec stdin\n"), "exec stdin\n");
    const ps = await ok(["ps", "--filter", "name=lc1", "--format", "{{.Names}} {{.Status}}"]);
    assert.match(ps, /^lc1 Up /);
    // PID 1 ignores SIGTERM like in a real container: stop escalates to SIGKILL after the timeout.
    await ok(["stop", "-t", "1", "lc1"]);
    assert.equal(await inspect("lc1", "{{.State.Status}} {{.State.ExitCode}}"), "exited 137");
    const again = await run(["exec", "lc1", "true"]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /is not running/);
    await ok(["rm", "lc1"]);
  });
  test("kill gives 137; start again; restart", async () => {
    await ok(["run", "-d", "--name", "k1", BUSYBOX, "sleep", "100"]);
    await ok(["kill", "k1"]);
    assert.equal(await inspect("k1", "{{.State.ExitCode}}"), "137");
    await ok(["start", "k1"]);
    assert.equal(await inspect("k1", "{{.State.Running}}"), "true");
    await ok(["restart", "-t", "0", "k1"]);
    assert.equal(await inspect("k1", "{{.State.Running}}"), "true");
    const rm = await run(["rm", "k1"]);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /cannot remove a running container/);
    await ok(["rm", "-f", "k1"]);
  });
  test("create then start -a streams output; wait returns the code", async () => {
    await ok(["create", "--name", "c1", BUSYBOX, "sh", "-c", "echo created-out; exit 4"]);
    assert.equal(await inspect("c1", "{{.State.Status}}"), "created");
    const r = await run(["start", "-a", "c1"]);
    assert.equal(r.stdout, "created-out\n");
    assert.equal(r.code, 4);
    assert.equal((await run(["wait", "c1"])).stdout.trim(), "4");
    await ok(["rm", "c1"]);
  });
  test("wait blocks until exit", async () => {
    await ok(["run", "-d", "--name", "w1", BUSYBOX, "sh", "-c", "sleep 0.5; exit 7"]);
    assert.equal((await ok(["wait", "w1"])).trim(), "7");
    await ok(["rm", "w1"]);
  });
  test("logs -f follows until the container exits; tail and timestamps", async () => {
    await ok([
      "run",
      "-d",
      "--name",
      "f1",
      BUSYBOX,
      "sh",
      "-c",
      "for i in 1 2 3; do echo line$i; sleep 0.3; done",
    ]);
    const r = await run(["logs", "-f", "f1"]);
    assert.equal(r.stdout, "line1\nline2\nline3\n");
    assert.equal(await ok(["logs", "--tail", "1", "f1"]), "line3\n");
    assert.match(
      await ok(["logs", "-t", "--tail", "1", "f1"]),
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line3\n$/,
    );
    await ok(["rm", "f1"]);
  });
  test("rename and name conflicts", async () => {
    await ok(["create", "--name", "n1", BUSYBOX, "true"]);
    const dup = await run(["create", "--name", "n1", BUSYBOX, "true"]);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /Conflict. The container name "\/n1" is already in use/);
    await ok(["rename", "n1", "n2"]);
    assert.equal(await inspect("n2", "{{.Name}}"), "/n2");
    const bad = await run(["create", "--name", "bad name!", BUSYBOX, "true"]);
    assert.match(bad.stderr, /Invalid container name/);
    await ok(["rm", "n2"]);
  });
  test("unknown containers give 404 messages", async () => {
    const r = await run(["logs", "does-not-exist"]);
    assert.match(r.stderr, /No such container: does-not-exist/);
    const s = await run(["start", "does-not-exist"]);
    assert.match(s.stderr, /No such container/);
  });
  test("restart policy on-failure:2 restarts twice", async () => {
    await ok(["run", "-d", "--name", "rp1", "--restart", "on-failure:2", BUSYBOX, "sh", "-c", "exit 1"]);
    await until(
      async () => (await inspect("rp1", "{{.RestartCount}} {{.State.Status}}")) === "2 exited",
      "two restarts",
    );
    await ok(["rm", "rp1"]);
  });
  test("health checks feed State.Health", async () => {
    await ok([
      "run",
      "-d",
      "--name",
      "h1",
      "--health-cmd",
      "test -f /tmp/ok",
      "--health-interval",
      "200ms",
      "--health-retries",
      "1",
      BUSYBOX,
      "sleep",
      "100",
    ]);
    await until(async () => (await inspect("h1", "{{.State.Health.Status}}")) === "unhealthy", "unhealthy");
    await ok(["exec", "h1", "touch", "/tmp/ok"]);
    await until(async () => (await inspect("h1", "{{.State.Health.Status}}")) === "healthy", "healthy");
    const ps = await ok(["ps", "--filter", "health=healthy", "--format", "{{.Names}}"]);
    assert.match(ps, /h1/);
    await ok(["rm", "-f", "h1"]);
  });
});

describe("filesystem", () => {
  test("volumes are shared between containers and protected while used", async () => {
    await ok(["volume", "create", "--label", "team=a", "v1"]);
    await ok(["volume", "create", "v1"]); // idempotent
    await ok(["run", "--rm", "-v", "v1:/data", BUSYBOX, "sh", "-c", "echo shared > /data/f"]);
    assert.equal(await ok(["run", "--rm", "-v", "v1:/data", BUSYBOX, "cat", "/data/f"]), "shared\n");
    assert.equal(
      (await ok(["volume", "ls", "--filter", "label=team=a", "--format", "{{.Name}}"])).trim(),
      "v1",
    );
    await ok(["create", "--name", "vuser", "-v", "v1:/data", BUSYBOX, "true"]);
    const rm = await run(["volume", "rm", "v1"]);
    assert.match(rm.stderr, /volume is in use/);
    await ok(["rm", "vuser"]);
    await ok(["volume", "rm", "v1"]);
  });
  test("bind mounts share files with the host; :ro refuses writes", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sl-bind-"));
    writeFileSync(path.join(dir, "in.txt"), "from host\n");
    assert.equal(
      await ok([
        "run",
        "--rm",
        "-v",
        `${dir}:/w`,
        BUSYBOX,
        "sh",
        "-c",
        "cat /w/in.txt; echo from container > /w/out.txt",
      ]),
      "from host\n",
    );
    assert.equal(readFileSync(path.join(dir, "out.txt"), "utf8"), "from container\n");
    const ro = await run(["run", "--rm", "-v", `${dir}:/w:ro`, BUSYBOX, "sh", "-c", "echo x > /w/no.txt"]);
    assert.notEqual(ro.code, 0);
  });
  test("docker cp in and out, files and directories, also before start", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sl-cp-"));
    mkdirSync(path.join(dir, "tree/sub"), { recursive: true });
    writeFileSync(path.join(dir, "tree/a.txt"), "A\n");
    writeFileSync(path.join(dir, "tree/sub/b.txt"), "B\n");
    await ok(["create", "--name", "cp1", BUSYBOX, "sh", "-c", "cat /tmp/tree/a.txt /tmp/tree/sub/b.txt"]);
    await ok(["cp", path.join(dir, "tree"), "cp1:/tmp/"]);
    const r = await run(["start", "-a", "cp1"]);
    assert.equal(r.stdout, "A\nB\n");
    await ok(["cp", "cp1:/tmp/tree", path.join(dir, "out")]);
    assert.equal(readFileSync(path.join(dir, "out/sub/b.txt"), "utf8"), "B\n");
    await ok(["cp", "cp1:/etc/passwd", path.join(dir, "passwd")]);
    assert.match(readFileSync(path.join(dir, "passwd"), "utf8"), /^root:/);
    const missing = await run(["cp", "cp1:/nope", dir]);
    assert.match(missing.stderr, /Could not find the file \/nope/);
    await ok(["rm", "cp1"]);
  });
  test("export and diff", async () => {
    await ok(["run", "--name", "ex1", BUSYBOX, "sh", "-c", "echo data > /root/new.txt"]);
    const diff = await ok(["diff", "ex1"]);
    assert.match(diff, /A \/root\/new.txt/);
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "sl-exp-")), "fs.tar");
    await ok(["export", "-o", file, "ex1"]);
    const tar = readFileSync(file);
    assert.ok(tar.includes(Buffer.from("root/new.txt")));
    assert.ok(tar.includes(Buffer.from("bin/busybox")));
    await ok(["rm", "ex1"]);
  });
});

describe("networks", () => {
  test("user network with IPAM, aliases in /etc/hosts, inspect, rm rules", async () => {
    await ok([
      "network",
      "create",
      "--subnet",
      "10.99.0.0/24",
      "--gateway",
      "10.99.0.1",
      "--label",
      "env=test",
      "n1",
    ]);
    await ok([
      "run",
      "-d",
      "--name",
      "db1",
      "--network",
      "n1",
      "--network-alias",
      "database",
      BUSYBOX,
      "sleep",
      "100",
    ]);
    await ok(["run", "-d", "--name", "app1", "--network", "n1", BUSYBOX, "sleep", "100"]);
    const hosts = await ok(["exec", "app1", "cat", "/etc/hosts"]);
    assert.match(hosts, /10\.99\.0\.\d+\s+db1 .*database/);
    const ip = await inspect("db1", "{{.NetworkSettings.Networks.n1.IPAddress}}");
    assert.match(ip, /^10\.99\.0\.\d+$/);
    const net = JSON.parse(await ok(["network", "inspect", "n1"]))[0];
    assert.equal(Object.keys(net.Containers).length, 2);
    assert.equal(net.IPAM.Config[0].Subnet, "10.99.0.0/24");
    const rm = await run(["network", "rm", "n1"]);
    assert.match(rm.stderr, /has active endpoints/);
    await ok(["network", "disconnect", "n1", "app1"]);
    await ok(["network", "connect", "--alias", "web", "n1", "app1"]);
    assert.match(await inspect("app1", "{{json .NetworkSettings.Networks.n1.Aliases}}"), /web/);
    const pre = await run(["network", "rm", "bridge"]);
    assert.match(pre.stderr, /pre-defined network/);
    await ok(["rm", "-f", "db1", "app1"]);
    await ok(["network", "rm", "n1"]);
  });
  test("network prune honours label filters", async () => {
    await ok(["network", "create", "--label", "keep=yes", "nk"]);
    await ok(["network", "create", "--label", "keep=no", "nd"]);
    await ok(["network", "prune", "-f", "--filter", "label=keep=no"]);
    const names = await ok(["network", "ls", "--format", "{{.Name}}"]);
    assert.match(names, /nk/);
    assert.doesNotMatch(names, /\bnd\b/);
    await ok(["network", "rm", "nk"]);
  });
});

describe("events, filters, images, prune", () => {
  test("events carry die with exitCode and labels; filters apply", async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await run(["run", "--rm", "--label", "suite=events", BUSYBOX, "sh", "-c", "exit 9"]);
    const until_ = Math.floor(Date.now() / 1000) + 1;
    const out = await ok([
      "events",
      "--since",
      String(since),
      "--until",
      String(until_),
      "--filter",
      "event=die",
      "--filter",
      "label=suite=events",
      "--format",
      "{{.Action}} {{.Actor.Attributes.exitCode}}",
    ]);
    assert.equal(out.trim(), "die 9");
  });
  test("ps filters: label, status, exited, ancestor", async () => {
    await ok(["create", "--name", "pf1", "--label", "grp=x", BUSYBOX, "true"]);
    assert.equal(
      (await run(["run", "--name", "pf2", "--label", "grp=x", BUSYBOX, "sh", "-c", "exit 2"])).code,
      2,
    );
    const names = (f: string[]) =>
      ok(["ps", "-a", ...f.flatMap((x) => ["--filter", x]), "--format", "{{.Names}}"]).then((s) =>
        s.trim().split("\n").sort().join(","),
      );
    assert.equal(await names(["label=grp=x"]), "pf1,pf2");
    assert.equal(await names(["label=grp=x", "status=created"]), "pf1");
    assert.equal(await names(["label=grp=x", "exited=2"]), "pf2");
    assert.equal(await names(["label=grp=x", `ancestor=${BUSYBOX}`]), "pf1,pf2");
    await ok(["container", "prune", "-f", "--filter", "label=grp=x"]);
    assert.equal((await ok(["ps", "-a", "--filter", "label=grp=x", "-q"])).trim(), "");
  });
  test("tag, rmi untag vs delete, in-use conflicts", async () => {
    await ok(["tag", BUSYBOX, "mytag:1"]);
    assert.match(await ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]), /mytag:1/);
    assert.match(await ok(["rmi", "mytag:1"]), /Untagged: mytag:1/);
    await ok(["create", "--name", "user1", BUSYBOX, "true"]);
    const busy = await run(["rmi", BUSYBOX]);
    assert.match(busy.stderr, /conflict/);
    await ok(["rm", "user1"]);
    const hist = await ok(["history", BUSYBOX]);
    assert.match(hist, /IMAGE/);
  });
  test("pull of an unknown image fails clearly", async () => {
    const r = await run(["pull", `${BUSYBOX.replace(":latest", "")}-nope:latest`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not found|unknown/);
  });
});

describe("persistence", () => {
  test("stopped containers, logs, volumes and networks survive kill -9", async () => {
    await ok(["volume", "create", "pv"]);
    await ok(["network", "create", "pn"]);
    await ok(["run", "--name", "p1", "-v", "pv:/d", BUSYBOX, "sh", "-c", "echo persisted; echo v > /d/f"]);
    await ok(["run", "-d", "--name", "p2", BUSYBOX, "sleep", "100"]);
    await d.stop("SIGKILL");
    d = await d.restart();
    assert.equal(await ok(["logs", "p1"]), "persisted\n");
    assert.equal(await inspect("p2", "{{.State.Status}}"), "exited");
    assert.equal(await ok(["run", "--rm", "-v", "pv:/d", BUSYBOX, "cat", "/d/f"]), "v\n");
    assert.match(await ok(["network", "ls"]), /pn/);
    assert.match(await ok(["images"]), /busybox/);
    await ok(["rm", "p1", "p2"]);
  });
});
