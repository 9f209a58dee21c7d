// Hostile and malformed requests get dockerd's status codes, and the daemon keeps serving.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import tar from "tar-stream";
import { BUSYBOX, cleanup, dockerOk, startDaemon, type Daemon } from "./helpers.js";

let d: Daemon;
let sock: string;

function request(
  method: string,
  path: string,
  body?: Buffer | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: sock, method, path, headers: { "Content-Type": "application/json", ...headers } },
      (res) => {
        let data = "";
        res.on("data", (c) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

async function tarOf(
  entries: { name: string; type?: "file" | "symlink" | "link"; linkname?: string; body?: string }[],
) {
  const pack = tar.pack();
  for (const e of entries)
    pack.entry({ name: e.name, type: e.type ?? "file", linkname: e.linkname }, e.body ?? "");
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

before(async () => {
  d = await startDaemon();
  sock = d.host.slice("unix://".length);
  await dockerOk(d.host, ["pull", BUSYBOX]);
  await dockerOk(d.host, ["create", "--name", "target", BUSYBOX, "sleep", "100"]);
});
after(async () => {
  await d.stop();
  cleanup(d);
});

describe("bad input", () => {
  test("malformed JSON is a 400 with a message", async () => {
    const r = await request("POST", "/v1.44/containers/create", "{not json");
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).message, /invalid JSON/);
  });
  test("wrong types are a 400 naming the field", async () => {
    const r = await request("POST", "/containers/create", JSON.stringify({ Image: 42 }));
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).message, /Config.Image/);
    const e = await request("POST", "/containers/create", JSON.stringify({ Image: BUSYBOX, Env: "A=1" }));
    assert.equal(e.status, 400);
  });
  test("unknown routes and too-new API versions", async () => {
    assert.equal((await request("GET", "/nope")).status, 404);
    const v = await request("GET", "/v1.99/version");
    assert.equal(v.status, 400);
    assert.match(
      JSON.parse(v.body).message,
      /client version 1.99 is too new. Maximum supported API version is 1.44/,
    );
    assert.equal((await request("GET", "/v1.24/version")).status, 200);
    assert.equal((await request("POST", "/swarm/init", "{}")).status, 501);
  });
  test("ping has API-Version and OSType headers on GET and HEAD", async () => {
    for (const m of ["GET", "HEAD"]) {
      const r = await new Promise<http.IncomingMessage>((resolve) =>
        http.request({ socketPath: sock, method: m, path: "/_ping" }, resolve).end(),
      );
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers["api-version"], "1.44");
      assert.equal(r.headers["ostype"], "linux");
      r.resume();
    }
  });
  test("huge JSON bodies are refused", async () => {
    const big = JSON.stringify({ Image: BUSYBOX, Labels: { x: "a".repeat(20 * 1024 * 1024) } });
    const r = await request("POST", "/containers/create", big);
    assert.equal(r.status, 413);
  });
  test("hostile tar archives are refused and write nothing outside", async () => {
    for (const entries of [
      [{ name: "../../escape.txt", body: "x" }],
      [{ name: "/abs.txt", body: "x" }],
      [{ name: "link", type: "link" as const, linkname: "../../../etc/passwd" }],
    ]) {
      const r = await request("PUT", "/containers/target/archive?path=/tmp", await tarOf(entries), {
        "Content-Type": "application/x-tar",
      });
      assert.equal(r.status, 400, r.body);
    }
    // A symlink pointing out of the root stays inside: writing through it lands in the container.
    const r = await request(
      "PUT",
      "/containers/target/archive?path=/tmp",
      await tarOf([
        { name: "out", type: "symlink", linkname: "../../../../../../tmp" },
        { name: "out/through.txt", body: "inside" },
      ]),
      { "Content-Type": "application/x-tar" },
    );
    assert.equal(r.status, 200, r.body);
    const stat = await request("HEAD", "/containers/target/archive?path=/tmp/through.txt");
    assert.equal(stat.status, 200);
    const corrupt = await request("PUT", "/containers/target/archive?path=/tmp", Buffer.alloc(1024, 7), {
      "Content-Type": "application/x-tar",
    });
    assert.equal(corrupt.status, 400);
  });
  test("archive stat carries real mode bits", async () => {
    const r = await new Promise<http.IncomingMessage>((resolve) =>
      http
        .request({ socketPath: sock, method: "HEAD", path: "/containers/target/archive?path=/tmp" }, resolve)
        .end(),
    );
    const stat = JSON.parse(
      Buffer.from(String(r.headers["x-docker-container-path-stat"]), "base64").toString(),
    );
    assert.equal(stat.name, "tmp");
    assert.ok(stat.mode >= 2 ** 31, "directory bit set");
    r.resume();
  });
  test("the daemon still serves after all of that", async () => {
    assert.equal((await request("GET", "/_ping")).body, "OK");
    assert.equal(await dockerOk(d.host, ["run", "--rm", BUSYBOX, "echo", "alive"]), "alive\n");
  });
});
