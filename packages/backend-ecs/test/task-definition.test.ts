import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dnsSearchOf, withDnsSearch } from "../src/task-definition.js";

describe("ecs task definition: the agent's DNS search domains", () => {
  const agent = ["/.sockerless/ld.so", "/.sockerless/node", "/.sockerless/agent.js", "--id", "abc", "--hold"];

  it("go before the `--` that precedes argv[0], and read back", () => {
    const e = withDnsSearch([...agent, "--", "sleep"], ["n1.c.sockerless", "n2.c.sockerless"]);
    assert.deepEqual(e, [
      ...agent,
      "--dns-search",
      "n1.c.sockerless",
      "--dns-search",
      "n2.c.sockerless",
      "--",
      "sleep",
    ]);
    assert.deepEqual(dnsSearchOf(e), ["n1.c.sockerless", "n2.c.sockerless"]);
  });

  it("leave argv[0] alone, even when it looks like an option", () => {
    const e = withDnsSearch([...agent, "--", "--dns-search"], ["n.c.sockerless"]);
    assert.deepEqual(e.slice(-4), ["--dns-search", "n.c.sockerless", "--", "--dns-search"]);
    assert.deepEqual(dnsSearchOf(e), ["n.c.sockerless"]);
    assert.deepEqual(dnsSearchOf(withDnsSearch([...agent, "--", "sh"], [])), []);
  });

  it("refuse an entrypoint without the separator", () => {
    assert.throws(() => withDnsSearch(["/agent", "sleep"], ["n"]), /does not end with "-- argv\[0\]"/);
  });
});
