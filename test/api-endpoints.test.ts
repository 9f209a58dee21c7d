// Endpoints the CLI and SDK flow suites do not reach: TTY resize, system df, pause on a backend
// without it, image search. Each through a real client, asserting what it observes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Docker from "dockerode";
import { BUSYBOX, cleanup, docker, dockerOk, startDaemon, type Daemon } from "./helpers.js";

let d: Daemon;
let client: Docker;
before(async () => {
  d = await startDaemon();
  await dockerOk(d.host, ["pull", BUSYBOX]);
  client = new Docker({ socketPath: d.host.slice("unix://".length) });
});
after(async () => {
  await d.stop();
  cleanup(d);
});

/** The status code and message of a rejected dockerode call. */
async function failure(p: Promise<unknown>): Promise<{ statusCode: number; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { statusCode: number; json?: { message?: string } };
    return { statusCode: err.statusCode, message: err.json?.message ?? "" };
  }
  assert.fail("expected the call to fail");
}

describe("TTY resize", () => {
  test("a running container's TTY resizes; a stopped or unknown one answers dockerd's errors", async () => {
    const c = await client.createContainer({ Image: BUSYBOX, Cmd: ["sleep", "30"], Tty: true });
    await c.start();
    await c.resize({ h: 40, w: 120 });
    assert.equal((await c.inspect()).State.Running, true, "resizing does not disturb the container");
    await c.kill();
    await c.wait();
    const stopped = await failure(c.resize({ h: 40, w: 120 }));
    assert.equal(stopped.statusCode, 409);
    assert.match(stopped.message, /is not running/);
    const missing = await failure(client.getContainer("api-endpoints-none").resize({ h: 1, w: 1 }));
    assert.equal(missing.statusCode, 404);
    assert.match(missing.message, /No such container: api-endpoints-none/);
    await c.remove();
  });

  test("an exec's TTY resizes; an unknown exec is 404", async () => {
    const c = await client.createContainer({ Image: BUSYBOX, Cmd: ["sleep", "30"] });
    await c.start();
    const exec = await c.exec({ Cmd: ["sleep", "10"], Tty: true, AttachStdout: true });
    await exec.start({ Detach: true, Tty: true });
    await exec.resize({ h: 30, w: 100 });
    assert.equal((await exec.inspect()).Running, true);
    const missing = await failure(client.getExec("0123456789abcdef").resize({ h: 1, w: 1 }));
    assert.equal(missing.statusCode, 404);
    assert.match(missing.message, /No such exec instance/);
    await c.remove({ force: true });
  });
});

describe("system df", () => {
  test("docker system df counts the images, containers and volumes there are", async () => {
    await dockerOk(d.host, ["volume", "create", "api-endpoints-vol"]);
    await dockerOk(d.host, [
      "create",
      "--name",
      "api-endpoints-df",
      "-v",
      "api-endpoints-vol:/data",
      BUSYBOX,
      "true",
    ]);
    const rows = (
      await dockerOk(d.host, ["system", "df", "--format", "{{.Type}}={{.TotalCount}}/{{.Active}}"])
    )
      .trim()
      .split("\n");
    assert.ok(rows.includes("Images=1/1"), rows.join(" "));
    assert.ok(rows.includes("Containers=1/0"), rows.join(" "));
    assert.ok(rows.includes("Local Volumes=1/1"), rows.join(" "));
    await dockerOk(d.host, ["rm", "api-endpoints-df"]);
    await dockerOk(d.host, ["volume", "rm", "api-endpoints-vol"]);
  });
});

describe("answers 501 with a reason", () => {
  test("pause and unpause on the memory backend", async () => {
    await dockerOk(d.host, ["run", "-d", "--name", "api-endpoints-pause", BUSYBOX, "sleep", "30"]);
    for (const cmd of ["pause", "unpause"]) {
      const r = await docker(d.host, [cmd, "api-endpoints-pause"]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`Error response from daemon: ${cmd} is not supported by the memory backend`),
      );
    }
    assert.equal(
      (await dockerOk(d.host, ["inspect", "--format", "{{.State.Status}}", "api-endpoints-pause"])).trim(),
      "running",
    );
    await dockerOk(d.host, ["rm", "-f", "api-endpoints-pause"]);
  });

  test("image search", async () => {
    const r = await docker(d.host, ["search", "busybox"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /image search is not supported/);
  });
});
