// Whole flows through the SDKs (dockerode, @docker/node-sdk), as applications use them.
import { execFile } from "node:child_process";
import { Writable } from "node:stream";
import { BUSYBOX as B } from "../../helpers.js";
import { Filter } from "@docker/node-sdk";
import type { Scenario } from "../context.js";

const collect = () => {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(c, _e, cb) {
      chunks.push(Buffer.from(c));
      cb();
    },
  });
  return { w, text: () => Buffer.concat(chunks).toString() };
};

export const sdk: Scenario[] = [
  {
    name: "dockerode create, start, wait, remove",
    run: async (t) => {
      const d = t.dockerode;
      const c = await d.createContainer({
        name: t.name("c"),
        Image: B,
        Cmd: ["sh", "-c", "echo out; exit 2"],
        Labels: { sdk: "dockerode" },
        HostConfig: { NetworkMode: "none" },
      });
      await c.start();
      t.record("wait", await c.wait());
      const i = await c.inspect();
      t.record("state", { Status: i.State.Status, ExitCode: i.State.ExitCode });
      await c.remove();
      const gone = await c.inspect().then(
        () => "still there",
        (e: { statusCode?: number; json?: { message?: string } }) => `${e.statusCode} ${e.json?.message}`,
      );
      t.record("after remove", gone);
    },
  },
  {
    name: "node-sdk create, start, wait, logs, inspect, delete",
    run: async (t) => {
      const client = await t.sdk();
      const name = t.name("c");
      const created = await client.containerCreate(
        {
          Image: B,
          Cmd: ["sh", "-c", "echo node-sdk; echo e >&2; exit 1"],
          HostConfig: { NetworkMode: "none" },
        },
        { name },
      );
      t.record("warnings", created.Warnings);
      await client.containerStart(created.Id);
      t.record("wait", await client.containerWait(created.Id));
      const out = collect();
      const err = collect();
      await client.containerLogs(created.Id, out.w, err.w, { stdout: true, stderr: true });
      t.record("stdout", out.text());
      t.record("stderr", err.text());
      const info = await client.containerInspect(name);
      t.record("inspect", { Status: info.State?.Status, ExitCode: info.State?.ExitCode, Name: info.Name });
      await client.containerDelete(created.Id);
      const list = await client.containerList({ all: true, filters: new Filter().set("name", [name]) });
      t.record("listed after delete", list.length);
    },
  },
  {
    name: "node-sdk volumes and networks",
    run: async (t) => {
      const client = await t.sdk();
      const v = t.name("v", "volume");
      const vol = await client.volumeCreate({ Name: v, Labels: { a: "b" } });
      t.record("volume", { Name: vol.Name, Labels: vol.Labels, Driver: vol.Driver, Scope: vol.Scope });
      await client.volumeDelete(v);
      const n = t.name("n", "network");
      const net = await client.networkCreate({ Name: n, Labels: { x: "y" } });
      t.record("network warning", net.Warning ?? "");
      const ni = await client.networkInspect(n);
      t.record("network", {
        Name: ni.Name,
        Driver: ni.Driver,
        Labels: ni.Labels,
        Scope: ni.Scope,
        Internal: ni.Internal,
      });
      await client.networkDelete(n);
    },
  },
  {
    name: "dockerode exec with a non-zero exit",
    run: async (t) => {
      const d = t.dockerode;
      const c = await d.createContainer({
        name: t.name("c"),
        Image: B,
        Cmd: ["sleep", "60"],
        HostConfig: { NetworkMode: "none" },
      });
      await c.start();
      const e = await c.exec({
        Cmd: ["sh", "-c", "echo exec-out; echo exec-err >&2; exit 6"],
        AttachStdout: true,
        AttachStderr: true,
      });
      const s = await e.start({ hijack: true, stdin: false });
      const o = collect();
      const er = collect();
      d.modem.demuxStream(s, o.w, er.w);
      await new Promise((r) => s.on("end", r));
      t.record("stdout", o.text());
      t.record("stderr", er.text());
      t.record("exit", (await e.inspect()).ExitCode);
    },
  },
  {
    name: "docker-py run, logs, exit code, volume",
    run: async (t) => {
      // docker-py (Debian python3-docker), as a Python application would use it.
      const script = `
import json, os, sys, docker
c = docker.DockerClient(base_url=os.environ["DOCKER_HOST"])
name, vol, image = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
out["run"] = c.containers.run(image, ["sh", "-c", "echo py-out; sleep 0.2; echo py-err >&2"], network_mode="none", remove=True, stderr=True).decode()
ctr = c.containers.run(image, ["sh", "-c", "echo x > /v/f; exit 3"], name=name, network_mode="none", detach=True, volumes={vol: {"bind": "/v", "mode": "rw"}})
out["wait"] = ctr.wait()
ctr.reload()
out["status"] = ctr.status
out["logs"] = ctr.logs().decode()
out["volume"] = c.volumes.get(vol).attrs["Driver"]
try:
    c.containers.run(image, ["sh", "-c", "exit 5"], network_mode="none", remove=True)
except docker.errors.ContainerError as e:
    out["error"] = [e.exit_status, str(e.command)]
try:
    c.containers.get(name + "-missing")
except docker.errors.NotFound as e:
    out["missing"] = e.status_code
ctr.remove(v=True)
print(json.dumps(out, sort_keys=True))
`;
      const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          "python3",
          ["-c", script, t.name("c"), t.name("v", "volume"), B],
          { env: { ...process.env, DOCKER_HOST: t.host }, timeout: 60_000 },
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        ),
      );
      t.record("python", `exit=${r.code}\n${r.stdout}${r.code ? r.stderr.trim().split("\n").pop() : ""}`);
    },
  },
];
