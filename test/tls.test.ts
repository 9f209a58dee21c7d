// Remote access: `sockerless certs create`, `serve --tlsverify` with client-certificate checks, the
// refusal of unauthenticated non-loopback TCP, and `sockerless context create`, with the docker CLI.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { BUSYBOX, cleanup, docker, startDaemon, type Daemon, type Result } from "./helpers.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "sockerless-tls-"));
const certs = path.join(tmp, "certs");
const otherCerts = path.join(tmp, "other-ca");
/** the docker CLI's config (contexts) for this file only */
const dockerConfig = path.join(tmp, "docker-config");
const pem = (dir: string, f: string) => path.join(dir, f);

/** Run the sockerless CLI. */
function sockerless(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(repo, "packages/cli/dist/main.js"), ...args],
      { env: { ...process.env, ...env } },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

/** docker CLI with an explicit -H and TLS flags, with this file's DOCKER_CONFIG and no DOCKER_HOST. */
const dockerAt = (host: string, flags: string[], args: string[]) =>
  docker("", ["-H", host, ...flags, ...args], { env: { DOCKER_CONFIG: dockerConfig, DOCKER_HOST: "" } });
const clientTls = (dir: string) => [
  "--tlsverify",
  "--tlscacert",
  pem(dir, "ca.pem"),
  "--tlscert",
  pem(dir, "cert.pem"),
  "--tlskey",
  pem(dir, "key.pem"),
];
const serverTls = (dir: string) => [
  "--tlscacert",
  pem(dir, "ca.pem"),
  "--tlscert",
  pem(dir, "server-cert.pem"),
  "--tlskey",
  pem(dir, "server-key.pem"),
];

/** A TLS handshake and one HTTP request with node's tls client; resolves with the response or the error. */
function tlsRequest(
  port: number,
  opts: tls.ConnectionOptions,
): Promise<{ response?: string; error?: Error }> {
  return new Promise((resolve) => {
    let response = "";
    const s = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ...opts }, () => {
      s.write("GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
    });
    s.on("data", (d) => (response += d));
    s.on("error", (error) => resolve({ error }));
    s.on("close", () => resolve({ response }));
  });
}

let d: Daemon;
let tcp: string;
let port: number;

before(async () => {
  const made = await sockerless(["certs", "create", "--host", "localhost,127.0.0.1", "--out", certs]);
  assert.equal(made.code, 0, made.stderr);
  const other = await sockerless(["certs", "create", "--host", "localhost", "--out", otherCerts]);
  assert.equal(other.code, 0, other.stderr);
  d = await startDaemon(undefined, ["-H", "tcp://127.0.0.1:0", "--tlsverify", ...serverTls(certs)]);
  tcp = d.listeners.find((l) => l.startsWith("tcp://"))!;
  port = Number(new URL(tcp.replace(/^tcp:/, "http:")).port);
  assert.ok(port > 0, `ephemeral port reported: ${d.listeners.join(" ")}`);
});
after(async () => {
  await d?.stop();
  if (d) cleanup(d);
  rmSync(tmp, { recursive: true, force: true });
});

describe("sockerless certs create", () => {
  test("writes a CA, a server certificate for the hosts and a client certificate, named as docker expects", () => {
    assert.deepEqual(readdirSync(certs).sort(), [
      "ca-key.pem",
      "ca.pem",
      "cert.pem",
      "key.pem",
      "server-cert.pem",
      "server-key.pem",
    ]);
    for (const key of ["ca-key.pem", "key.pem", "server-key.pem"]) {
      assert.equal(statSync(pem(certs, key)).mode & 0o777, 0o600, `${key} is private`);
    }
    const ca = new X509Certificate(readFileSync(pem(certs, "ca.pem")));
    const server = new X509Certificate(readFileSync(pem(certs, "server-cert.pem")));
    const client = new X509Certificate(readFileSync(pem(certs, "cert.pem")));
    assert.equal(ca.ca, true);
    assert.equal(server.ca, false);
    assert.ok(server.verify(ca.publicKey) && server.checkIssued(ca), "server certificate signed by the CA");
    assert.ok(client.verify(ca.publicKey) && client.checkIssued(ca), "client certificate signed by the CA");
    assert.equal(server.checkHost("localhost"), "localhost");
    assert.equal(server.checkIP("127.0.0.1"), "127.0.0.1");
    assert.deepEqual(server.keyUsage, ["1.3.6.1.5.5.7.3.1"], "serverAuth");
    assert.deepEqual(client.keyUsage, ["1.3.6.1.5.5.7.3.2"], "clientAuth");
    const other = new X509Certificate(readFileSync(pem(otherCerts, "cert.pem")));
    assert.equal(other.verify(ca.publicKey), false, "another CA's certificate is not ours");
  });

  test("refuses to overwrite existing files without --force", async () => {
    const again = await sockerless(["certs", "create", "--host", "localhost", "--out", certs]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /refusing to overwrite .*ca\.pem.*use --force/);
    const missing = await sockerless(["certs", "create", "--out", path.join(tmp, "none")]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /--host/);
  });
});

