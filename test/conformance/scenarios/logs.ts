// Logs (tail, since, timestamps, follow, stdout/stderr split), exec, attach.
import { PassThrough } from "node:stream";
import { BUSYBOX as B } from "../../helpers.js";
import { sleep, type Scenario } from "../context.js";
import { NONE, sleeper } from "./lifecycle.js";

export const logs: Scenario[] = [
  {
    name: "logs stdout and stderr apart, tail",
    run: async (t) => {
      const c = t.name("c");
      await t.ok([
        "run",
        "--name",
        c,
        ...NONE,
        B,
        "sh",
        "-c",
        "echo 1; sleep 0.1; echo 2 >&2; sleep 0.1; echo 3",
      ]);
      await t.cli("logs", ["logs", c]);
      await t.cli("tail 1", ["logs", "--tail", "1", c]);
      await t.cli("tail 0", ["logs", "--tail", "0", c]);
      await t.cli("tail all", ["logs", "--tail", "all", c]);
    },
  },
  {
    name: "logs timestamps, since and until",
    run: async (t) => {
      const c = t.name("c");
      await t.ok(["run", "--name", c, ...NONE, B, "sh", "-c", "echo a; echo b"]);
      await t.cli("timestamps", ["logs", "-t", c]);
      await t.cli("since the future", ["logs", "--since", String(Math.floor(Date.now() / 1000) + 3600), c]);
      await t.cli("since long ago", ["logs", "--since", "2000-01-01T00:00:00Z", c]);
      await t.cli("until long ago", ["logs", "--until", "2000-01-01T00:00:00Z", c]);
      await t.cli("bad since", ["logs", "--since", "yesterday-ish", c]);
    },
  },
  {
    name: "logs -f follows until exit",
    run: async (t) => {
      const c = t.name("c");
      await t.ok(["run", "-d", "--name", c, ...NONE, B, "sh", "-c", "echo one; sleep 0.5; echo two; exit 2"]);
      await t.cli("follow", ["logs", "-f", c]);
    },
  },
  {
    name: "logs through dockerode, demultiplexed",
    run: async (t) => {
      const c = await t.dockerode.createContainer({
        name: t.name("c"),
        Image: B,
        Cmd: ["sh", "-c", "echo out; echo err >&2"],
        HostConfig: { NetworkMode: "none" },
      });
      await c.start();
      t.record("wait", await c.wait());
      const raw = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
      const out = new PassThrough();
      const err = new PassThrough();
      t.dockerode.modem.demuxStream(new PassThrough().end(raw), out, err);
      await sleep(50);
      t.record("stdout", String(out.read()));
      t.record("stderr", String(err.read()));
      const onlyErr = (await c.logs({ stdout: false, stderr: true })) as unknown as Buffer;
      t.record("stderr only, framed", onlyErr.toString("base64"));
    },
  },
  {
    name: "logs of a tty container are raw",
    run: async (t) => {
      const c = t.name("c");
      await t.ok(["run", "-t", "--name", c, ...NONE, B, "sh", "-c", "echo one; echo two >&2"]);
      const r = await t.http("GET", `/containers/${c}/logs?stdout=1&stderr=1`);
      t.record("raw body", JSON.stringify(r.body));
    },
  },
];

