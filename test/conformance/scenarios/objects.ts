// Volumes and networks.
import { BUSYBOX as B } from "../../helpers.js";
import { Filter } from "@docker/node-sdk";
import type { Scenario } from "../context.js";
import { NONE, sleeper } from "./lifecycle.js";

export const volumes: Scenario[] = [
  {
    name: "volume shared between containers",
    run: async (t) => {
      const v = t.name("v", "volume");
      await t.ok(["volume", "create", v]);
      await t.ok(["run", "--rm", ...NONE, "-v", `${v}:/data`, B, "sh", "-c", "echo shared > /data/f"]);
      await t.cli("read", ["run", "--rm", ...NONE, "-v", `${v}:/data`, B, "cat", "/data/f"]);
      await t.cli("inspect", [
        "volume",
        "inspect",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}} {{json .Labels}} {{json .Options}}",
        v,
      ]);
    },
  },
  {
    name: "volume create, inspect, ls filters",
    run: async (t) => {
      const g = t.name("g");
      const a = t.name("a", "volume");
      const b = t.name("b", "volume");
      await t.cli("create", ["volume", "create", "--label", `grp=${g}`, "--label", "k=1", a]);
      await t.ok(["volume", "create", "--label", `grp=${g}`, b]);
      await t.cli("create again", ["volume", "create", "--label", `grp=${g}`, "--label", "k=1", a]);
      await t.ok(["run", "--rm", ...NONE, "-v", `${b}:/b`, B, "true"]);
      const c = t.name("c");
      await t.ok(["create", "--name", c, ...NONE, "-v", `${b}:/b`, B, "true"]);
      const ls = (label: string, ...f: string[]) =>
        t.cli(label, [
          "volume",
          "ls",
          "--filter",
          `label=grp=${g}`,
          ...f.flatMap((x) => ["--filter", x]),
          "--format",
          "{{.Name}} {{.Driver}}",
        ]);
      await ls("by label");
      await ls("by label value", "label=k=1");
      await ls("by name", `name=${a}`);
      await ls("dangling", "dangling=true");
      await ls("not dangling", "dangling=false");
      await ls("driver", "driver=local");
      const sdk = await t.sdk();
      const r = await sdk.volumeList(new Filter().set("name", [a]));
      t.record(
        "node-sdk",
        (r.Volumes ?? []).map((v) => ({ Name: v.Name, Labels: v.Labels, Scope: v.Scope, Driver: v.Driver })),
      );
      await t.cli("bad filter", ["volume", "ls", "--filter", "colour=red"]);
    },
  },
  {
    name: "volume rm in use, force, unknown",
    run: async (t) => {
      const v = t.name("v", "volume");
      const c = await sleeper(t, "c", ["-v", `${v}:/d`]);
      await t.cli("rm in use", ["volume", "rm", v]);
      await t.cli("rm -f in use", ["volume", "rm", "-f", v]);
      await t.ok(["rm", "-f", c]);
      await t.cli("rm", ["volume", "rm", v]);
      await t.cli("rm unknown", ["volume", "rm", v]);
      await t.cli("inspect unknown", ["volume", "inspect", v]);
    },
  },
  {
    name: "volume prune with a label filter",
    run: async (t) => {
      const g = t.name("g");
      const a = t.name("a", "volume");
      const used = t.name("used", "volume");
      await t.ok(["volume", "create", "--label", `grp=${g}`, a]);
      await t.ok(["volume", "create", "--label", `grp=${g}`, used]);
      await sleeper(t, "c", ["-v", `${used}:/u`]);
      const prune = async (label: string, args: string[], env?: Record<string, string>) => {
        const r = await t.docker(["volume", "prune", "-f", ...args, "--filter", `label=grp=${g}`], { env });
        const lines = r.stdout.split("\n").filter((l) => !l.startsWith("Total"));
        t.record(label, `exit=${r.code}\n${lines.join("\n")}\nstderr=${r.stderr}`);
      };
      // API 1.42 made prune keep named volumes unless -a (all=true); 1.41 pruned every unused one.
      await prune("prune at the client's API version, named volumes kept", []);
      await prune("prune -a (API 1.42+)", ["-a"]);
      await prune("prune at API 1.41", [], { DOCKER_API_VERSION: "1.41" });
      await t.cli("left", ["volume", "ls", "--filter", `label=grp=${g}`, "--format", "{{.Name}}"]);
    },
  },
];