describe("serve --tlsverify", () => {
  test("the docker CLI with a client certificate runs a container over TLS", async () => {
    const r = await dockerAt(tcp, clientTls(certs), ["run", "--rm", BUSYBOX, "echo", "hi"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hi\n");
    const v = await dockerAt(tcp, clientTls(certs), ["version", "--format", "{{.Server.APIVersion}}"]);
    assert.equal(v.stdout.trim(), "1.44", v.stderr);
  });

  test("a TLS handshake without a client certificate is refused", async () => {
    const { response, error } = await tlsRequest(port, { ca: readFileSync(pem(certs, "ca.pem")) });
    assert.ok(error, `expected a TLS error, got a response: ${response}`);
    assert.match(
      `${(error as NodeJS.ErrnoException).code} ${error.message}`,
      /CERTIFICATE_REQUIRED|certificate required/i,
    );
    const cli = await dockerAt(
      tcp,
      ["--tlsverify", "--tlscacert", pem(certs, "ca.pem"), "--tlscert", "", "--tlskey", ""],
      ["version", "--format", "{{.Server.APIVersion}}"],
    );
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /certificate required/);
    assert.doesNotMatch(cli.stdout, /1\.44/);
  });

  test("a client certificate from another CA is refused", async () => {
    // Node verifies client certificates after the handshake and drops the connection (no alert,
    // unlike a missing certificate): the client gets no HTTP answer, only a closed connection.
    const { response, error } = await tlsRequest(port, {
      ca: readFileSync(pem(certs, "ca.pem")),
      cert: readFileSync(pem(otherCerts, "cert.pem")),
      key: readFileSync(pem(otherCerts, "key.pem")),
    });
    assert.equal(response ?? "", "", "no HTTP response");
    if (error) assert.match((error as NodeJS.ErrnoException).code ?? "", /ECONNRESET|EPIPE/);
    const cli = await dockerAt(
      tcp,
      [
        "--tlsverify",
        "--tlscacert",
        pem(certs, "ca.pem"),
        "--tlscert",
        pem(otherCerts, "cert.pem"),
        "--tlskey",
        pem(otherCerts, "key.pem"),
      ],
      ["ps"],
    );
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /error during connect: .*(connection reset by peer|EOF)/);
    assert.equal(cli.stdout, "");
  });

  test("a client that trusts another CA rejects the daemon's certificate", async () => {
    const cli = await dockerAt(tcp, clientTls(otherCerts), ["ps"]);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /certificate signed by unknown authority/);
  });

  test("plain HTTP to the TLS port gets dockerd's 400, not the API", async () => {
    const status = await new Promise<{ code?: number; body: string }>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port, path: "/_ping" }, (res) => {
          let body = "";
          res.on("data", (c) => (body += c));
          res.on("end", () => resolve({ code: res.statusCode, body }));
        })
        .on("error", reject);
    });
    assert.equal(status.code, 400);
    assert.match(status.body, /Client sent an HTTP request to an HTTPS server/);
    const cli = await dockerAt(tcp, [], ["version", "--format", "{{.Server.APIVersion}}"]);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /Client sent an HTTP request to an HTTPS server/);
  });

  test("the unix socket stays plain HTTP", async () => {
    const r = await docker(d.host, ["version", "--format", "{{.Server.APIVersion}}"]);
    assert.equal(r.stdout.trim(), "1.44", r.stderr);
  });
});

