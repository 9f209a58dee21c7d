// ps filters and formats, labels, env merge, entrypoint/cmd, user, hostname.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { BUSYBOX as B, HELLO } from "../../helpers.js";
import { Filter } from "@docker/node-sdk";
import type { Scenario } from "../context.js";
import { NONE, sleeper } from "./lifecycle.js";

export const ps: Scenario[] = [
  {
    name: "ps filters and format",
    run: async (t) => {
      const a = t.name("a");
      const b = t.name("b");
      await t.ok(["create", "--name", a, ...NONE, "--label", `grp=${a}`, B, "true"]);
      await t.docker(["run", "--name", b, ...NONE, "--label", `grp=${a}`, B, "sh", "-c", "exit 1"]);
      await t.cli("label", [
        "ps",
        "-a",
        "--filter",
        `label=grp=${a}`,
        "--format",
        "{{.Names}} {{.State}} {{.Labels}}",
      ]);
      await t.cli("label and exited", [
        "ps",
        "-a",
        "--filter",
        `label=grp=${a}`,
        "--filter",
        "exited=1",
        "--format",
        "{{.Names}}",
      ]);
    },
  },
  {
    name: "ps status, name, id, ancestor and volume filters",
    run: async (t) => {
      const g = t.name("g");
      const created = t.name("created");
      const running = await sleeper(t, "running", ["--label", `grp=${g}`]);
      await t.ok(["create", "--name", created, ...NONE, "--label", `grp=${g}`, B, "true"]);
      const f = (label: string, ...filters: string[]) =>
        t.cli(label, [
          "ps",
          "-a",
          "--filter",
          `label=grp=${g}`,
          ...filters.flatMap((x) => ["--filter", x]),
          "--format",
          "{{.Names}}",
        ]);
      await f("status=created", "status=created");
      await f("status=running", "status=running");
      await f("status=created or running", "status=created", "status=running");
      await f("name", `name=${running}`);
      await f("ancestor", `ancestor=${B}`);
      await f("before", `before=${running}`);
      await f("since", `since=${running}`);
      await f("is-task", "is-task=false");
      await t.cli("without -a", ["ps", "--filter", `label=grp=${g}`, "--format", "{{.Names}}"]);
      await t.cli("bad filter", ["ps", "--filter", "colour=blue"]);
      await t.cli("bad status", ["ps", "--filter", "status=sleepy"]);
    },
  },
  {
    name: "ps formats",
    run: async (t) => {
      const c = await sleeper(t, "c", ["--label", "x=1"]);
      const fmt = (label: string, format: string) =>
        t.cli(label, ["ps", "--filter", `name=${c}`, "--format", format]);
      await fmt("table", "table {{.Names}}\t{{.Image}}\t{{.Command}}\t{{.State}}");
      await fmt("status", "{{.Status}}");
      await fmt("label", '{{.Label "x"}} {{.Mounts}} {{.Networks}} {{.Ports}}');
      await fmt("json", "{{json .Labels}}");
      await t.cli("quiet no-trunc", ["ps", "-q", "--no-trunc", "--filter", `name=${c}`]);
    },
  },
  {
    name: "ps through the SDKs",
    run: async (t) => {
      const c = await sleeper(t, "c", ["--label", "sdk=1"]);
      const list = await t.dockerode.listContainers({ all: true, filters: { name: [c] } });
      const pick = (x: Record<string, any>) => ({
        Names: x.Names,
        Image: x.Image,
        Command: x.Command,
        State: x.State,
        Labels: x.Labels,
        Ports: x.Ports,
        HostConfig: x.HostConfig,
        NetworkSettings: Object.keys(x.NetworkSettings?.Networks ?? {}),
        Mounts: x.Mounts,
      });
      t.record(
        "dockerode",
        list.map((x) => pick(x as unknown as Record<string, any>)),
      );
      const sdk = await t.sdk();
      const l2 = await sdk.containerList({
        all: true,
        filters: new Filter().set("label", ["sdk=1"]).set("name", [c]),
      });
      t.record(
        "node-sdk",
        l2.map((x) => pick(x as unknown as Record<string, any>)),
      );
    },
  },
];

