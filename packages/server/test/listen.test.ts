import assert from "node:assert/strict";
import { test } from "node:test";
import { isLoopback, parseTcpAddress } from "../src/listen.js";

test("parseTcpAddress reads dockerd's tcp:// forms", () => {
  assert.deepEqual(parseTcpAddress("tcp://127.0.0.1:2375", false), { host: "127.0.0.1", port: 2375 });
  assert.deepEqual(parseTcpAddress("tcp://[::1]:0", true), { host: "::1", port: 0 });
  // no host: all interfaces; no port: 2376 with TLS, 2375 without, as dockerd
  assert.deepEqual(parseTcpAddress("tcp://:2376", true), { host: "0.0.0.0", port: 2376 });
  assert.deepEqual(parseTcpAddress("tcp://example.test", true), { host: "example.test", port: 2376 });
  assert.deepEqual(parseTcpAddress("tcp://example.test", false), { host: "example.test", port: 2375 });
  assert.equal(parseTcpAddress("unix:///run/s.sock", false), undefined);
  assert.throws(() => parseTcpAddress("tcp://h:99999", false), /invalid port/);
  assert.throws(() => parseTcpAddress("tcp://h:1/x", false), /invalid listen address/);
});

test("isLoopback: only addresses other machines cannot reach", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) assert.equal(isLoopback(h), true, h);
  for (const h of ["0.0.0.0", "::", "10.0.0.1", "example.test"]) assert.equal(isLoopback(h), false, h);
});