describe("listen address checks", () => {
  test("non-loopback TCP without --tlsverify is refused at start, with --tls alone too", async () => {
    await assert.rejects(startDaemon(undefined, ["-H", "tcp://0.0.0.0:0"]), (e: Error) => {
      assert.match(
        e.message,
        /refusing to listen on tcp:\/\/0\.0\.0\.0:0: a non-loopback TCP address needs TLS/,
      );
      assert.match(e.message, /--tlsverify/);
      assert.match(e.message, /--allow-insecure-tcp/);
      return true;
    });
    await assert.rejects(
      startDaemon(undefined, ["-H", "tcp://:0", "--tls", ...serverTls(certs)]),
      /refusing to listen on tcp:\/\/:0: a non-loopback TCP address needs TLS with client certificates/,
    );
  });

  test("non-loopback TCP with --tlsverify starts and serves clients with certificates", async () => {
    const t = await startDaemon(undefined, ["-H", "tcp://0.0.0.0:0", "--tlsverify", ...serverTls(certs)]);
    try {
      const addr = t.listeners.find((l) => l.startsWith("tcp://"))!;
      assert.match(addr, /^tcp:\/\/0\.0\.0\.0:\d+$/);
      const local = addr.replace("0.0.0.0", "127.0.0.1");
      const r = await dockerAt(local, clientTls(certs), ["version", "--format", "{{.Server.APIVersion}}"]);
      assert.equal(r.stdout.trim(), "1.44", r.stderr);
      const anonymous = await dockerAt(local, [], ["version"]);
      assert.match(anonymous.stderr, /Client sent an HTTP request to an HTTPS server/);
    } finally {
      await t.stop();
      cleanup(t);
    }
  });

  test("--allow-insecure-tcp listens anyway", async () => {
    const t = await startDaemon(undefined, ["-H", "tcp://0.0.0.0:0", "--allow-insecure-tcp"]);
    try {
      const addr = t.listeners.find((l) => l.startsWith("tcp://"))!;
      assert.match(addr, /^tcp:\/\/0\.0\.0\.0:\d+$/);
      const r = await dockerAt(
        addr.replace("0.0.0.0", "127.0.0.1"),
        [],
        ["version", "--format", "{{.Server.APIVersion}}"],
      );
      assert.equal(r.stdout.trim(), "1.44", r.stderr);
    } finally {
      await t.stop();
      cleanup(t);
    }
  });

  test("--tls without --tlsverify serves TLS without asking for a client certificate", async () => {
    const t = await startDaemon(undefined, ["-H", "tcp://127.0.0.1:0", "--tls", ...serverTls(certs)]);
    try {
      const addr = t.listeners.find((l) => l.startsWith("tcp://"))!;
      const r = await dockerAt(
        addr,
        ["--tlsverify", "--tlscacert", pem(certs, "ca.pem"), "--tlscert", "", "--tlskey", ""],
        ["version", "--format", "{{.Server.APIVersion}}"],
      );
      assert.equal(r.stdout.trim(), "1.44", r.stderr);
    } finally {
      await t.stop();
      cleanup(t);
    }
  });

  test("unreadable or mismatched TLS files fail at start with the flag named", async () => {
    await assert.rejects(
      startDaemon(undefined, [
        "-H",
        "tcp://127.0.0.1:0",
        "--tlsverify",
        ...serverTls(certs),
        "--tlscert",
        pem(tmp, "nope.pem"),
      ]),
      /cannot read --tlscert .*nope\.pem/,
    );
    await assert.rejects(
      startDaemon(undefined, [
        "-H",
        "tcp://127.0.0.1:0",
        "--tlsverify",
        ...serverTls(certs),
        "--tlskey",
        pem(otherCerts, "server-key.pem"),
      ]),
      /invalid TLS configuration .*--tlskey/,
    );
  });
});

describe("sockerless context create", () => {
  test("creates a docker context for the TLS daemon, in DOCKER_CONFIG, and docker --context works", async () => {
    const name = "tlscov-remote";
    const made = await sockerless(["context", "create", name, "--host", tcp, "--tls-dir", certs], {
      DOCKER_CONFIG: dockerConfig,
    });
    assert.equal(made.code, 0, made.stderr);
    assert.ok(
      readdirSync(path.join(dockerConfig, "contexts", "meta")).length > 0,
      "stored under DOCKER_CONFIG",
    );
    const v = await docker("", ["--context", name, "version", "--format", "{{.Server.APIVersion}}"], {
      env: { DOCKER_CONFIG: dockerConfig, DOCKER_HOST: "" },
    });
    assert.equal(v.stdout.trim(), "1.44", v.stderr);
    const ps = await docker("", ["--context", name, "ps", "-a", "--format", "{{.Names}}"], {
      env: { DOCKER_CONFIG: dockerConfig, DOCKER_HOST: "" },
    });
    assert.equal(ps.code, 0, ps.stderr);
    const dup = await sockerless(["context", "create", name, "--host", tcp, "--tls-dir", certs], {
      DOCKER_CONFIG: dockerConfig,
    });
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already exists/);
    const noCerts = await sockerless(["context", "create", "tlscov-x", "--host", tcp, "--tls-dir", tmp], {
      DOCKER_CONFIG: dockerConfig,
    });
    assert.equal(noCerts.code, 1);
    assert.match(noCerts.stderr, /has no ca\.pem/);
  });
});
