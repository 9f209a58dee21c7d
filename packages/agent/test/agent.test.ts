/**
 * The agent for real: images built from the test registry's busybox (and from scratch) plus the
 * agent layer, run on the reference Docker Engine with host networking, driven through the
 * daemon-side API (forward and reverse mode).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type Docker from "dockerode";
import tar from "tar-stream";
import { Demuxer, DockerError } from "@sockerless/api";
import {
  AgentExecError,
  connectAgent,
  ReverseAgentHub,
  type AgentLayer,
  type AgentSession,
} from "../src/index.js";
import { buildWithAgent, collect, CuttableProxy, freePort, refDocker, REGISTRY, until } from "./helpers.js";

const docker = refDocker();
let busybox: string;
let scratch: string;
let layer: AgentLayer;
const containers: string[] = [];

before(async () => {
  ({ image: busybox, layer } = await buildWithAgent(
    docker,
    "agent-test-busybox",
    `FROM ${REGISTRY}/busybox:latest\nADD agent-layer.tar /\n`,
  ));
  // no shell, no libc: only a static busybox binary and the agent layer (taken from the image above)
  ({ image: scratch } = await buildWithAgent(
    docker,
    "agent-test-scratch",
    `FROM ${REGISTRY}/busybox:latest AS bb\nFROM scratch\nCOPY --from=bb /bin/busybox /busybox\nCOPY --from=${busybox} /.sockerless /.sockerless\n`,
    false,
  ));
});

after(async () => {
  await Promise.all(
    containers.map((id) =>
      docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  );
});

/** Run the agent as the container's entrypoint, wrapping `argv`. */
async function runAgent(opts: {
  argv: string[];
  agentArgs: string[];
  image?: string;
  token?: string;
  env?: string[];
}): Promise<Docker.Container> {
  const c = await docker.createContainer({
    name: `agent-${randomUUID().slice(0, 8)}`,
    Image: opts.image ?? busybox,
    Entrypoint: layer.entrypoint,
    Cmd: [...opts.agentArgs, "--grace", "5", "--", ...opts.argv],
    Env: [`SOCKERLESS_AGENT_TOKEN=${opts.token ?? "secret-token"}`, ...(opts.env ?? [])],
    HostConfig: { NetworkMode: "host" },
  });
  containers.push(c.id);
  await c.start();
  return c;
}

async function forward(argv: string[], extra: string[] = [], image?: string) {
  const port = await freePort();
  const c = await runAgent({ argv, agentArgs: ["--listen", `127.0.0.1:${port}`, ...extra], image });
  const session = await connectAgent(`ws://127.0.0.1:${port}`, "secret-token", { connectTimeoutMs: 20_000 });
  return { c, port, session };
}

async function execOut(
  s: AgentSession,
  cmd: string[],
  more: Partial<Parameters<AgentSession["exec"]>[0]> = {},
) {
  const p = await s.exec({ cmd, env: [], workdir: "/", user: "", tty: false, stdin: false, ...more });
  const o = collect(p);
  const code = await p.exited;
  return { code, out: o.out(), err: o.err() };
}

async function logs(c: Docker.Container): Promise<string> {
  const b = (await c.logs({ stdout: true, stderr: true })) as unknown as Buffer;
  return b.toString("latin1");
}

/** A non-TTY log body, demultiplexed. */
function demux(b: Buffer): { out: string; err: string } {
  const parts: Record<number, string> = { 1: "", 2: "" };
  for (const f of new Demuxer().push(b)) parts[f.stream] += f.payload.toString("latin1");
  return { out: parts[1], err: parts[2] };
}