export const exec: Scenario[] = [
  {
    name: "exec env, workdir, exit code",
    run: async (t) => {
      const c = await sleeper(t, "c", ["-e", "BASE=1"]);
      await t.cli("exec", ["exec", "-e", "Q=1", "-w", "/tmp", c, "sh", "-c", "echo $Q $BASE; pwd; exit 4"]);
      await t.cli("exec stdin", ["exec", "-i", c, "cat"], { input: "in\n" });
    },
  },
  {
    name: "exec user",
    run: async (t) => {
      const c = await sleeper(t);
      await t.cli("nobody", ["exec", "-u", "nobody", c, "id", "-u"]);
      await t.cli("uid:gid", ["exec", "-u", "1234:5678", c, "sh", "-c", "id -u; id -g"]);
      await t.cli("unknown user", ["exec", "-u", "no-such-user", c, "true"]);
    },
  },
  {
    name: "exec into a stopped or unknown container",
    run: async (t) => {
      const c = t.name("c");
      await t.ok(["create", "--name", c, ...NONE, B, "true"]);
      await t.cli("created", ["exec", c, "true"]);
      await t.cli("unknown", ["exec", t.name("missing"), "true"]);
    },
  },
  {
    name: "exec inspect and detached exec",
    run: async (t) => {
      const c = await sleeper(t);
      const container = t.dockerode.getContainer(c);
      const e = await container.exec({
        Cmd: ["sh", "-c", "exit 9"],
        AttachStdout: true,
        Env: ["K=v"],
        WorkingDir: "/tmp",
      });
      const s = await e.start({ hijack: true, stdin: false });
      await new Promise((r) => s.on("end", r).resume());
      const i = await e.inspect();
      t.record("inspect", {
        ExitCode: i.ExitCode,
        Running: i.Running,
        ProcessConfig: i.ProcessConfig,
        OpenStdin: i.OpenStdin,
        OpenStdout: i.OpenStdout,
      });
      await t.cli("exec -d", ["exec", "-d", c, "sh", "-c", "echo done > /tmp/marker"]);
      await t.until(
        async () => (await t.docker(["exec", c, "cat", "/tmp/marker"])).code === 0,
        "detached exec",
      );
      await t.cli("marker", ["exec", c, "cat", "/tmp/marker"]);
    },
  },
  {
    name: "exec with a tty",
    run: async (t) => {
      const c = await sleeper(t);
      const container = t.dockerode.getContainer(c);
      const e = await container.exec({
        Cmd: ["sh", "-c", "echo tty; exit 3"],
        AttachStdout: true,
        Tty: true,
      });
      const s = await e.start({ hijack: true, stdin: false, Tty: true });
      const chunks: Buffer[] = [];
      s.on("data", (d: Buffer) => chunks.push(d));
      await new Promise((r) => s.on("end", r));
      t.record("output", JSON.stringify(Buffer.concat(chunks).toString()));
      t.record("exit", (await e.inspect()).ExitCode);
    },
  },
];

export const attach: Scenario[] = [
  {
    name: "stdin piped",
    run: async (t) =>
      void (await t.cli("run -i", ["run", "--rm", "-i", ...NONE, B, "cat"], { input: "one\ntwo\n" })),
  },
  {
    name: "run -t gives raw output",
    run: async (t) =>
      void (await t.cli("run -t", ["run", "--rm", "-t", ...NONE, B, "sh", "-c", "echo a; echo b >&2"])),
  },
  {
    name: "attach to a running container",
    run: async (t) => {
      const c = t.name("c");
      // The output must come after the attach connects: 3 s leaves room on a loaded machine.
      await t.ok(["run", "-d", "--name", c, ...NONE, B, "sh", "-c", "sleep 3; echo late; exit 3"]);
      await t.cli("attach", ["attach", c]);
    },
  },
  {
    name: "attach before start with stdin (dockerode)",
    run: async (t) => {
      const c = await t.dockerode.createContainer({
        name: t.name("c"),
        Image: B,
        Cmd: ["sh", "-c", "cat; echo done >&2"],
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: { NetworkMode: "none" },
      });
      const stream = await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const sink = (a: Buffer[]) => new PassThrough().on("data", (d: Buffer) => a.push(d));
      t.dockerode.modem.demuxStream(stream, sink(out), sink(err));
      await c.start();
      stream.end("via attach\n");
      t.record("wait", await c.wait());
      await sleep(100);
      t.record("stdout", Buffer.concat(out).toString());
      t.record("stderr", Buffer.concat(err).toString());
    },
  },
];
