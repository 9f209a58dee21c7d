import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { Resolver } from "node:dns/promises";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CreateVpcCommand, DescribeVpcsCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  CreatePrivateDnsNamespaceCommand,
  CreateServiceCommand,
  DeregisterInstanceCommand,
  GetOperationCommand,
  RegisterInstanceCommand,
  ServiceDiscoveryClient,
} from "@aws-sdk/client-servicediscovery";
import packet from "dns-packet";
import { vpcResolvers } from "../src/services/resolver.js";
import { startSim, type TestSim } from "./helpers.js";

/** The VPC resolver: Cloud Map private namespaces answered by DNS (UDP and TCP), other names forwarded. */

const here = path.dirname(fileURLToPath(import.meta.url));

/** A stand-in for the host's resolver: knows one name, NXDOMAIN for the rest (UDP only; that is all it needs). */
async function upstream(): Promise<{ address: string; close(): void }> {
  const sock = dgram.createSocket("udp4");
  sock.on("message", (msg, from) => {
    const q = packet.decode(msg);
    const known = q.questions![0].name === "outside.example";
    const answer = packet.encode({
      type: "response",
      id: q.id,
      flags: packet.RECURSION_AVAILABLE | (known ? 0 : 3),
      questions: q.questions,
      answers: known ? [{ name: "outside.example", type: "A", ttl: 60, data: "192.0.2.1" }] : [],
    });
    sock.send(answer, from.port, from.address);
  });
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  return { address: `127.0.0.1:${sock.address().port}`, close: () => sock.close() };
}

/** A query over TCP (length-prefixed), as a client retrying a truncated answer sends it. */
function tcpQuery(server: string, name: string, type: "A" | "SRV"): Promise<packet.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(53, server);
    let buf = Buffer.alloc(0);
    sock.on("connect", () =>
      sock.write(
        packet.streamEncode({
          type: "query",
          id: 7,
          flags: packet.RECURSION_DESIRED,
          questions: [{ type, name }],
        }),
      ),
    );
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        sock.destroy();
        resolve(packet.streamDecode(buf) as packet.DecodedPacket);
      }
    });
    sock.on("error", reject);
  });
}

const rcode = (p: packet.DecodedPacket) => p.flags! & 0xf;