export const config: Scenario[] = [
  {
    name: "env merged by key",
    run: async (t) =>
      void (await t.cli("run", [
        "run",
        "--rm",
        ...NONE,
        "-e",
        "A=1",
        "-e",
        "PATH=/bin",
        B,
        "sh",
        "-c",
        "echo $A $PATH",
      ])),
  },
  {
    name: "env from a file and the host",
    run: async (t) => {
      const dir = t.tmp();
      writeFileSync(path.join(dir, "env"), "# comment\nFROM_FILE=1\nSPACED=a b\n");
      await t.cli("env", [
        "run",
        "--rm",
        ...NONE,
        "--env-file",
        path.join(dir, "env"),
        "-e",
        "EMPTY=",
        B,
        "env",
      ]);
    },
  },
  {
    name: "image config: env, workdir, cmd, labels",
    run: async (t) => {
      await t.ok(["pull", "-q", HELLO]);
      const c = t.name("c");
      await t.cli("run", ["run", "--name", c, ...NONE, HELLO]);
      await t.cli("inspect", [
        "inspect",
        "--format",
        "{{json .Config.Env}} {{.Config.WorkingDir}} {{json .Config.Cmd}} {{json .Config.Labels}} {{json .Config.ExposedPorts}} {{json .Config.Healthcheck}}",
        c,
      ]);
      await t.cli("override", [
        "run",
        "--rm",
        ...NONE,
        "-e",
        "GREETING=yo",
        "-w",
        "/",
        HELLO,
        "sh",
        "-c",
        "echo $GREETING; pwd",
      ]);
    },
  },
  {
    name: "workdir created",
    run: async (t) => void (await t.cli("run", ["run", "--rm", ...NONE, "-w", "/a/b/c", B, "pwd"])),
  },
  {
    name: "entrypoint and cmd combinations",
    run: async (t) => {
      await t.cli("entrypoint with args", ["run", "--rm", ...NONE, "--entrypoint", "echo", B, "a", "b"]);
      await t.cli("entrypoint alone", ["run", "--rm", ...NONE, "--entrypoint", "pwd", B]);
      await t.cli("image cmd", ["run", "--rm", ...NONE, B], { input: "" });
      const c = t.name("c");
      await t.ok(["create", "--name", c, ...NONE, "--entrypoint", "/bin/sh", B, "-c", "echo $0 $1", "x"]);
      await t.cli("path and args", [
        "inspect",
        "--format",
        "{{.Path}} {{json .Args}} {{json .Config.Entrypoint}} {{json .Config.Cmd}}",
        c,
      ]);
      await t.cli("start", ["start", "-a", c]);
      await t.cli("empty entrypoint", ["run", "--rm", ...NONE, "--entrypoint", "", B, "echo", "e"]);
    },
  },
  {
    name: "labels",
    run: async (t) => {
      const c = t.name("c");
      const dir = t.tmp();
      writeFileSync(path.join(dir, "labels"), "from.file=yes\n");
      await t.ok([
        "create",
        "--name",
        c,
        ...NONE,
        "--label",
        "a=1",
        "--label",
        "b",
        "--label-file",
        path.join(dir, "labels"),
        B,
        "true",
      ]);
      await t.cli("inspect", ["inspect", "--format", "{{json .Config.Labels}}", c]);
      await t.cli("filter key only", [
        "ps",
        "-a",
        "--filter",
        `name=${c}`,
        "--filter",
        "label=b",
        "--format",
        "{{.Names}}",
      ]);
      await t.cli("filter mismatch", [
        "ps",
        "-a",
        "--filter",
        `name=${c}`,
        "--filter",
        "label=a=2",
        "--format",
        "{{.Names}}",
      ]);
    },
  },
  {
    name: "user flag",
    run: async (t) => {
      await t.cli("uid", ["run", "--rm", ...NONE, "-u", "1000:1000", B, "sh", "-c", "id -u; id -g"]);
      await t.cli("name", ["run", "--rm", ...NONE, "-u", "nobody", B, "id", "-un"]);
      await t.cli("unknown", ["run", "--rm", ...NONE, "-u", "nosuchuser", B, "true"]);
    },
  },
  {
    name: "hostname and hosts",
    run: async (t) => {
      await t.cli("hostname", [
        "run",
        "--rm",
        ...NONE,
        "-h",
        "myhost",
        B,
        "sh",
        "-c",
        "hostname; cat /etc/hostname",
      ]);
      await t.cli("add-host", [
        "run",
        "--rm",
        ...NONE,
        "--add-host",
        "h1:10.9.8.7",
        B,
        "sh",
        "-c",
        "grep h1 /etc/hosts",
      ]);
    },
  },
  {
    name: "bind mounts, read-only",
    run: async (t) => {
      const dir = t.tmp();
      writeFileSync(path.join(dir, "in"), "from host\n");
      await t.cli("read and write", [
        "run",
        "--rm",
        ...NONE,
        "-v",
        `${dir}:/h`,
        B,
        "sh",
        "-c",
        "cat /h/in; echo back > /h/out",
      ]);
      await t.cli("read-only", [
        "run",
        "--rm",
        ...NONE,
        "-v",
        `${dir}:/h:ro`,
        B,
        "sh",
        "-c",
        "echo no > /h/x",
      ]);
      await t.cli("--mount", [
        "run",
        "--rm",
        ...NONE,
        "--mount",
        `type=bind,src=${dir},dst=/m,readonly`,
        B,
        "cat",
        "/m/out",
      ]);
      await t.cli("missing source", [
        "run",
        "--rm",
        ...NONE,
        "--mount",
        `type=bind,src=${dir}/nope,dst=/m`,
        B,
        "true",
      ]);
    },
  },
];
