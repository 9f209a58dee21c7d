import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AgentTokens, CloudAgents } from "@sockerless/cloud-aws";
import type { ContainerRecord } from "@sockerless/engine";
import { dnsSearchOf, dnsSearchOptions } from "../src/task-definition.js";

describe("ecs task definition: the agent's DNS search domains", () => {
  const agents = new CloudAgents({ listen: "0", connectTimeoutMs: 1000 }, new AgentTokens("secret"));
  agents.layer = { tarPath: "/dev/null", diffId: "sha256:0", entrypoint: ["/.sockerless/agent"] };
  const entrypoint = (argv0: string, domains: string[]) =>
    agents.wrap(
      {
        Id: "abc",
        Path: argv0,
        Args: [],
        Config: {},
        HostConfig: {},
      } as unknown as ContainerRecord,
      dnsSearchOptions(domains),
    ).entrypoint;

  it("go before the `--` that precedes argv[0], and read back", () => {
    const e = entrypoint("sleep", ["n1.c.sockerless", "n2.c.sockerless"]);
    assert.deepEqual(e.slice(-6), [
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
    const e = entrypoint("--dns-search", ["n.c.sockerless"]);
    assert.deepEqual(e.slice(-4), ["--dns-search", "n.c.sockerless", "--", "--dns-search"]);
    assert.deepEqual(dnsSearchOf(e), ["n.c.sockerless"]);
    assert.deepEqual(dnsSearchOf(entrypoint("sh", [])), []);
  });
});