describe("VPC resolver", () => {
  let sim: TestSim;
  let sd: ServiceDiscoveryClient;
  let up: Awaited<ReturnType<typeof upstream>>;
  let vpcId: string;
  let otherVpc: string;
  let server: string;
  const dns = new Resolver({ timeout: 3000, tries: 1 });

  async function namespace(name: string, vpc: string): Promise<string> {
    const op = await sd.send(new CreatePrivateDnsNamespaceCommand({ Name: name, Vpc: vpc }));
    const o = await sd.send(new GetOperationCommand({ OperationId: op.OperationId }));
    return o.Operation!.Targets!.NAMESPACE!;
  }
  async function service(
    ns: string,
    name: string,
    records: { Type: "A" | "SRV" | "CNAME"; TTL: number }[],
    RoutingPolicy: "MULTIVALUE" | "WEIGHTED" = "MULTIVALUE",
  ) {
    const out = await sd.send(
      new CreateServiceCommand({
        Name: name,
        NamespaceId: ns,
        DnsConfig: { RoutingPolicy, DnsRecords: records },
      }),
    );
    return out.Service!.Id!;
  }
  const register = (svc: string, id: string, attrs: Record<string, string>) =>
    sd.send(new RegisterInstanceCommand({ ServiceId: svc, InstanceId: id, Attributes: attrs }));

  before(async () => {
    up = await upstream();
    sim = await startSim(undefined, 0, { dnsUpstreams: [up.address] });
    sd = new ServiceDiscoveryClient(sim.client);
    const ec2 = new EC2Client(sim.client);
    vpcId = (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "is-default", Values: ["true"] }] })))
      .Vpcs![0].VpcId!;
    otherVpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.9.0.0/16" }))).Vpc!.VpcId!;
    ec2.destroy();
    const addr = await vpcResolvers(sim.sim).serverFor(vpcId);
    assert.ok(addr, "the resolver listens (the tests run as root, as CI does)");
    server = addr;
    assert.match(server, /^127\.53\.\d+\.\d+$/);
    dns.setServers([server]);
  });
  after(async () => {
    sd.destroy();
    await sim.cleanup();
    up.close();
  });

  it("answers a namespace's instances with A records; deregistered ones are gone", async () => {
    const ns = await namespace("net.a.sockerless", vpcId);
    const web = await service(ns, "web", [{ Type: "A", TTL: 7 }]);
    await register(web, "task1", { AWS_INSTANCE_IPV4: "10.0.0.5" });
    await register(web, "task2", { AWS_INSTANCE_IPV4: "10.0.0.6" });
    const got = await dns.resolve4("web.net.a.sockerless", { ttl: true });
    assert.deepEqual(
      got.sort((x, y) => x.address.localeCompare(y.address)),
      [
        { address: "10.0.0.5", ttl: 7 },
        { address: "10.0.0.6", ttl: 7 },
      ],
    );
    // names are case-insensitive
    assert.deepEqual((await dns.resolve4("WEB.Net.A.sockerless")).sort(), ["10.0.0.5", "10.0.0.6"]);
    // the name exists, without AAAA records: NODATA, not NXDOMAIN (musl gives up on an NXDOMAIN for either)
    await assert.rejects(dns.resolve6("web.net.a.sockerless"), { code: "ENODATA" });
    await assert.rejects(dns.resolve4("db.net.a.sockerless"), { code: "ENOTFOUND" });
    await sd.send(new DeregisterInstanceCommand({ ServiceId: web, InstanceId: "task1" }));
    assert.deepEqual(await dns.resolve4("web.net.a.sockerless"), ["10.0.0.6"]);
    await sd.send(new DeregisterInstanceCommand({ ServiceId: web, InstanceId: "task2" }));
    await assert.rejects(dns.resolve4("web.net.a.sockerless"), { code: "ENOTFOUND" });
    // the namespace itself: its SOA, with the namespace's SOA TTL
    const soa = await dns.resolveSoa("net.a.sockerless");
    assert.equal(soa.hostmaster, "awsdns-hostmaster.amazon.com");
  });

  it("answers SRV records with instance host names, CNAME records, and over TCP", async () => {
    const ns = await namespace("net.b.sockerless", vpcId);
    const api = await service(ns, "_api._tcp", [{ Type: "SRV", TTL: 20 }]);
    await register(api, "task9", { AWS_INSTANCE_IPV4: "10.0.0.9", AWS_INSTANCE_PORT: "8080" });
    assert.deepEqual(await dns.resolveSrv("_api._tcp.net.b.sockerless"), [
      { name: "task9._api._tcp.net.b.sockerless", port: 8080, priority: 1, weight: 1 },
    ]);
    assert.deepEqual(await dns.resolve4("task9._api._tcp.net.b.sockerless"), ["10.0.0.9"]);
    const web = await service(ns, "web", [{ Type: "A", TTL: 10 }]);
    await register(web, "t", { AWS_INSTANCE_IPV4: "10.0.0.10" });
    const overTcp = await tcpQuery(server, "web.net.b.sockerless", "A");
    assert.equal(overTcp.id, 7);
    assert.equal(rcode(overTcp), 0);
    assert.deepEqual(
      overTcp.answers!.map((a) => [a.type, (a as { data: unknown }).data]),
      [["A", "10.0.0.10"]],
    );
    assert.equal(rcode(await tcpQuery(server, "nothing.net.b.sockerless", "A")), 3);
    // a CNAME service: the alias, followed inside the namespace
    const alias = await service(ns, "www", [{ Type: "CNAME", TTL: 30 }], "WEIGHTED");
    await register(alias, "c", { AWS_INSTANCE_CNAME: "web.net.b.sockerless" });
    assert.deepEqual(await dns.resolveCname("www.net.b.sockerless"), ["web.net.b.sockerless"]);
    assert.deepEqual(await dns.resolve4("www.net.b.sockerless"), ["10.0.0.10"]);
  });

  it("answers a namespace only to its own VPC's resolver; other names go upstream", async () => {
    const ns = await namespace("net.c.sockerless", otherVpc);
    const svc = await service(ns, "web", [{ Type: "A", TTL: 10 }]);
    await register(svc, "t", { AWS_INSTANCE_IPV4: "10.9.1.4" });
    const other = await vpcResolvers(sim.sim).serverFor(otherVpc);
    assert.ok(other && other !== server, `a second VPC gets its own address (${other})`);
    const there = new Resolver({ timeout: 3000, tries: 1 });
    there.setServers([other]);
    assert.deepEqual(await there.resolve4("web.net.c.sockerless"), ["10.9.1.4"]);
    // from the default VPC the name is not a private one: forwarded, and the upstream does not know it
    await assert.rejects(dns.resolve4("web.net.c.sockerless"), { code: "ENOTFOUND" });
    assert.deepEqual(await dns.resolve4("outside.example"), ["192.0.2.1"]);
    assert.deepEqual(await there.resolve4("outside.example"), ["192.0.2.1"]);
  });

  it("answers SERVFAIL for other names when it has no upstream", async () => {
    const lone = await startSim(undefined, 0, { dnsUpstreams: [] });
    try {
      const addr = await vpcResolvers(lone.sim).serverFor(vpcId);
      assert.ok(addr && addr !== server, "each simulator has its own resolver address");
      const r = new Resolver({ timeout: 3000, tries: 1 });
      r.setServers([addr]);
      await assert.rejects(r.resolve4("outside.example"), { code: "ESERVFAIL" });
    } finally {
      await lone.cleanup();
    }
  });

  it("keeps a VPC's address across a restart (tasks that outlive it keep asking there)", async () => {
    sim = await sim.restart();
    sd.destroy();
    sd = new ServiceDiscoveryClient(sim.client);
    assert.equal(await vpcResolvers(sim.sim).serverFor(vpcId), server);
    assert.deepEqual(await dns.resolve4("task9._api._tcp.net.b.sockerless"), ["10.0.0.9"]);
  });

  it("warns, and gives no address, when it cannot listen on port 53", async () => {
    // an unprivileged simulator: the same code in a child process running as nobody
    const script = `
      import { startAwsSimulator } from "./src/index.js";
      import { vpcResolvers } from "./src/services/resolver.js";
      const s = await startAwsSimulator({ host: "127.0.0.1", port: 0, dockerHost: "unix:///nonexistent", account: "000000000000", region: "us-east-1" });
      console.log("address=" + (await vpcResolvers(s.sim).serverFor("vpc-1")));
      await s.close();`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: path.join(here, ".."),
      uid: 65534,
      gid: 65534,
      env: { ...process.env, HOME: "/tmp" },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const code = await new Promise((r) => child.on("close", r));
    assert.equal(code, 0, err);
    assert.match(out, /^address=undefined$/m);
    assert.match(
      err,
      /no DNS resolver for vpc-1: cannot listen on port 53 .*EACCES.*root or CAP_NET_BIND_SERVICE/,
    );
  });
});