describe("agent in a busybox image (forward mode)", () => {
  it("runs the main process: output, stderr, exit code, and mirrors output to its own stdout", async () => {
    const { c, session } = await forward(
      ["sh", "-c", "echo out; echo err >&2; sleep 0.3; echo late; exit 7"],
      ["--hold"],
    );
    const main = await session.attachMain();
    const o = collect(main);
    await session.startMain();
    assert.equal(await main.exited, 7);
    assert.equal(await session.mainExited, 7);
    assert.equal(o.out(), "out\nlate\n");
    assert.equal(o.err(), "err\n");
    // the agent exits with the main code once the daemon read it (well before the grace period)
    assert.equal(((await c.wait()) as { StatusCode: number }).StatusCode, 7);
    const l = await logs(c);
    assert.match(l, /out/);
    assert.match(l, /late/);
    assert.match(l, /err/);
    session.close();
  });

  it("marks the end of the main process's output on its stdout and stderr (--log-mark)", async () => {
    const { c, session } = await forward(
      ["sh", "-c", "echo out; printf unfinished >&2; exit 4"],
      ["--log-mark"],
    );
    assert.equal(await session.mainExited, 4);
    const mark = session.mainLogMark;
    assert.match(mark ?? "", /^[0-9a-f]{16}$/);
    assert.equal(((await c.wait()) as { StatusCode: number }).StatusCode, 4);
    const { out, err } = demux((await c.logs({ stdout: true, stderr: true })) as unknown as Buffer);
    const line = `sockerless-agent: end of output ${mark}\n`;
    // after the last line; an unfinished one is ended first, so the marker is a line of its own
    assert.ok(out.endsWith(`out\n${line}`), out);
    assert.ok(err.endsWith(`unfinished\n${line}`), err);
    session.close();
  });

  it("writes no marker without --log-mark", async () => {
    const { c, session } = await forward(["sh", "-c", "echo out"]);
    assert.equal(await session.mainExited, 0);
    assert.equal(session.mainLogMark, undefined);
    await c.wait();
    assert.doesNotMatch(await logs(c), /end of output/);
    session.close();
  });

  it("serves exec with env, workdir, user, stdin and exit codes", async () => {
    const { c, session } = await forward(["sleep", "300"]);
    const p = await session.exec({
      cmd: ["sh", "-c", 'echo "$FOO"; pwd; cat; echo to-err >&2; exit 5'],
      env: ["FOO=bar baz"],
      workdir: "/tmp",
      user: "",
      tty: false,
      stdin: true,
    });
    const o = collect(p);
    p.writeStdin(Buffer.from("from stdin\n"));
    p.endStdin();
    assert.equal(await p.exited, 5);
    assert.equal(o.out(), "bar baz\n/tmp\nfrom stdin\n");
    assert.equal(o.err(), "to-err\n");

    // a reader that registers only after the exit was reported (the daemon answering the client
    // after an await) still gets every frame before it can act on the exit
    const late = await session.exec({
      cmd: ["sh", "-c", "echo 1234; sleep 0.1; echo 5678; echo e >&2; exit 3"],
      env: [],
      workdir: "/",
      user: "",
      tty: false,
      stdin: false,
    });
    let exitedBeforeReading = false;
    late.exited.then(() => (exitedBeforeReading = true));
    await until(() => exitedBeforeReading, 20_000, "exec exit");
    const lateOut = collect(late);
    assert.equal(lateOut.out(), "1234\n5678\n");
    assert.equal(lateOut.err(), "e\n");
    assert.equal(await late.exited, 3);

    const who = await execOut(session, ["sh", "-c", "id -u; id -g; echo $HOME"], { user: "nobody" });
    assert.equal(who.out, "65534\n65534\n/home\n");
    const numeric = await execOut(session, ["id", "-u"], { user: "1234:5" });
    assert.equal(numeric.out, "1234\n");

    await assert.rejects(
      execOut(session, ["no-such-program"]),
      (e: unknown) =>
        e instanceof AgentExecError &&
        e.exitCode === 126 &&
        /exec: "no-such-program": executable file not found in \$PATH/.test(e.message),
    );
    await assert.rejects(execOut(session, ["ls"], { workdir: "/no/dir" }), /chdir to cwd \("\/no\/dir"\)/);
    await assert.rejects(execOut(session, ["ls"], { user: "ghost" }), /unable to find user ghost/);
    session.close();
    await c.kill();
  });

  it("reaps orphaned processes and reports usage (stats)", async () => {
    // the subshell exits at once, so its background sleep is orphaned and re-parented to PID 1
    const { c, session } = await forward(["sh", "-c", "(sleep 0.2 &); exec sleep 300"]);
    const zombies = async () =>
      (await execOut(session, ["sh", "-c", "cat /proc/[0-9]*/stat | grep -c ') Z ' || true"])).out.trim();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await zombies(), "0");
    const u = await session.usage();
    assert.equal(u.pids, 1, "the user's one process (sleep), the agent and tini left out");
    assert.ok(u.memoryBytes > 0 && u.cpuNanos > 0, JSON.stringify(u));
    session.close();
    await c.kill();
  });

  it("serves exec with a TTY, and resizes it", async () => {
    const { c, session } = await forward(["sleep", "300"]);
    const sized = await execOut(session, ["stty", "size"], { tty: true, rows: 30, cols: 100 });
    assert.equal(sized.code, 0);
    assert.equal(sized.out, "30 100\r\n"); // a terminal: CRLF, everything on stdout
    const p = await session.exec({
      cmd: ["sh", "-c", "read line; stty size; tty"],
      env: [],
      workdir: "/",
      user: "",
      tty: true,
      stdin: true,
    });
    const o = collect(p);
    p.resize(40, 120); // sequenced before the input below, so `stty` sees the new size
    p.writeStdin(Buffer.from("go\r"));
    assert.equal(await p.exited, 0);
    assert.match(o.out(), /40 120\r\n\/dev\/pts\/\d+\r\n/);
    session.close();
    await c.kill();
  });

  it("runs the main process on a terminal (--tty) and resizes it", async () => {
    const { c, session } = await forward(
      ["sh", "-c", "tty; read x; stty size; exit 2"],
      ["--hold", "--tty", "--stdin"],
    );
    const main = await session.attachMain();
    const o = collect(main);
    await session.startMain();
    await until(() => o.out().includes("/dev/pts/"));
    main.resize(50, 150);
    main.writeStdin(Buffer.from("\r"));
    assert.equal(await main.exited, 2);
    assert.match(o.out(), /^\/dev\/pts\/\d+\r\n\r\n50 150\r\n$/);
    assert.equal(o.err(), "");
    session.close();
    await c.wait();
  });

  it("puts, stats and gets archives, and refuses hostile tars", async () => {
    const { c, session } = await forward(["sleep", "300"]);
    const pack = tar.pack();
    pack.entry({ name: "./", type: "directory", mode: 0o1777 }); // as `docker cp DIR/. c:/tmp` sends it
    pack.entry({ name: "a.txt", mode: 0o640 }, "alpha\n");
    pack.entry({ name: "d/", type: "directory", mode: 0o755 });
    pack.entry({ name: "d/b.bin", mode: 0o600 }, Buffer.alloc(300_000, 9));
    pack.entry({ name: "d/ln", type: "symlink", linkname: "b.bin" });
    pack.finalize();
    await session.putArchive("/tmp", pack as unknown as Readable, { noOverwriteDirNonDir: false });

    const st = await session.statPath("/tmp/a.txt");
    assert.equal(st.name, "a.txt");
    assert.equal(st.size, 6);
    assert.equal(st.mode & 0o777, 0o640);
    const ln = await session.statPath("/tmp/d/ln");
    assert.equal(ln.linkTarget, "b.bin");
    await assert.rejects(
      session.statPath("/tmp/missing"),
      (e: unknown) => e instanceof DockerError && e.status === 404,
    );

    const { stat, tar: got } = await session.getArchive("/tmp/d");
    assert.ok(stat.mode & (2 ** 31), "a directory");
    const entries = new Map<string, Buffer>();
    const ex = tar.extract();
    ex.on("entry", (h, s, next) => {
      const parts: Buffer[] = [];
      s.on("data", (d: Buffer) => parts.push(d));
      s.on("end", () => {
        entries.set(`${h.type}:${h.name}`, Buffer.concat(parts));
        next();
      });
    });
    await new Promise<void>((resolve, reject) => {
      ex.on("finish", resolve).on("error", reject);
      got.pipe(ex);
    });
    assert.deepEqual([...entries.keys()].sort(), ["directory:d/", "file:d/b.bin", "symlink:d/ln"]);
    assert.ok(entries.get("file:d/b.bin")!.equals(Buffer.alloc(300_000, 9)));

    const hostile = async (build: (p: tar.Pack) => void, why: RegExp) => {
      const p = tar.pack();
      build(p);
      p.finalize();
      await assert.rejects(
        session.putArchive("/tmp", p as unknown as Readable, { noOverwriteDirNonDir: false }),
        (e: unknown) => e instanceof DockerError && e.status === 400 && why.test(e.message),
      );
    };
    await hostile((p) => p.entry({ name: "../evil" }, "x"), /escapes the destination/);
    await hostile((p) => p.entry({ name: "/abs-evil" }, "x"), /absolute paths are not allowed/);
    await hostile((p) => {
      p.entry({ name: "out", type: "symlink", linkname: "/etc" });
      p.entry({ name: "out/evil" }, "x");
    }, /leads out of the destination through a symlink/);
    await hostile((p) => p.entry({ name: "hl", type: "link", linkname: "../etc/passwd" }), /escapes/);
    const check = await execOut(session, ["sh", "-c", "ls /evil /abs-evil /etc/evil 2>&1; true"]);
    assert.equal((check.out.match(/No such file/g) ?? []).length, 3, check.out);
    await assert.rejects(
      session.putArchive("/no/such/dir", Readable.from([]), { noOverwriteDirNonDir: false }),
      (e: unknown) => e instanceof DockerError && e.status === 404,
    );
    // a source that fails mid-upload: the caller gets its error, the session stays usable
    const broken = new Readable({ read() {} });
    broken.push(Buffer.alloc(1024));
    setTimeout(() => broken.destroy(new Error("source broke")), 50);
    await assert.rejects(session.putArchive("/tmp", broken, { noOverwriteDirNonDir: false }), /source broke/);
    assert.equal((await session.statPath("/tmp/a.txt")).size, 6);
    session.close();
    await c.kill();
  });

  it("delivers signals to the main process: through the session and as the container's PID 1", async () => {
    const script = 'trap "echo got-TERM; exit 42" TERM; echo ready; while true; do sleep 0.1; done';
    const { c, session } = await forward(["sh", "-c", script], ["--hold"]);
    const main = await session.attachMain();
    const o = collect(main);
    await session.startMain();
    await until(() => o.out().includes("ready"));
    await session.signalMain("TERM");
    assert.equal(await session.mainExited, 42);
    assert.equal(o.out(), "ready\ngot-TERM\n");
    assert.equal(((await c.wait()) as { StatusCode: number }).StatusCode, 42);
    session.close();

    const second = await forward(["sh", "-c", script]);
    await until(async () => (await logs(second.c)).includes("ready"));
    await second.c.kill({ signal: "SIGTERM" }); // docker kill -s TERM: the agent is PID 1 and passes it on
    assert.equal(await second.session.mainExited, 42);
    assert.equal(((await second.c.wait()) as { StatusCode: number }).StatusCode, 42);
    second.session.close();
  });

  it("applies back-pressure to a fast producer and a slow reader loses nothing", async () => {
    const { c, session } = await forward(["sh", "-c", "seq 1 300000; touch /tmp/finished"], ["--hold"]);
    const main = await session.attachMain();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const parts: Buffer[] = [];
    main.onOutput(async (_s, d) => {
      parts.push(d);
      await gate; // a reader that does not read
    });
    await session.startMain();
    await new Promise((r) => setTimeout(r, 1500));
    // ~2 MB of output cannot have gone anywhere: the producer is blocked on its pipe
    const probe = await execOut(session, ["sh", "-c", "test -e /tmp/finished && echo done || echo blocked"]);
    assert.equal(probe.out, "blocked\n");
    release();
    assert.equal(await main.exited, 0);
    const text = Buffer.concat(parts).toString();
    const expected = Array.from({ length: 300000 }, (_, i) => `${i + 1}\n`).join("");
    assert.equal(text.length, expected.length);
    assert.ok(text === expected, "output differs from seq 1 300000");
    session.close();
    await c.wait();
  });

  it("resumes after the connection is cut, without losing output", async () => {
    const port = await freePort();
    const c = await runAgent({
      argv: ["sh", "-c", "seq 1 200000; sleep 0.5; seq 200001 250000"],
      agentArgs: ["--listen", `127.0.0.1:${port}`, "--hold"],
    });
    const proxy = new CuttableProxy(port);
    await proxy.start();
    const session = await connectAgent(`ws://127.0.0.1:${proxy.port}`, "secret-token", {
      connectTimeoutMs: 20_000,
      window: 64 * 1024,
    });
    const main = await session.attachMain();
    const parts: Buffer[] = [];
    let cuts = 0;
    let bytes = 0;
    main.onOutput(async (_s, d) => {
      parts.push(d);
      bytes += d.length;
      if ((cuts === 0 && bytes > 300_000) || (cuts === 1 && bytes > 1_000_000)) {
        proxy.cut(); // mid-stream, twice
        cuts++;
      }
      await new Promise((r) => setImmediate(r));
    });
    await session.startMain();
    assert.equal(await main.exited, 0);
    assert.equal(cuts, 2);
    const expected = Array.from({ length: 250000 }, (_, i) => `${i + 1}\n`).join("");
    assert.ok(Buffer.concat(parts).toString() === expected, "output lost or repeated across the cuts");
    session.close();
    proxy.stop();
    await c.wait();
  });

  it("delivers all attach output the daemon reads only after the main exit", async () => {
    // output still waiting for credit goes out after "main-exit": the agent must not exit on that
    // message's acknowledgement alone
    const port = await freePort();
    const c = await runAgent({
      argv: ["seq", "1", "30000"],
      agentArgs: ["--listen", `127.0.0.1:${port}`, "--hold"],
    });
    const session = await connectAgent(`ws://127.0.0.1:${port}`, "secret-token", {
      connectTimeoutMs: 20_000,
      window: 16 * 1024,
    });
    let mainKnown = false;
    void session.mainExited.then(() => (mainKnown = true));
    const main = await session.attachMain();
    const parts: Buffer[] = [];
    let paused = false;
    main.onOutput(async (_s, d) => {
      parts.push(d);
      // a slow reader keeps the agent short of credit; once the exit is known, stall a while
      await new Promise((r) => setTimeout(r, 2));
      if (mainKnown && !paused) {
        paused = true;
        await new Promise((r) => setTimeout(r, 1000));
      }
    });
    await session.startMain();
    assert.equal(await main.exited, 0);
    assert.ok(paused, "the main exit was reported before its output was read");
    const expected = Array.from({ length: 30000 }, (_, i) => `${i + 1}\n`).join("");
    assert.ok(Buffer.concat(parts).toString() === expected, "attach output lost after the main exit");
    session.close();
    await c.wait();
  });

  it("refuses a wrong token", async () => {
    const { c, port, session } = await forward(["sleep", "300"]);
    await assert.rejects(connectAgent(`ws://127.0.0.1:${port}`, "wrong-token"), /refused: HTTP 401/);
    await assert.rejects(connectAgent(`ws://127.0.0.1:${port}`, ""), /refused: HTTP 401/);
    session.close();
    await c.kill();
  });
});

