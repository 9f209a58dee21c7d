// The same core flows through dockerode and @docker/node-sdk.
import assert from "node:assert/strict";
import { PassThrough, Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import Docker from "dockerode";
import { DockerClient } from "@docker/node-sdk";
import { BUSYBOX, cleanup, dockerOk, startDaemon, type Daemon } from "./helpers.js";

let d: Daemon;
before(async () => {
  d = await startDaemon();
  await dockerOk(d.host, ["pull", BUSYBOX]);
});
after(async () => {
  await d.stop();
  cleanup(d);
});

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

describe("dockerode", () => {
  const client = () => new Docker({ socketPath: d.host.slice("unix://".length) });

  test("ping, version, create/start/wait/logs/remove", async () => {
    const docker = client();
    assert.equal(String(await docker.ping()), "OK");
    assert.equal((await docker.version()).ApiVersion, "1.44");
    const c = await docker.createContainer({
      Image: BUSYBOX,
      Cmd: ["sh", "-c", "echo out; echo err >&2; exit 2"],
      Labels: { sdk: "dockerode" },
    });
    await c.start();
    assert.equal((await c.wait()).StatusCode, 2);
    const logs = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    const out = new PassThrough();
    const err = new PassThrough();
    docker.modem.demuxStream(new PassThrough().end(logs), out, err);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(String(out.read()), "out\n");
    assert.equal(String(err.read()), "err\n");
    const list = await docker.listContainers({ all: true, filters: { label: ["sdk=dockerode"] } });
    assert.equal(list.length, 1);
    assert.equal(list[0].State, "exited");
    await c.remove();
    await assert.rejects(c.inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
  });

  test("attach before start with stdin, and exec with exit code", async () => {
    const docker = client();
    const c = await docker.createContainer({
      Image: BUSYBOX,
      Cmd: ["cat"],
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
    const out = collect();
    docker.modem.demuxStream(stream, out.w, out.w);
    await c.start();
    stream.end("via attach\n");
    await c.wait();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(out.text(), "via attach\n");
    await c.remove();

    const s = await docker.createContainer({ Image: BUSYBOX, Cmd: ["sleep", "100"] });
    await s.start();
    const exec = await s.exec({
      Cmd: ["sh", "-c", "echo exec-out; exit 6"],
      AttachStdout: true,
      AttachStderr: true,
    });
    const es = await exec.start({ hijack: true, stdin: false });
    const eo = collect();
    docker.modem.demuxStream(es, eo.w, eo.w);
    await new Promise((r) => es.on("end", r));
    assert.equal(eo.text(), "exec-out\n");
    assert.equal((await exec.inspect()).ExitCode, 6);
    await s.remove({ force: true });
  });

  test("volumes and networks", async () => {
    const docker = client();
    await docker.createVolume({ Name: "dv1", Labels: { a: "b" } });
    assert.deepEqual((await docker.getVolume("dv1").inspect()).Labels, { a: "b" });
    const n = await docker.createNetwork({ Name: "dn1" });
    const info = await n.inspect();
    assert.equal(info.Name, "dn1");
    await n.remove();
    await docker.getVolume("dv1").remove();
  });
});

describe("@docker/node-sdk", () => {
  test("ping, create, start, wait, logs, inspect, delete", async () => {
    const client = await DockerClient.fromDockerHost(d.host);
    try {
      assert.equal(await client.systemPing(), "1.44"); // the SDK returns the API-Version header
      const created = await client.containerCreate(
        { Image: BUSYBOX, Cmd: ["sh", "-c", "echo node-sdk"] },
        { name: "nsdk1" },
      );
      await client.containerStart(created.Id);
      const waited = await client.containerWait(created.Id);
      assert.equal(waited.StatusCode, 0);
      const out = collect();
      const err = collect();
      await client.containerLogs(created.Id, out.w, err.w, { stdout: true, stderr: true });
      assert.equal(out.text(), "node-sdk\n");
      const info = await client.containerInspect("nsdk1");
      assert.equal(info.State?.Status, "exited");
      await client.containerDelete(created.Id);
      const list = await client.containerList({ all: true });
      assert.ok(!list.some((c) => c.Id === created.Id));
    } finally {
      await client.close();
    }
  });
});
