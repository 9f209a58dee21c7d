// Container lifecycle: create/start/stop/kill/restart/rm, exit codes, --rm, wait conditions.
import { BUSYBOX as B } from "../../helpers.js";
import { sleep, type Context, type Scenario } from "../context.js";

export const NONE = ["--network", "none"];

/** A detached container that sleeps (PID 1 ignores SIGTERM, like any process without a handler). */
export async function sleeper(t: Context, hint = "c", extra: string[] = []): Promise<string> {
  const c = t.name(hint);
  await t.ok(["run", "-d", "--name", c, ...NONE, ...extra, B, "sleep", "60"]);
  return c;
}

export const lifecycle: Scenario[] = [
  {
    name: "run echo",
    run: async (t) => void (await t.cli("run", ["run", "--rm", ...NONE, B, "echo", "hello"])),
  },
  {
    name: "exit code and stderr",
    run: async (t) =>
      void (await t.cli("run", ["run", "--rm", ...NONE, B, "sh", "-c", "echo o; echo e >&2; exit 42"])),
  },
  {
    name: "missing command",
    // The message names the OCI runtime on a real engine; the exit code is the contract.
    run: async (t) => void (await t.cliCode("run", ["run", "--rm", ...NONE, B, "nope-cmd"])),
  },
  {
    name: "run --rm removes the container",
    run: async (t) => {
      const c = t.name("c");
      await t.cli("run", ["run", "--rm", "--name", c, ...NONE, B, "sh", "-c", "exit 3"]);
      await t.until(async () => (await t.docker(["inspect", c])).code !== 0, "auto-removal");
      await t.cli("inspect after", ["inspect", "--format", "{{.Name}}", c]);
    },
  },
  {
    name: "created state",
    run: async (t) => {
      const c = t.name("c");
      await t.ok(["create", "--name", c, ...NONE, B, "true"]);
      await t.cli("inspect", [
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.Running}} {{.State.Pid}} {{.State.StartedAt}} {{.State.FinishedAt}} {{.State.ExitCode}}",
        c,
      ]);
    },
  },
  {
    name: "inspect after exit",
    run: async (t) => {
      const c = t.name("c");
      await t.docker(["run", "--name", c, ...NONE, "--label", "k=v", "-e", "X=y", B, "sh", "-c", "exit 3"]);
      await t.cli("inspect", [
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.State.OOMKilled}} {{.State.Dead}} {{.Name}} {{json .Config.Cmd}} {{json .Config.Env}} {{json .Config.Labels}} {{.HostConfig.RestartPolicy.Name}} {{.RestartCount}} {{.Config.Image}}",
        c,
      ]);
    },
  },
  {
    name: "stop of a PID 1 that ignores TERM",
    run: async (t) => {
      const c = await sleeper(t);
      await t.cli("stop", ["stop", "-t", "1", c]);
      await t.cli("inspect", ["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", c]);
    },
  },
  {
    name: "stop of a PID 1 that traps TERM",
    run: async (t) => {
      const c = t.name("c");
      await t.ok([
        "run",
        "-d",
        "--name",
        c,
        ...NONE,
        B,
        "sh",
        "-c",
        "trap 'exit 7' TERM; echo ready; while true; do sleep 0.1; done",
      ]);
      await t.until(async () => (await t.ok(["logs", c])).includes("ready"), "the trap to be set");
      await t.cli("stop", ["stop", "-t", "5", c]);
      await t.cli("inspect", ["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", c]);
    },
  },
  {
    name: "stop --signal",
    run: async (t) => {
      const c = await sleeper(t);
      await t.cli("stop", ["stop", "--signal", "KILL", c]);
      await t.cli("inspect", ["inspect", "--format", "{{.State.ExitCode}}", c]);
    },
  },
  {
    name: "kill exit code",
    run: async (t) => {
      const c = await sleeper(t);
      await t.cli("kill", ["kill", c]);
      await t.cli("inspect", ["inspect", "--format", "{{.State.ExitCode}} {{.State.Status}}", c]);
      await t.cli("kill again", ["kill", c]);
    },
  },
  {
    name: "kill with a signal",
    run: async (t) => {
      const c = await sleeper(t);
      // PID 1 has no handler for USR1, and the kernel drops signals PID 1 does not handle.
      await t.cli("kill USR1", ["kill", "-s", "USR1", c]);
      await sleep(300);
      await t.cli("still running", ["inspect", "--format", "{{.State.Status}}", c]);
      await t.cli("kill -s KILL", ["kill", "-s", "KILL", c]);
      await t.ok(["wait", c]);
      await t.cli("inspect", ["inspect", "--format", "{{.State.ExitCode}} {{.State.Status}}", c]);
      await t.cli("bad signal", ["kill", "-s", "NOPE", c]);
    },
  },
  {
    name: "wait returns the code",
    run: async (t) => {
      const c = t.name("c");
      await t.ok(["run", "-d", "--name", c, ...NONE, B, "sh", "-c", "sleep 0.3; exit 5"]);
      await t.cli("wait", ["wait", c]);
    },
  },
  {
    name: "wait conditions",
    run: async (t) => {
      const created = t.name("created");
      await t.ok(["create", "--name", created, ...NONE, B, "true"]);
      await t.api(
        "not-running of a created container",
        "POST",
        `/containers/${created}/wait?condition=not-running`,
      );
      await t.api("bad condition", "POST", `/containers/${created}/wait?condition=sideways`);
      const c = t.name("c");
      await t.ok(["create", "--name", c, "--rm", ...NONE, B, "sh", "-c", "sleep 1; exit 4"]);
      // The waits must be registered before the container goes: generous pauses for a loaded machine.
      const removed = t.http("POST", `/containers/${c}/wait?condition=removed`);
      await sleep(500);
      await t.ok(["start", c]);
      const r = await removed;
      t.recordAnswer("removed", r);
      const n = t.name("next");
      await t.ok(["run", "-d", "--name", n, ...NONE, B, "sleep", "60"]);
      const next = t.http("POST", `/containers/${n}/wait?condition=next-exit`);
      await sleep(500);
      await t.ok(["kill", n]);
      const x = await next;
      t.recordAnswer("next-exit", x);
    },
  },
  {
    name: "start a running container, stop a stopped one",
    run: async (t) => {
      const c = await sleeper(t);
      await t.cli("start running", ["start", c]);
      await t.ok(["kill", c]);
      await t.cli("stop stopped", ["stop", c]);
      await t.cli("start again", ["start", c]);
      await t.cli("inspect", ["inspect", "--format", "{{.State.Status}} {{.RestartCount}}", c]);
    },
  },
  {
    name: "rm of a running container",
    run: async (t) => {
      const c = await sleeper(t);
      await t.cli("rm", ["rm", c]);
      await t.cli("rm -f", ["rm", "-f", c]);
      await t.cli("inspect", ["inspect", c]);
    },
  },
  {
    name: "restart",
    run: async (t) => {
      const c = t.name("c");
      await t.ok(["run", "-d", "--name", c, ...NONE, B, "sh", "-c", "echo started; sleep 60"]);
      await t.cli("restart", ["restart", "-t", "0", c]);
      await t.cli("inspect", [
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.Running}} {{.RestartCount}}",
        c,
      ]);
      await t.until(async () => (await t.ok(["logs", c])).split("\n").length > 2, "second start's output");
      await t.cli("logs", ["logs", c]);
    },
  },
  {
    name: "create then start -a",
    run: async (t) => {
      const c = t.name("c");
      await t.ok(["create", "--name", c, ...NONE, B, "sh", "-c", "echo out; echo err >&2; exit 6"]);
      await t.cli("start -a", ["start", "-a", c]);
      await t.cli("wait", ["wait", c]);
    },
  },
  {
    name: "pause and unpause",
    run: async (t) => {
      const c = await sleeper(t);
      await t.cli("pause", ["pause", c]);
      await t.cli("inspect", ["inspect", "--format", "{{.State.Status}} {{.State.Paused}}", c]);
      await t.cli("unpause", ["unpause", c]);
      await t.cli("inspect again", ["inspect", "--format", "{{.State.Status}} {{.State.Paused}}", c]);
    },
  },
  {
    name: "rename",
    run: async (t) => {
      const a = t.name("a");
      const b = t.name("b");
      await t.ok(["create", "--name", a, ...NONE, B, "true"]);
      await t.cli("rename", ["rename", a, b]);
      await t.cli("inspect", ["inspect", "--format", "{{.Name}}", b]);
      await t.cli("old name", ["inspect", a]);
      const c = t.name("c");
      await t.ok(["create", "--name", c, ...NONE, B, "true"]);
      await t.cli("rename onto a used name", ["rename", c, b]);
    },
  },
  {
    name: "update",
    run: async (t) => {
      const c = await sleeper(t);
      await t.cli("update", [
        "update",
        "--restart",
        "on-failure:3",
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "--cpu-shares",
        "512",
        c,
      ]);
      await t.cli("inspect", [
        "inspect",
        "--format",
        "{{json .HostConfig.RestartPolicy}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}}",
        c,
      ]);
      const rm = await sleeper(t, "rm", ["--rm"]);
      await t.cli("restart policy of an auto-removed container", ["update", "--restart", "always", rm]);
    },
  },
  {
    name: "top",
    run: async (t) => {
      const c = await sleeper(t);
      const r = await t.docker(["top", c]);
      const lines = r.stdout.trim().split("\n");
      // PIDs and times are the host's; the header and the command are the contract.
      t.record("header", lines[0].split(/\s+/).join(" "));
      t.record(
        "commands",
        lines
          .slice(1)
          .map((l) => l.split(/\s+/).slice(7).join(" "))
          .join("\n"),
      );
      await t.ok(["kill", c]);
      await t.cli("top of a stopped container", ["top", c]);
    },
  },
  {
    name: "stats --no-stream",
    run: async (t) => {
      const c = await sleeper(t);
      // Figures are the machine's; names, PID counts and the columns are the contract.
      await t.cli("stats", ["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", c]);
      const r = await t.docker(["stats", "--no-stream", c]);
      t.record(
        "columns",
        r.stdout
          .split("\n")[0]
          .split(/\s{2,}/)
          .join("|"),
      );
    },
  },
  {
    name: "export and diff",
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
        "mkdir -p /x/y && echo hi > /x/y/f && rm /bin/ls && echo t > /tmp/t",
      ]);
      const diff = await t.docker(["diff", c]);
      t.record("diff", `exit=${diff.code}\n${diff.stdout.split("\n").filter(Boolean).sort().join("\n")}`);
      const dir = t.tmp();
      await t.ok(["export", "-o", `${dir}/fs.tar`, c]);
      const tar = await import("node:child_process").then((cp) =>
        cp.execFileSync("tar", ["-tf", `${dir}/fs.tar`], { encoding: "utf8" }),
      );
      const listed = tar.split("\n");
      t.record(
        "export has",
        ["x/y/f", "tmp/t", "bin/sh", "bin/ls", "etc/hostname", "etc/hosts", ".dockerenv"]
          .map((f) => `${f}: ${listed.includes(f)}`)
          .join("\n"),
      );
    },
  },
];
