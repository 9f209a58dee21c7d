// More docker CLI flows: TTY, attach, stats, top, update, restart policies, prune, limits, listeners.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { BUSYBOX, HELLO, cleanup, docker, dockerOk, startDaemon, until, type Daemon } from "./helpers.js";

let d: Daemon;
const run = (args: string[], input?: string) => docker(d.host, args, { input });
const ok = (args: string[], input?: string) => dockerOk(d.host, args, { input });
const inspect = async (name: string, fmt: string) => (await ok(["inspect", "--format", fmt, name])).trim();

before(async () => {
  d = await startDaemon(undefined, ["--max-run-seconds", "5"]);
  await ok(["pull", BUSYBOX]);
});
after(async () => {
  await d.stop();
  cleanup(d);
});

/** A raw HTTP exchange over the daemon's socket, for the legacy hijack. */
function raw(request: string, stdin: string | undefined, waitMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(d.host.slice("unix://".length));
    let got = "";
    s.on("data", (c) => (got += c.toString("latin1")));
    s.on("error", reject);
    s.on("close", () => resolve(got));
    s.write(request);
    if (stdin !== undefined) setTimeout(() => s.end(stdin), 200);
    setTimeout(() => s.destroy(), waitMs);
  });
}

describe("tty and attach", () => {
  test("docker run -t gives raw output with CRLF, no stream framing", async () => {
    const r = await run(["run", "--rm", "-t", BUSYBOX, "sh", "-c", "echo out; echo err >&2"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "out\r\nerr\r\n");
  });
  test("docker run -it sh is an interactive shell on a real pty", async () => {
    // `script` gives the docker CLI a terminal, as a person typing would have
    const typed =
      "(sleep 1.5; printf 'echo hello-$((1+2))\\r'; sleep 0.5; printf 'cd /tmp; pwd\\r'; sleep 0.5; printf 'exit 7\\r'; sleep 1)";
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn("sh", ["-c", `${typed} | script -qfec "docker run -it --rm ${BUSYBOX} sh" /dev/null`], {
        env: { ...process.env, DOCKER_HOST: d.host },
      });
      let out = "";
      p.stdout.on("data", (c) => (out += c));
      p.on("close", (code) => resolve({ code, out }));
    });
    assert.equal(r.code, 7);
    assert.match(
      r.out,
      /\/ # echo hello-\$\(\(1\+2\)\)\r\nhello-3\r\n\/ # cd \/tmp; pwd\r\n\/tmp\r\n\/tmp # exit 7/,
    );
  });
  test("docker attach to a running container sees new output and its exit code", async () => {
    await ok(["run", "-d", "--name", "att1", BUSYBOX, "sh", "-c", "sleep 1; echo late; exit 3"]);
    const r = await run(["attach", "att1"]);
    assert.equal(r.stdout, "late\n");
    assert.equal(r.code, 3);
    await ok(["rm", "att1"]);
  });
  test("legacy hijack (no Upgrade header) carries stdin and output", async () => {
    const body = JSON.stringify({ Image: BUSYBOX, Cmd: ["cat"], OpenStdin: true, StdinOnce: true });
    const created = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        {
          socketPath: d.host.slice("unix://".length),
          method: "POST",
          path: "/containers/create",
          headers: { "Content-Type": "application/json" },
        },
        (res) => {
          let got = "";
          res.on("data", (x) => (got += x));
          res.on("end", () => resolve(got));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    const { Id } = JSON.parse(created) as { Id: string };
    const out = raw(
      `POST /containers/${Id}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\n\r\n`,
      "legacy stdin\n",
      3000,
    );
    await new Promise((r) => setTimeout(r, 100));
    await ok(["start", Id]);
    const got = await out;
    assert.match(
      got,
      /^HTTP\/1.1 200 OK\r\nContent-Type: application\/vnd.docker.multiplexed-stream\r\n\r\n/,
    );
    const payload = Buffer.from(got.slice(got.indexOf("\r\n\r\n") + 4), "latin1");
    assert.equal(payload[0], 1);
    assert.equal(payload.subarray(8).toString(), "legacy stdin\n");
    await ok(["rm", "-f", Id]);
  });
});