describe("agent in reverse mode", () => {
  let server: Server;
  let hub: ReverseAgentHub;
  let callback: string;
  before(async () => {
    hub = new ReverseAgentHub();
    server = createServer((_req, res) => res.writeHead(404).end());
    server.on("upgrade", (req, socket, head) => hub.handleUpgrade(req, socket, head));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    callback = `http://127.0.0.1:${(server.address() as AddressInfo).port}/agent/connect`;
  });
  after(() => server.close());

  it("dials the hub, serves exec and reports the main exit code", async () => {
    const id = `rev-${randomUUID()}`;
    hub.expect(id, "rev-token");
    const c = await runAgent({
      argv: ["sh", "-c", "echo started; read x; exit 3"],
      agentArgs: ["--callback", callback, "--stdin"],
      token: "rev-token",
      env: [`SOCKERLESS_CONTAINER_ID=${id}`],
    });
    const session = await hub.waitFor(id, 20_000);
    const r = await execOut(session, ["sh", "-c", "echo via-reverse; exit 9"]);
    assert.deepEqual(r, { code: 9, out: "via-reverse\n", err: "" });
    const main = await session.attachMain();
    main.writeStdin(Buffer.from("\n"));
    assert.equal(await session.mainExited, 3);
    assert.equal(((await c.wait()) as { StatusCode: number }).StatusCode, 3);
    assert.match(await logs(c), /started/);
  });

  it("re-dials and resumes after the connection is cut, without losing output", async () => {
    const id = `rev-${randomUUID()}`;
    hub.expect(id, "rev-token");
    const proxy = new CuttableProxy(Number(new URL(callback).port));
    await proxy.start();
    const c = await runAgent({
      argv: ["seq", "1", "150000"],
      agentArgs: ["--callback", callback.replace(/:\d+\//, `:${proxy.port}/`), "--id", id, "--hold"],
      token: "rev-token",
    });
    const session = await hub.waitFor(id, 20_000);
    const main = await session.attachMain();
    const parts: Buffer[] = [];
    let bytes = 0;
    let cut = false;
    main.onOutput((_s, d) => {
      parts.push(d);
      bytes += d.length;
      if (!cut && bytes > 200_000) {
        proxy.cut();
        cut = true;
      }
    });
    await session.startMain();
    // the attach made before the cut completes: the same session was resumed, not replaced
    assert.equal(await main.exited, 0);
    assert.ok(cut);
    const expected = Array.from({ length: 150000 }, (_, i) => `${i + 1}\n`).join("");
    assert.ok(Buffer.concat(parts).toString() === expected, "output lost or repeated across the cut");
    proxy.stop();
    await c.wait();
  });

  it("takes only the agent of the expected start of the container", async () => {
    const id = `rev-${randomUUID()}`;
    hub.expect(id, "rev-token", "run-2");
    const stale = await runAgent({
      argv: ["sleep", "300"],
      agentArgs: ["--callback", callback, "--id", id, "--run", "run-1"],
      token: "rev-token",
    });
    await until(
      async () => /newer start of this container: not dialling again/.test(await logs(stale)),
      20_000,
    );
    assert.equal(hub.session(id), undefined);
    const current = await runAgent({
      argv: ["sleep", "300"],
      agentArgs: ["--callback", callback, "--id", id, "--run", "run-2"],
      token: "rev-token",
    });
    const session = await hub.waitFor(id, 20_000);
    assert.equal((await execOut(session, ["echo", "current"])).out, "current\n");
    await Promise.all([stale.kill(), current.kill()]);
  });

  it("refuses an agent with a wrong token and times out waiting for it", async () => {
    const id = `rev-${randomUUID()}`;
    hub.expect(id, "right-token");
    const c = await runAgent({
      argv: ["sleep", "300"],
      agentArgs: ["--callback", callback, "--id", id],
      token: "wrong-token",
    });
    await assert.rejects(hub.waitFor(id, 3000), new RegExp(`agent of ${id} did not connect within 3 s`));
    await until(async () => /refused: HTTP 401/.test(await logs(c)), 10_000, "agent logs the refusal");
    await c.kill();
  });
});

describe("agent in an image without a shell or libc", () => {
  it("runs a static binary as the main process and serves exec and archives", async () => {
    const { c, session } = await forward(
      ["/busybox", "sh", "-c", "echo hi from scratch; read x; exit 4"],
      ["--hold", "--stdin"],
      scratch,
    );
    const main = await session.attachMain();
    const o = collect(main);
    await session.startMain();
    await until(() => o.out().includes("hi from scratch"));
    const ls = await execOut(session, ["/busybox", "ls", "-a", "/"]);
    const root = ls.out.split("\n").filter(Boolean);
    assert.ok(root.includes(".sockerless") && root.includes("busybox"), ls.out);
    for (const absent of ["bin", "lib", "lib64", "usr"]) assert.ok(!root.includes(absent), ls.out);
    await assert.rejects(
      execOut(session, ["/bin/sh", "-c", "true"]),
      (e: unknown) =>
        e instanceof AgentExecError && /stat \/bin\/sh: no such file or directory/.test(e.message),
    );
    const st = await session.statPath("/busybox");
    assert.ok(st.size > 100_000);
    main.writeStdin(Buffer.from("x\n"));
    assert.equal(await session.mainExited, 4);
    assert.equal(((await c.wait()) as { StatusCode: number }).StatusCode, 4);
    session.close();
  });
});
