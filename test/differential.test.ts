// The same scenarios against the reference Docker Engine (Debian docker.io) and Sockerless;
// outputs are compared after normalising ids, names and times.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { BUSYBOX, cleanup, docker, dockerOk, startDaemon, type Daemon } from "./helpers.js";

const REF = process.env.SOCKERLESS_REF_DOCKER_HOST;
let d: Daemon;
let seq = 0;

before(async () => {
  if (!REF)
    throw new Error(
      "SOCKERLESS_REF_DOCKER_HOST is not set: the differential suite needs the reference engine (scripts/test-env.sh)",
    );
  d = await startDaemon();
  await dockerOk(d.host, ["pull", BUSYBOX]);
  await dockerOk(REF, ["pull", BUSYBOX]);
});
after(async () => {
  await d?.stop();
  if (d) cleanup(d);
});

/** Normalise what legitimately differs between two engines: ids, generated names, times, ips. */
function normalise(s: string): string {
  return s
    .replace(/\b[0-9a-f]{64}\b/g, "<id>")
    .replace(/\b[0-9a-f]{12}\b/g, "<id12>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>")
    .replace(/\bdiff-\d+-[a-z]+\b/g, "<name>")
    .replace(/\/tmp\/sl-diff-[A-Za-z0-9]+/g, "<tmp>");
}

type Step = (host: string, name: (s: string) => string) => Promise<string>;

/** Run a scenario against both engines; unique names per engine keep them apart. */
async function both(step: Step): Promise<[string, string]> {
  const id = ++seq;
  const run = async (host: string, tag: string) => {
    const made: string[] = [];
    const name = (s: string) => {
      const n = `diff-${id}-${tag}${s}`;
      made.push(n);
      return n;
    };
    try {
      return normalise((await step(host, name)).replaceAll(`-${tag}`, "-x"));
    } finally {
      if (made.length) await docker(host, ["rm", "-f", ...made]);
    }
  };
  return [await run(REF!, "ref"), await run(d.host, "sl")];
}

const out = async (host: string, args: string[], input?: string) => {
  const r = await docker(host, args, { input });
  return `exit=${r.code}\nstdout=${r.stdout}\nstderr=${r.stderr}`;
};

