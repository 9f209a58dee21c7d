// docker-compose 1.29 (Debian; speaks the API through docker-py) runs a three-service project on
// the memory backend: user network, shared named volume, depends_on service_healthy, env, labels.
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { BUSYBOX, REGISTRY, cleanup, dockerOk, startDaemon, type Daemon } from "./helpers.js";
import { runClient, runClientOk } from "./run-client.js";

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures/compose/basic");
const P = "clientscompose";
const NAMES = [`${P}_writer_1`, `${P}_reader_1`, `${P}_web_1`];

let d: Daemon;
before(async () => {
  d = await startDaemon();
  await dockerOk(d.host, ["pull", BUSYBOX]);
});
after(async () => {
  await d.stop();
  cleanup(d);
});

const compose = (args: string[], env: Record<string, string> = {}) =>
  runClientOk("docker-compose", ["-p", P, ...args], d.host, {
    cwd: fixture,
    env: { SOCKERLESS_TEST_REGISTRY: REGISTRY, ...env },
    timeoutMs: 90_000,
  });
const inspect = async (name: string) => JSON.parse(await dockerOk(d.host, ["inspect", name]))[0];
const ids = async () => Promise.all(NAMES.map(async (n) => (await inspect(n)).Id as string));

describe("docker-compose 1.29", () => {
  let firstIds: string[];

  test("up -d: names, compose labels, health-gated start, shared volume", async () => {
    const up = await compose(["up", "-d"]);
    assert.match(up.stderr, /Creating network "clientscompose_backend"/);
    assert.match(up.stderr, /Creating volume "clientscompose_shared"/);
    for (const n of NAMES) assert.match(up.stderr, new RegExp(`Creating ${n} +\\.\\.\\. done`));

    const web = await inspect(`${P}_web_1`);
    const l = web.Config.Labels;
    assert.equal(l["com.docker.compose.project"], P);
    assert.equal(l["com.docker.compose.service"], "web");
    assert.equal(l["com.docker.compose.container-number"], "1");
    assert.equal(l["com.docker.compose.oneoff"], "False");
    assert.match(l["com.docker.compose.config-hash"], /^[0-9a-f]{64}$/);
    assert.equal(l["com.docker.compose.project.working_dir"], fixture);
    assert.equal(l.tier, "front");
    assert.ok(web.Config.Env.includes("MODE=one"));
    assert.ok(
      web.Config.Env.some((e: string) => e.startsWith("PATH=")),
      "image env is merged",
    );
    assert.equal(web.Image, (await inspect(BUSYBOX)).Id, "Image is the image id, as compose compares it");
    const ep = web.NetworkSettings.Networks[`${P}_backend`];
    assert.ok(ep.Aliases.includes("web"), `aliases ${ep.Aliases}`);

    const writer = await inspect(`${P}_writer_1`);
    assert.equal(writer.State.Health.Status, "healthy");
    const mount = writer.Mounts.find((m: { Destination: string }) => m.Destination === "/data");
    assert.equal(mount.Name, `${P}_shared`);
    const reader = await inspect(`${P}_reader_1`);
    assert.equal(reader.Mounts[0].Name, `${P}_shared`);
    assert.equal(reader.Mounts[0].RW, false);
    // the writer creates the file 2 s after it starts: the reader saw it, so it started after `healthy`
    const firstOk = Date.parse(
      writer.State.Health.Log.find((h: { ExitCode: number }) => h.ExitCode === 0).End,
    );
    assert.ok(Date.parse(reader.State.StartedAt) >= firstOk, "reader started after the writer was healthy");

    const vol = JSON.parse(await dockerOk(d.host, ["volume", "inspect", `${P}_shared`]))[0];
    assert.equal(vol.Labels["com.docker.compose.project"], P);
    assert.equal(vol.Labels["com.docker.compose.volume"], "shared");
    const net = JSON.parse(await dockerOk(d.host, ["network", "inspect", `${P}_backend`]))[0];
    assert.equal(net.Labels["com.docker.compose.network"], "backend");
    assert.equal(Object.keys(net.Containers).length, 3);
    firstIds = await ids();
  });

  test("ps and logs", async () => {
    const ps = (await compose(["ps"])).stdout;
    assert.match(ps, new RegExp(`${P}_writer_1 .* Up \\(healthy\\)`));
    assert.match(ps, new RegExp(`${P}_reader_1 .* Up`));
    assert.match(ps, new RegExp(`${P}_web_1 .* Up`));
    const logs = (await compose(["logs", "--no-color"])).stdout;
    assert.match(logs, /reader_1 +\| reader got: hello from writer/);
    assert.match(logs, /writer_1 +\| writer ready/);
    assert.match(logs, /web_1 +\| web one/);
    const one = (await compose(["logs", "--no-color", "web"])).stdout;
    assert.doesNotMatch(one, /reader got/);
  });

  test("exec -T: env, service names in /etc/hosts, read-only volume", async () => {
    assert.equal((await compose(["exec", "-T", "web", "sh", "-c", "echo $MODE"])).stdout, "one\n");
    const hosts = (await compose(["exec", "-T", "reader", "cat", "/etc/hosts"])).stdout;
    const ip = async (n: string) =>
      (await inspect(`${P}_${n}_1`)).NetworkSettings.Networks[`${P}_backend`].IPAddress as string;
    // web started after reader: its entry was added to the running reader's /etc/hosts
    for (const svc of ["writer", "web"])
      assert.match(hosts, new RegExp(`^${(await ip(svc)).replaceAll(".", "\\.")}\\s.*\\b${svc}\\b`, "m"));
    const ro = await runClient(
      "docker-compose",
      ["-p", P, "exec", "-T", "reader", "sh", "-c", "echo x > /data/x"],
      d.host,
      { cwd: fixture, env: { SOCKERLESS_TEST_REGISTRY: REGISTRY } },
    );
    assert.notEqual(ro.code, 0, "the reader's volume is mounted read-only");
    const code = await runClient(
      "docker-compose",
      ["-p", P, "exec", "-T", "web", "sh", "-c", "exit 3"],
      d.host,
      {
        cwd: fixture,
        env: { SOCKERLESS_TEST_REGISTRY: REGISTRY },
      },
    );
    assert.equal(code.code, 3, "exec passes the exit code through");
    // without the docker CLI (COMPOSE_INTERACTIVE_NO_CLI) compose execs through docker-py, stdin open
    const viaPy = await compose(["exec", "-T", "reader", "cat", "/etc/hostname"], {
      COMPOSE_INTERACTIVE_NO_CLI: "1",
    });
    assert.equal(viaPy.stdout, (await inspect(`${P}_reader_1`)).Config.Hostname + "\n");
  });

  test("run --rm: a one-off container that is removed afterwards", async () => {
    const r = await compose([
      "run",
      "--rm",
      "web",
      "sh",
      "-c",
      "echo run $MODE; cat /data/message 2>&1 || true",
    ]);
    assert.match(r.stdout, /^run one$/m);
    const left = await dockerOk(d.host, [
      "ps",
      "-aq",
      "--filter",
      `label=com.docker.compose.project=${P}`,
      "--filter",
      "label=com.docker.compose.oneoff=True",
    ]);
    assert.equal(left, "");
  });

  test("a second up reuses unchanged containers and recreates a changed one", async () => {
    const same = await compose(["up", "-d"]);
    for (const n of NAMES) assert.match(same.stderr, new RegExp(`${n} is up-to-date`));
    assert.deepEqual(await ids(), firstIds);

    const changed = await compose(["up", "-d"], { WEB_MODE: "two" });
    assert.match(changed.stderr, /Recreating .*clientscompose_web_1 +\.\.\. done/);
    const now = await ids();
    assert.deepEqual(now.slice(0, 2), firstIds.slice(0, 2), "writer and reader kept");
    assert.notEqual(now[2], firstIds[2], "web recreated");
    assert.ok((await inspect(`${P}_web_1`)).Config.Env.includes("MODE=two"));
    assert.match((await compose(["logs", "--no-color", "web"])).stdout, /web two/);
    firstIds = now;
  });

  test("stop and start", async () => {
    await compose(["stop"]);
    for (const n of NAMES) {
      const s = (await inspect(n)).State;
      assert.equal(s.Running, false, n);
    }
    assert.match((await compose(["ps"])).stdout, new RegExp(`${P}_web_1 .* Exit`));
    await compose(["start"]);
    for (const n of NAMES) assert.equal((await inspect(n)).State.Running, true, n);
    assert.deepEqual(await ids(), firstIds);
  });

  test("down -v removes containers, network and volume", async () => {
    const down = await compose(["down", "-v"]);
    assert.match(down.stderr, /Removing network clientscompose_backend/);
    assert.match(down.stderr, /Removing volume clientscompose_shared/);
    assert.equal(
      await dockerOk(d.host, ["ps", "-aq", "--filter", `label=com.docker.compose.project=${P}`]),
      "",
    );
    assert.doesNotMatch(await dockerOk(d.host, ["network", "ls", "--format", "{{.Name}}"]), /clientscompose/);
    assert.doesNotMatch(await dockerOk(d.host, ["volume", "ls", "--format", "{{.Name}}"]), /clientscompose/);
  });

  test("attached up --exit-code-from: output of every service, then the job's exit code", async () => {
    const r = await runClient(
      "docker-compose",
      ["-p", `${P}att`, "up", "--no-color", "--exit-code-from", "job"],
      d.host,
      {
        cwd: path.join(fixture, "../attached"),
        env: { SOCKERLESS_TEST_REGISTRY: REGISTRY },
        timeoutMs: 90_000,
      },
    );
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /job_1 +\| job starts\n(.*\n)*job_1 +\| job ends/);
    assert.match(r.stdout, /sidecar_1 +\| sidecar up/);
    assert.match(r.stdout, /clientscomposeatt_job_1 exited with code 3/);
    assert.equal((await inspect(`${P}att_sidecar_1`)).State.Running, false, "the other service was stopped");
    await runClientOk("docker-compose", ["-p", `${P}att`, "down"], d.host, {
      cwd: path.join(fixture, "../attached"),
      env: { SOCKERLESS_TEST_REGISTRY: REGISTRY },
    });
  });
});