describe("hijack edge cases", () => {
  test("exec start whose body arrives after its headers still gets stdin", async () => {
    await ok(["run", "-d", "--name", "hj1", BUSYBOX, "sleep", "30"]);
    const sock = d.host.slice("unix://".length);
    const create = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        {
          socketPath: sock,
          method: "POST",
          path: "/containers/hj1/exec",
          headers: { "Content-Type": "application/json" },
        },
        (res) => {
          let got = "";
          res.on("data", (x) => (got += x));
          res.on("end", () => resolve(got));
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify({ Cmd: ["cat"], AttachStdin: true, AttachStdout: true, AttachStderr: true }));
    });
    const { Id } = JSON.parse(create) as { Id: string };
    const body = JSON.stringify({ Detach: false, Tty: false });
    const got = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(sock);
      const chunks: Buffer[] = [];
      let upgraded = false;
      s.on("data", (c) => {
        chunks.push(c);
        if (!upgraded && Buffer.concat(chunks).includes("\r\n\r\n")) {
          upgraded = true;
          s.end("late body stdin\n");
        }
      });
      s.on("close", () => resolve(Buffer.concat(chunks)));
      s.on("error", reject);
      s.write(
        `POST /exec/${Id}/start HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      setTimeout(() => s.write(body), 150); // the body in a later packet than the headers
    });
    const text = got.toString("latin1");
    assert.match(text, /^HTTP\/1.1 101 UPGRADED/);
    const payload = got.subarray(got.indexOf("\r\n\r\n") + 4);
    assert.equal(payload.subarray(8).toString(), "late body stdin\n");
    await ok(["rm", "-f", "hj1"]);
  });
});

describe("inspection", () => {
  test("stats one-shot, top, update, ps --limit and --size", async () => {
    await ok(["run", "-d", "--name", "st1", BUSYBOX, "sleep", "30"]);
    const stats = JSON.parse(await ok(["stats", "--no-stream", "--format", "{{json .}}", "st1"]));
    assert.equal(stats.Name, "st1");
    const top = await ok(["top", "st1"]);
    assert.match(top, /sleep 30/);
    await ok(["update", "--restart", "on-failure:3", "st1"]);
    assert.equal(
      await inspect(
        "st1",
        "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
      ),
      "on-failure:3",
    );
    await ok(["exec", "st1", "sh", "-c", "echo 12345 > /root/file"]);
    const size = await ok(["ps", "--size", "--filter", "name=st1", "--format", "{{.Size}}"]);
    assert.match(size, /^6B/);
    await ok(["create", "--name", "st2", BUSYBOX, "true"]);
    assert.equal((await ok(["ps", "-n", "1", "--format", "{{.Names}}"])).trim(), "st2");
    await ok(["rm", "-f", "st1", "st2"]);
  });
  test("user and entrypoint flags", async () => {
    assert.equal(
      await ok(["run", "--rm", "--entrypoint", "echo", BUSYBOX, "from", "entrypoint"]),
      "from entrypoint\n",
    );
    assert.equal(await ok(["run", "--rm", "-u", "nobody", BUSYBOX, "whoami"]), "nobody\n");
  });
  test("events filtered by container and type", async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    await ok(["run", "--name", "ev1", BUSYBOX, "true"]);
    await ok(["rm", "ev1"]);
    const until_ = String(Math.floor(Date.now() / 1000) + 1);
    const out = await ok([
      "events",
      "--since",
      since,
      "--until",
      until_,
      "--filter",
      "container=ev1",
      "--filter",
      "type=container",
      "--format",
      "{{.Action}}",
    ]);
    assert.deepEqual(
      out.trim().split("\n"),
      ["create", "attach", "start", "die", "destroy"].filter((a) => out.includes(a)),
    );
    assert.match(out, /create\n(.*\n)*start\n(.*\n)*die\n(.*\n)*destroy/);
  });
});

describe("restart policies and limits", () => {
  test("always restarts after exit; unless-stopped stays stopped after docker stop", async () => {
    await ok(["run", "-d", "--name", "ra", "--restart", "always", BUSYBOX, "sh", "-c", "sleep 0.2"]);
    await until(async () => Number(await inspect("ra", "{{.RestartCount}}")) >= 2, "two restarts");
    await ok(["run", "-d", "--name", "ru", "--restart", "unless-stopped", BUSYBOX, "sleep", "30"]);
    await ok(["stop", "-t", "0", "ru"]);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await inspect("ru", "{{.State.Status}} {{.RestartCount}}"), "exited 0");
    await ok(["rm", "-f", "ra", "ru"]);
  });
  test("the run-time limit kills a container that outlives it", async () => {
    const r = await run(["run", "--rm", BUSYBOX, "sleep", "60"]);
    assert.equal(r.code, 137);
  });
});

describe("prune and volumes", () => {
  test("volumes are created on mount; prune removes anonymous ones, -a all unused", async () => {
    await ok(["run", "--rm", "-v", "auto-vol:/d", BUSYBOX, "true"]);
    assert.match(await ok(["volume", "ls", "-q"]), /auto-vol/);
    await ok(["run", "--name", "anon", "-v", "/anon", BUSYBOX, "true"]);
    const anon = await inspect("anon", "{{(index .Mounts 0).Name}}");
    await ok(["rm", "anon"]);
    await ok(["volume", "prune", "-f"]);
    const left = await ok(["volume", "ls", "-q"]);
    assert.doesNotMatch(left, new RegExp(anon));
    assert.match(left, /auto-vol/);
    await ok(["volume", "prune", "-f", "-a"]);
    assert.doesNotMatch(await ok(["volume", "ls", "-q"]), /auto-vol/);
  });
  test("image prune -a removes unused images only", async () => {
    await ok(["pull", HELLO]);
    await ok(["create", "--name", "keep", BUSYBOX, "true"]);
    await ok(["image", "prune", "-a", "-f"]);
    const images = await ok(["images", "--format", "{{.Repository}}"]);
    assert.match(images, /busybox/);
    assert.doesNotMatch(images, /hello-sh/);
    await ok(["rm", "keep"]);
  });
});

describe("daemon", () => {
  test("listens on TCP loopback too, refuses a public TCP address without TLS", async () => {
    const port = 23750 + Math.floor(Math.random() * 200);
    const t = await startDaemon(undefined, ["-H", `tcp://127.0.0.1:${port}`]);
    try {
      assert.equal(
        (await dockerOk(`tcp://127.0.0.1:${port}`, ["version", "--format", "{{.Server.APIVersion}}"])).trim(),
        "1.44",
      );
    } finally {
      await t.stop();
      cleanup(t);
    }
    await assert.rejects(startDaemon(undefined, ["-H", "tcp://0.0.0.0:2375"]), /needs TLS/);
  });
  test("SIGTERM shuts down cleanly and removes the socket", async () => {
    const t = await startDaemon();
    const code = await t.stop("SIGTERM");
    assert.equal(code, 0);
    assert.equal(existsSync(t.host.slice("unix://".length)), false);
    cleanup(t);
  });
});
