// docker cp in and out, archive stat, and the inspect projection.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BUSYBOX as B } from "../../helpers.js";
import type { Context, Scenario } from "../context.js";
import { NONE, sleeper } from "./lifecycle.js";

/** The X-Docker-Container-Path-Stat header, decoded, without the time. */
function pathStat(h: string | string[] | undefined) {
  if (typeof h !== "string") return String(h);
  const s = JSON.parse(Buffer.from(h, "base64").toString()) as Record<string, unknown>;
  return { name: s.name, size: s.size, mode: s.mode, linkTarget: s.linkTarget };
}

export const files: Scenario[] = [
  {
    name: "cp round trip",
    run: async (t) => {
      const c = t.name("c");
      const dir = t.tmp();
      writeFileSync(path.join(dir, "f.txt"), "content\n");
      await t.ok(["create", "--name", c, ...NONE, B, "cat", "/root/f.txt"]);
      await t.cli("cp in", ["cp", path.join(dir, "f.txt"), `${c}:/root/`]);
      await t.cli("start -a", ["start", "-a", c]);
      await t.cli("cp out", ["cp", `${c}:/root/f.txt`, path.join(dir, "back.txt")]);
      t.record("copied back", readFileSync(path.join(dir, "back.txt"), "utf8"));
      await t.cli("missing path", ["cp", `${c}:/nope`, dir]);
      await t.cli("missing container", ["cp", `${t.name("missing")}:/etc/hostname`, dir]);
    },
  },
  {
    name: "cp directories in and out",
    run: async (t) => {
      const c = await sleeper(t);
      const dir = t.tmp();
      mkdirSync(path.join(dir, "src/sub"), { recursive: true });
      writeFileSync(path.join(dir, "src/a"), "A");
      writeFileSync(path.join(dir, "src/sub/b"), "B");
      await t.cli("cp dir in", ["cp", path.join(dir, "src"), `${c}:/tmp/`]);
      await t.cli("listing", ["exec", c, "sh", "-c", "cd /tmp/src && find . | sort && cat a sub/b"]);
      await t.cli("cp dir contents in", ["cp", `${path.join(dir, "src")}/.`, `${c}:/home/`]);
      await t.cli("listing 2", ["exec", c, "sh", "-c", "cd /home && find . | sort"]);
      await t.cli("cp dir out", ["cp", `${c}:/tmp/src`, path.join(dir, "out")]);
      t.record("out", readdirSync(path.join(dir, "out"), { recursive: true }).map(String).sort().join(" "));
      // The CLI may also log its tar writer's broken pipe, racily: the last line is the answer.
      const r = await t.docker(["cp", path.join(dir, "src/a"), `${c}:/no/such/dir/`]);
      t.record("cp into a missing dir", `exit=${r.code}\n${r.stderr.trim().split("\n").pop()}`);
    },
  },
  {
    name: "archive stat",
    run: async (t) => {
      const c = t.name("c");
      await t.ok(["create", "--name", c, ...NONE, B, "true"]);
      const dir = t.tmp();
      writeFileSync(path.join(dir, "f"), "12345");
      await t.ok(["cp", path.join(dir, "f"), `${c}:/tmp/f`]);
      // Directory sizes are the filesystem's; a file's size, names, modes and links are the contract.
      for (const p of ["/tmp/f", "/bin", "/tmp", "/nope"]) {
        const r = await t.http("HEAD", `/containers/${c}/archive?path=${encodeURIComponent(p)}`);
        const stat = pathStat(r.headers["x-docker-container-path-stat"]);
        if (typeof stat === "object" && p !== "/tmp/f") delete (stat as { size?: unknown }).size;
        t.record(`HEAD ${p}`, { status: r.status, stat });
      }
      const missing = await t.http("GET", `/containers/${c}/archive?path=/nope`);
      t.record("GET missing", {
        status: missing.status,
        message: (missing.json as { message?: string })?.message,
      });
    },
  },
  {
    name: "cp honours a read-only root filesystem",
    run: async (t) => {
      const c = t.name("c");
      await t.ok(["create", "--name", c, ...NONE, "--read-only", B, "true"]);
      const dir = t.tmp();
      writeFileSync(path.join(dir, "f"), "x");
      await t.cli("cp in", ["cp", path.join(dir, "f"), `${c}:/root/`]);
      await t.cli("write at run time", ["run", "--rm", "--read-only", ...NONE, B, "sh", "-c", "echo x > /f"]);
    },
  },
];