const scenarios: Record<string, Step> = {
  "run echo": (h) => out(h, ["run", "--rm", "--network", "none", BUSYBOX, "echo", "hello"]),
  "exit code and stderr": (h) =>
    out(h, ["run", "--rm", "--network", "none", BUSYBOX, "sh", "-c", "echo o; echo e >&2; exit 42"]),
  "env merged by key": (h) =>
    out(h, [
      "run",
      "--rm",
      "--network",
      "none",
      "-e",
      "A=1",
      "-e",
      "PATH=/bin",
      BUSYBOX,
      "sh",
      "-c",
      "echo $A $PATH",
    ]),
  "stdin piped": (h) => out(h, ["run", "--rm", "-i", "--network", "none", BUSYBOX, "cat"], "one\ntwo\n"),
  "workdir created": (h) => out(h, ["run", "--rm", "--network", "none", "-w", "/a/b/c", BUSYBOX, "pwd"]),
  "missing command": async (h) =>
    (await docker(h, ["run", "--rm", "--network", "none", BUSYBOX, "nope-cmd"])).code.toString(),
  "inspect after exit": async (h, n) => {
    const c = n("c");
    await docker(h, [
      "run",
      "--name",
      c,
      "--network",
      "none",
      "--label",
      "k=v",
      "-e",
      "X=y",
      BUSYBOX,
      "sh",
      "-c",
      "exit 3",
    ]);
    return out(h, [
      "inspect",
      "--format",
      "{{.State.Status}} {{.State.ExitCode}} {{.Name}} {{json .Config.Cmd}} {{json .Config.Env}} {{json .Config.Labels}} {{.HostConfig.RestartPolicy.Name}} {{.RestartCount}} {{.Config.Image}}",
      c,
    ]);
  },
  "created state": async (h, n) => {
    const c = n("c");
    await docker(h, ["create", "--name", c, "--network", "none", BUSYBOX, "true"]);
    return out(h, [
      "inspect",
      "--format",
      "{{.State.Status}} {{.State.Running}} {{.State.Pid}} {{.State.StartedAt}}",
      c,
    ]);
  },
  "logs stdout and stderr apart, tail": async (h, n) => {
    const c = n("c");
    await docker(h, [
      "run",
      "--name",
      c,
      "--network",
      "none",
      BUSYBOX,
      "sh",
      "-c",
      "echo 1; sleep 0.1; echo 2 >&2; sleep 0.1; echo 3",
    ]);
    return (await out(h, ["logs", c])) + (await out(h, ["logs", "--tail", "1", c]));
  },
  "exec env, workdir, exit code": async (h, n) => {
    const c = n("c");
    await dockerOk(h, ["run", "-d", "--name", c, "--network", "none", BUSYBOX, "sleep", "60"]);
    return (
      (await out(h, ["exec", "-e", "Q=1", "-w", "/tmp", c, "sh", "-c", "echo $Q; pwd; exit 4"])) +
      (await out(h, ["exec", "-i", c, "cat"], "in\n"))
    );
  },
  "stop exit code of a PID 1 that ignores TERM": async (h, n) => {
    const c = n("c");
    await dockerOk(h, ["run", "-d", "--name", c, "--network", "none", BUSYBOX, "sleep", "60"]);
    await dockerOk(h, ["stop", "-t", "1", c]);
    return out(h, ["inspect", "--format", "{{.State.ExitCode}}", c]);
  },
  "kill exit code": async (h, n) => {
    const c = n("c");
    await dockerOk(h, ["run", "-d", "--name", c, "--network", "none", BUSYBOX, "sleep", "60"]);
    await dockerOk(h, ["kill", c]);
    return (
      (await out(h, ["inspect", "--format", "{{.State.ExitCode}} {{.State.Status}}", c])) +
      (await out(h, ["kill", c]))
    );
  },
  "wait returns the code": async (h, n) => {
    const c = n("c");
    await dockerOk(h, [
      "run",
      "-d",
      "--name",
      c,
      "--network",
      "none",
      BUSYBOX,
      "sh",
      "-c",
      "sleep 0.3; exit 5",
    ]);
    return out(h, ["wait", c]);
  },
  "name conflict": async (h, n) => {
    const c = n("c");
    await dockerOk(h, ["create", "--name", c, "--network", "none", BUSYBOX, "true"]);
    return out(h, ["create", "--name", c, "--network", "none", BUSYBOX, "true"]);
  },
  "no such container": (h) => out(h, ["logs", "diff-missing-container"]),
  "start a running container, stop a stopped one": async (h, n) => {
    const c = n("c");
    await dockerOk(h, ["run", "-d", "--name", c, "--network", "none", BUSYBOX, "sleep", "60"]);
    const a = await out(h, ["start", c]);
    await dockerOk(h, ["kill", c]);
    return a + (await out(h, ["stop", c]));
  },
  "rm of a running container": async (h, n) => {
    const c = n("c");
    await dockerOk(h, ["run", "-d", "--name", c, "--network", "none", BUSYBOX, "sleep", "60"]);
    return out(h, ["rm", c]);
  },
  "cp round trip": async (h, n) => {
    const c = n("c");
    const dir = mkdtempSync(path.join(os.tmpdir(), "sl-diff-"));
    writeFileSync(path.join(dir, "f.txt"), "content\n");
    await dockerOk(h, ["create", "--name", c, "--network", "none", BUSYBOX, "cat", "/root/f.txt"]);
    await dockerOk(h, ["cp", path.join(dir, "f.txt"), `${c}:/root/`]);
    const r = await out(h, ["start", "-a", c]);
    await dockerOk(h, ["cp", `${c}:/root/f.txt`, path.join(dir, "back.txt")]);
    return r + readFileSync(path.join(dir, "back.txt"), "utf8") + (await out(h, ["cp", `${c}:/nope`, dir]));
  },
  "volume shared between containers": async (h, n) => {
    const v = n("v");
    await dockerOk(h, ["volume", "create", v]);
    try {
      await dockerOk(h, [
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        `${v}:/data`,
        BUSYBOX,
        "sh",
        "-c",
        "echo shared > /data/f",
      ]);
      return (
        (await out(h, ["run", "--rm", "--network", "none", "-v", `${v}:/data`, BUSYBOX, "cat", "/data/f"])) +
        (await out(h, ["volume", "inspect", "--format", "{{.Name}} {{.Driver}} {{.Scope}}", v]))
      );
    } finally {
      await docker(h, ["volume", "rm", v]);
    }
  },
  "ps filters and format": async (h, n) => {
    const a = n("a");
    const b = n("b");
    await dockerOk(h, ["create", "--name", a, "--network", "none", "--label", `grp=${a}`, BUSYBOX, "true"]);
    await docker(h, [
      "run",
      "--name",
      b,
      "--network",
      "none",
      "--label",
      `grp=${a}`,
      BUSYBOX,
      "sh",
      "-c",
      "exit 1",
    ]);
    return (
      (await out(h, [
        "ps",
        "-a",
        "--filter",
        `label=grp=${a}`,
        "--format",
        "{{.Names}} {{.State}} {{.Labels}}",
      ])) +
      (await out(h, [
        "ps",
        "-a",
        "--filter",
        `label=grp=${a}`,
        "--filter",
        "exited=1",
        "--format",
        "{{.Names}}",
      ]))
    );
  },
  rename: async (h, n) => {
    const a = n("a");
    const b = n("b");
    await dockerOk(h, ["create", "--name", a, "--network", "none", BUSYBOX, "true"]);
    return (await out(h, ["rename", a, b])) + (await out(h, ["inspect", "--format", "{{.Name}}", b]));
  },
  "image inspect of the test image": (h) =>
    out(h, [
      "image",
      "inspect",
      "--format",
      "{{json .Config.Cmd}} {{json .Config.Env}} {{.Os}} {{.Architecture}} {{.Id}}",
      BUSYBOX,
    ]),
};

describe("differential: reference Docker Engine vs Sockerless", () => {
  for (const [name, step] of Object.entries(scenarios)) {
    test(name, async () => {
      const [ref, sl] = await both(step);
      assert.equal(sl, ref);
    });
  }
});
