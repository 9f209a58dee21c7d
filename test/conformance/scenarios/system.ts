// Events, error messages and status codes for bad requests, system info/version.
import { BUSYBOX as B } from "../../helpers.js";
import type { Scenario } from "../context.js";
import { NONE } from "./lifecycle.js";

const now = () => String(Math.floor(Date.now() / 1000) - 1);
const later = () => String(Math.floor(Date.now() / 1000) + 1);

export const events: Scenario[] = [
  {
    name: "events of a container's life",
    run: async (t) => {
      const since = now();
      const c = t.name("c");
      await t.ok(["create", "--name", c, ...NONE, "--label", "ev=1", B, "sh", "-c", "exit 3"]);
      await t.ok(["start", c]);
      await t.ok(["wait", c]);
      await t.ok(["rename", c, t.name("renamed")]);
      await t.ok(["rm", t.name("renamed")]);
      await t.cli("events", [
        "events",
        "--since",
        since,
        "--until",
        later(),
        "--filter",
        `container=${c}`,
        "--filter",
        `container=${t.name("renamed")}`,
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}} {{.Actor.Attributes.ev}}",
      ]);
      await t.cli("filtered by event", [
        "events",
        "--since",
        since,
        "--until",
        later(),
        "--filter",
        `container=${c}`,
        "--filter",
        "event=die",
        "--format",
        "{{.Action}} {{.Actor.Attributes.exitCode}} {{.Actor.Attributes.image}}",
      ]);
    },
  },
  {
    name: "events of volumes and networks",
    run: async (t) => {
      const since = now();
      const v = t.name("v", "volume");
      const n = t.name("n", "network");
      const c = t.name("c");
      await t.ok(["volume", "create", v]);
      await t.ok(["network", "create", n]);
      await t.ok(["create", "--name", c, "--network", n, "-v", `${v}:/v`, B, "true"]);
      await t.ok(["network", "disconnect", n, c]);
      await t.ok(["rm", c]);
      await t.ok(["network", "rm", n]);
      await t.ok(["volume", "rm", v]);
      await t.cli("volume events", [
        "events",
        "--since",
        since,
        "--until",
        later(),
        "--filter",
        "type=volume",
        "--filter",
        `volume=${v}`,
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}}",
      ]);
      await t.cli("network events", [
        "events",
        "--since",
        since,
        "--until",
        later(),
        "--filter",
        "type=network",
        "--filter",
        `network=${n}`,
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.type}}",
      ]);
    },
  },
  {
    name: "events bad filters",
    run: async (t) => {
      await t.cli("bad type", ["events", "--since", now(), "--until", later(), "--filter", "type=colour"]);
      // 20.10 ignores unknown keys and streams every event of the shared engine: only the code is comparable.
      await t.cliCode("bad key", ["events", "--since", now(), "--until", later(), "--filter", "colour=red"]);
    },
  },
];

export const errors: Scenario[] = [
  {
    name: "no such container",
    run: async (t) => {
      const x = t.name("missing");
      await t.cli("logs", ["logs", x]);
      await t.api("inspect", "GET", `/v1.41/containers/${x}/json`);
      await t.api("start", "POST", `/v1.41/containers/${x}/start`);
      await t.api("delete", "DELETE", `/v1.41/containers/${x}`);
      await t.api("exec", "POST", `/v1.41/containers/${x}/exec`, { Cmd: ["true"] });
    },
  },
  {
    name: "name conflict",
    run: async (t) => {
      const c = t.name("c");
      await t.ok(["create", "--name", c, ...NONE, B, "true"]);
      await t.cli("create", ["create", "--name", c, ...NONE, B, "true"]);
      await t.api("api", "POST", `/v1.41/containers/create?name=${c}`, { Image: B });
    },
  },
  {
    name: "bad container parameters",
    run: async (t) => {
      await t.api("invalid name", "POST", "/v1.41/containers/create?name=bad%20name!", { Image: B });
      await t.api("no image", "POST", "/v1.41/containers/create", {});
      await t.api("a JSON string as the body", "POST", "/v1.41/containers/create", "{not json");
      await t.api("unknown network mode", "POST", `/v1.41/containers/create?name=${t.name("n")}`, {
        Image: B,
        HostConfig: { NetworkMode: "nosuchnetwork-conformance" },
      });
      await t.cli("bad port spec", ["create", "-p", "notaport", ...NONE, B, "true"]);
      await t.cli("bad memory", ["create", "--memory", "lots", ...NONE, B, "true"]);
    },
  },
  {
    name: "bad requests on objects",
    run: async (t) => {
      await t.api("volume inspect", "GET", `/v1.41/volumes/${t.name("v")}`);
      await t.api("network inspect", "GET", `/v1.41/networks/${t.name("n")}`);
      await t.api("image inspect", "GET", "/v1.41/images/no-such-image-conformance:1/json");
      await t.api("exec inspect", "GET", "/v1.41/exec/0123456789abcdef/json");
      await t.api("unknown route", "GET", "/v1.41/nothing/here");
      await t.api("too new an API version", "GET", "/v9.99/version");
    },
  },
];

export const system: Scenario[] = [
  {
    name: "version fields",
    run: async (t) => {
      const v = (await t.http("GET", "/version")).json as Record<string, any>;
      t.record("fields", {
        Os: v.Os,
        Arch: v.Arch,
        ApiVersion: v.ApiVersion,
        MinAPIVersion: v.MinAPIVersion,
        components: Array.isArray(v.Components),
        keys: Object.keys(v).sort(),
      });
      await t.cli("cli", ["version", "--format", "{{.Server.Os}}/{{.Server.Arch}} {{.Server.APIVersion}}"]);
    },
  },
  {
    name: "info fields",
    run: async (t) => {
      const i = (await t.http("GET", "/info")).json as Record<string, any>;
      // Fields of /info in both API 1.41 and 1.44 (1.44 dropped the BridgeNf* and KernelMemory* ones).
      const common =
        "ID Containers ContainersRunning ContainersPaused ContainersStopped Images Driver DriverStatus Plugins MemoryLimit SwapLimit CpuCfsPeriod CpuCfsQuota CPUShares CPUSet PidsLimit IPv4Forwarding Debug NFd OomKillDisable NGoroutines SystemTime LoggingDriver CgroupDriver CgroupVersion NEventsListener KernelVersion OperatingSystem OSVersion OSType Architecture IndexServerAddress RegistryConfig NCPU MemTotal GenericResources DockerRootDir HttpProxy HttpsProxy NoProxy Name Labels ExperimentalBuild ServerVersion Runtimes DefaultRuntime Swarm LiveRestoreEnabled Isolation InitBinary ContainerdCommit RuncCommit InitCommit SecurityOptions Warnings";
      t.record(
        "missing fields",
        common.split(" ").filter((k) => !(k in i)),
      );
      t.record("fields", {
        OSType: i.OSType,
        Architecture: i.Architecture,
        NCPU: i.NCPU > 0,
        MemTotal: i.MemTotal > 0,
        IndexServerAddress: i.IndexServerAddress,
        containersAddUp: i.Containers === i.ContainersRunning + i.ContainersPaused + i.ContainersStopped,
      });
    },
  },
  {
    name: "ping",
    run: async (t) => {
      for (const method of ["GET", "HEAD"]) {
        const r = await t.http(method, "/_ping");
        t.record(method, {
          status: r.status,
          body: r.body,
          OSType: r.headers["ostype"],
          ApiVersion: r.headers["api-version"],
        });
      }
      t.record("dockerode", String(await t.dockerode.ping()));
    },
  },
];