/** The part of `inspect` that must be the same on every engine. */
function projection(i: Record<string, any>) {
  const pick = (o: Record<string, unknown> | undefined, keys: string[]) =>
    Object.fromEntries(keys.map((k) => [k, o?.[k]]));
  return {
    Name: i.Name,
    Path: i.Path,
    Args: i.Args,
    State: pick(i.State, [
      "Status",
      "Running",
      "Paused",
      "Restarting",
      "OOMKilled",
      "Dead",
      "ExitCode",
      "Error",
    ]),
    Config: pick(i.Config, [
      "User",
      "Env",
      "Cmd",
      "Entrypoint",
      "WorkingDir",
      "Labels",
      "Image",
      "Tty",
      "OpenStdin",
      "StdinOnce",
      "AttachStdout",
      "StopSignal",
      "ExposedPorts",
      "Volumes",
    ]),
    HostConfig: {
      ...pick(i.HostConfig, [
        "NetworkMode",
        "RestartPolicy",
        "AutoRemove",
        "Binds",
        "Privileged",
        "ReadonlyRootfs",
        "Memory",
        "CapAdd",
        "ExtraHosts",
        "Init",
        "PortBindings",
        "Tmpfs",
      ]),
      // The CLI sends -v binds in no particular order.
      Binds: i.HostConfig?.Binds ? [...i.HostConfig.Binds].sort() : i.HostConfig?.Binds,
    },
    Mounts: [...(i.Mounts ?? [])]
      .sort((a: Record<string, string>, b: Record<string, string>) =>
        a.Destination.localeCompare(b.Destination),
      )
      .map((m: Record<string, unknown>) =>
        // A volume's directory is under the engine's data root.
        ({
          ...pick(m, ["Type", "Source", "Destination", "Mode", "RW", "Driver", "Name"]),
          ...(m.Type !== "bind" ? { Source: "<data-root>" } : {}),
        }),
      ),
    NetworkSettings: {
      keys: Object.keys(i.NetworkSettings ?? {}).sort(),
      Networks: Object.keys(i.NetworkSettings?.Networks ?? {}).sort(),
    },
    topKeys: Object.keys(i).sort(),
  };
}

/** One step per part, so a difference points at the part that differs. */
function recordProjection(t: Context, i: Record<string, any>) {
  for (const [part, value] of Object.entries(projection(i))) t.record(part, value);
}

export const inspect: Scenario[] = [
  {
    name: "inspect projection",
    run: async (t) => {
      const c = t.name("c");
      const v = t.name("v", "volume");
      const dir = t.tmp();
      await t.ok([
        "create",
        "--name",
        c,
        ...NONE,
        "--label",
        "a=b",
        "-e",
        "E=1",
        "-w",
        "/w",
        "-u",
        "1000",
        "--restart",
        "on-failure:2",
        "--stop-signal",
        "SIGUSR1",
        "-v",
        `${v}:/data`,
        "-v",
        `${dir}:/host:ro`,
        "--read-only",
        "--add-host",
        "h1:10.9.8.7",
        "--expose",
        "8080",
        "--tmpfs",
        "/run",
        B,
        "sleep",
        "5",
      ]);
      const i = (await t.dockerode.getContainer(c).inspect()) as unknown as Record<string, any>;
      recordProjection(t, i);
    },
  },
  {
    name: "inspect of a running container",
    run: async (t) => {
      const c = await sleeper(t);
      const i = (await t.dockerode.getContainer(c).inspect()) as unknown as Record<string, any>;
      recordProjection(t, i);
      t.record("pid positive", i.State.Pid > 0);
      await t.cli("format", [
        "inspect",
        "--type",
        "container",
        "--format",
        "{{.State.Running}} {{json .Config.Cmd}}",
        c,
      ]);
      await t.cli("wrong type", ["inspect", "--type", "volume", c]);
    },
  },
  {
    name: "inspect of an anonymous volume mount",
    run: async (t) => {
      const c = t.name("c");
      await t.ok(["create", "--name", c, ...NONE, "-v", "/data", B, "true"]);
      const i = (await t.dockerode.getContainer(c).inspect()) as unknown as Record<string, any>;
      t.record(
        "mounts",
        projection(i).Mounts.map((m: Record<string, unknown>) => ({ ...m, Source: "-" })),
      );
      t.record("config volumes", i.Config.Volumes);
      const name = i.Mounts[0]?.Name as string;
      await t.cli("rm -v", ["rm", "-v", c]);
      await t.cli("volume gone", ["volume", "inspect", "--format", "{{.Name}}", name]);
    },
  },
];