export const networks: Scenario[] = [
  {
    name: "network create and inspect",
    exclusive: "subnet 10.213.7.0/24",
    run: async (t) => {
      const n = t.name("n", "network");
      await t.ok([
        "network",
        "create",
        "--label",
        "a=b",
        "--subnet",
        "10.213.7.0/24",
        "--gateway",
        "10.213.7.1",
        "--internal",
        n,
      ]);
      await t.cli("inspect", [
        "network",
        "inspect",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.Attachable}} {{.EnableIPv6}} {{json .IPAM.Config}} {{.IPAM.Driver}} {{json .Labels}} {{json .Containers}} {{json .Options}}",
        n,
      ]);
      await t.cli("duplicate", ["network", "create", n]);
      await t.cli("ls filter", [
        "network",
        "ls",
        "--filter",
        `name=${n}`,
        "--filter",
        "label=a=b",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
      ]);
      await t.cli("bad subnet", ["network", "create", "--subnet", "10.213.8.0/33", t.name("bad", "network")]);
    },
  },
  {
    name: "network connect and disconnect",
    exclusive: "subnet 10.213.9.0/24",
    run: async (t) => {
      const n = t.name("n", "network");
      await t.ok(["network", "create", "--subnet", "10.213.9.0/24", n]);
      const c = t.name("c");
      await t.ok(["create", "--name", c, "--network", n, "--network-alias", "first", B, "sleep", "60"]);
      await t.cli("networks of the container", [
        "inspect",
        "--format",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{json $v.Aliases}} {{end}}",
        c,
      ]);
      await t.ok(["start", c]);
      await t.cli("ip from the subnet", [
        "inspect",
        "--format",
        `{{(index .NetworkSettings.Networks "${n}").IPAddress}}`,
        c,
      ]);
      await t.cli("containers of the network", [
        "network",
        "inspect",
        "--format",
        "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
        n,
      ]);
      await t.cli("disconnect", ["network", "disconnect", n, c]);
      await t.cli("after disconnect", ["inspect", "--format", "{{len .NetworkSettings.Networks}}", c]);
      await t.cli("connect with alias", [
        "network",
        "connect",
        "--alias",
        "second",
        "--ip",
        "10.213.9.77",
        n,
        c,
      ]);
      await t.cli("after connect", [
        "inspect",
        "--format",
        `{{(index .NetworkSettings.Networks "${n}").IPAddress}} {{json (index .NetworkSettings.Networks "${n}").Aliases}}`,
        c,
      ]);
      await t.cli("connect twice", ["network", "connect", n, c]);
      await t.cli("disconnect unknown", ["network", "disconnect", t.name("nope"), c]);
    },
  },
  {
    name: "network aliases resolve",
    run: async (t) => {
      const n = t.name("n", "network");
      await t.ok(["network", "create", n]);
      const s = t.name("server");
      await t.ok(["run", "-d", "--name", s, "--network", n, "--network-alias", "svc", B, "sleep", "60"]);
      const probe = (who: string) =>
        `nslookup ${who} >/dev/null 2>&1 || grep -q "[[:space:]]${who}\\b" /etc/hosts && echo ${who} resolves || echo ${who} unknown`;
      await t.cli("from another container", [
        "run",
        "--rm",
        "--network",
        n,
        B,
        "sh",
        "-c",
        `${probe("svc")}; ${probe(s)}; ${probe("nothere")}`,
      ]);
    },
  },
  {
    name: "network rm rules",
    run: async (t) => {
      const n = t.name("n", "network");
      await t.ok(["network", "create", n]);
      const c = t.name("user");
      await t.ok(["run", "-d", "--name", c, "--network", n, B, "sleep", "60"]);
      await t.cli("rm in use", ["network", "rm", n]);
      await t.cli("rm none", ["network", "rm", "none"]);
      await t.cli("rm host", ["network", "rm", "host"]);
      await t.cli("rm unknown", ["network", "rm", t.name("nope")]);
      await t.ok(["rm", "-f", c]);
      await t.cli("rm", ["network", "rm", n]);
    },
  },
  {
    name: "network prune with a label filter",
    run: async (t) => {
      const g = t.name("g");
      const a = t.name("a", "network");
      const used = t.name("used", "network");
      await t.ok(["network", "create", "--label", `grp=${g}`, a]);
      await t.ok(["network", "create", "--label", `grp=${g}`, used]);
      const c = t.name("c");
      await t.ok(["create", "--name", c, "--network", used, B, "true"]);
      // dockerd lists the pruned networks in map order: compared as a set
      const r = await t.docker(["network", "prune", "-f", "--filter", `label=grp=${g}`]);
      t.record(
        "prune",
        `exit=${r.code}\n${r.stdout.split("\n").filter(Boolean).sort().join("\n")}\nstderr=${r.stderr}`,
      );
      await t.cli("left", ["network", "ls", "--filter", `label=grp=${g}`, "--format", "{{.Name}}"]);
    },
  },
  {
    name: "predefined networks",
    run: async (t) => {
      await t.cli("none and host", [
        "network",
        "inspect",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
        "none",
        "host",
      ]);
      const c = t.name("c");
      await t.ok(["create", "--name", c, "--network", "host", B, "true"]);
      await t.cli("container on host", [
        "inspect",
        "--format",
        "{{.HostConfig.NetworkMode}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}",
        c,
      ]);
      await t.cli("connect to none", ["network", "connect", "none", c]);
    },
  },
];
