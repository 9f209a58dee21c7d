// docker-py (Debian python3-docker, run by Debian's /usr/bin/python3) against the memory backend.
// The flows are python scripts in test/py; each asserts what it observes and prints "ok CASE".
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { BUSYBOX, REGISTRY, cleanup, dockerOk, startDaemon, type Daemon } from "./helpers.js";
import { runClient } from "./run-client.js";

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "py/dockerpy_cases.py");
// Debian's interpreter: a python3 earlier on PATH (pyenv, venv) may carry another docker-py
const PYTHON = "/usr/bin/python3";

let d: Daemon;
before(async () => {
  d = await startDaemon();
  await dockerOk(d.host, ["pull", BUSYBOX]);
});
after(async () => {
  await d.stop();
  cleanup(d);
});

const runCase = async (name: string) => {
  const r = await runClient(PYTHON, [script, name], d.host, {
    env: { SOCKERLESS_TEST_REGISTRY: REGISTRY, CASE_PREFIX: `clients-py-${name}`, PYTHONUNBUFFERED: "1" },
    timeoutMs: 90_000,
  });
  assert.equal(r.code, 0, `case ${name} failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, new RegExp(`^ok ${name}$`, "m"));
};

describe("docker-py (python3-docker)", () => {
  test("is Debian's python3-docker", async () => {
    const r = await runClient(
      PYTHON,
      ["-c", "import docker; print(docker.__file__, docker.__version__)"],
      d.host,
    );
    assert.equal(r.code, 0, `python3-docker missing (scripts/install-deps.sh): ${r.stderr}`);
    assert.match(r.stdout, /^\/usr\/lib\/python3\/dist-packages\/docker\//);
  });
  for (const name of [
    "ping",
    "run",
    "logs",
    "wait",
    "exec",
    "archive",
    "images",
    "volumes",
    "networks",
    "events",
    "misc",
    "build",
    "push",
  ])
    test(name, () => runCase(name));
});
