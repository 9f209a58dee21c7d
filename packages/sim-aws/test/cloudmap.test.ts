import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DescribeVpcsCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  CreateHttpNamespaceCommand,
  CreatePrivateDnsNamespaceCommand,
  CreatePublicDnsNamespaceCommand,
  CreateServiceCommand,
  DeleteNamespaceCommand,
  DeleteServiceCommand,
  DeregisterInstanceCommand,
  DiscoverInstancesCommand,
  DiscoverInstancesRevisionCommand,
  GetInstanceCommand,
  GetInstancesHealthStatusCommand,
  GetNamespaceCommand,
  GetOperationCommand,
  GetServiceCommand,
  ListInstancesCommand,
  ListNamespacesCommand,
  ListOperationsCommand,
  ListServicesCommand,
  ListTagsForResourceCommand,
  RegisterInstanceCommand,
  ServiceDiscoveryClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateInstanceCustomHealthStatusCommand,
} from "@aws-sdk/client-servicediscovery";
import { registerInstance } from "../src/services/cloudmap.js";
import { startSim, type TestSim } from "./helpers.js";

const code = (name: string) => (e: any) => {
  assert.equal(e.name, name, e.message);
  return true;
};

describe("Cloud Map", () => {
  let sim: TestSim;
  let sd: ServiceDiscoveryClient;
  let vpcId: string;
  let privateNs: string;
  let httpNs: string;
  let dnsService: string;

  before(async () => {
    sim = await startSim();
    // DiscoverInstances goes to the data-servicediscovery host; a local endpoint has no such name
    sd = new ServiceDiscoveryClient({ ...sim.client, disableHostPrefix: true });
    const ec2 = new EC2Client(sim.client);
    vpcId = (await ec2.send(new DescribeVpcsCommand({}))).Vpcs![0].VpcId!;
    ec2.destroy();
  });
  after(async () => {
    sd.destroy();
    await sim.cleanup();
  });

  it("creates namespaces through operations", async () => {
    const op = await sd.send(
      new CreatePrivateDnsNamespaceCommand({ Name: "internal.local", Vpc: vpcId, CreatorRequestId: "req-1" }),
    );
    const { Operation } = await sd.send(new GetOperationCommand({ OperationId: op.OperationId }));
    assert.equal(Operation!.Status, "SUCCESS");
    assert.equal(Operation!.Type, "CREATE_NAMESPACE");
    privateNs = Operation!.Targets!.NAMESPACE!;
    assert.match(privateNs, /^ns-[a-z0-9]{16}$/);
    // a retry with the same CreatorRequestId is the same operation
    const again = await sd.send(
      new CreatePrivateDnsNamespaceCommand({ Name: "internal.local", Vpc: vpcId, CreatorRequestId: "req-1" }),
    );
    assert.equal(again.OperationId, op.OperationId);
    await assert.rejects(
      sd.send(new CreatePrivateDnsNamespaceCommand({ Name: "internal.local", Vpc: vpcId })),
      code("NamespaceAlreadyExists"),
    );
    await assert.rejects(
      sd.send(new CreatePrivateDnsNamespaceCommand({ Name: "other.local", Vpc: "vpc-0000000000000000f" })),
      code("InvalidInput"),
    );

    const http = await sd.send(new CreateHttpNamespaceCommand({ Name: "apps", Description: "http ns" }));
    httpNs = (await sd.send(new GetOperationCommand({ OperationId: http.OperationId }))).Operation!.Targets!
      .NAMESPACE!;

    const pub = await sd.send(new CreatePublicDnsNamespaceCommand({ Name: "example.com" }));
    const pubNs = (await sd.send(new GetOperationCommand({ OperationId: pub.OperationId }))).Operation!
      .Targets!.NAMESPACE!;
    assert.equal((await sd.send(new GetNamespaceCommand({ Id: pubNs }))).Namespace!.Type, "DNS_PUBLIC");
    await sd.send(new DeleteNamespaceCommand({ Id: pubNs }));
    const created = await sd.send(
      new ListOperationsCommand({
        Filters: [{ Name: "TYPE", Values: ["CREATE_NAMESPACE"], Condition: "EQ" }],
      }),
    );
    assert.equal(created.Operations!.length, 3);
    assert.ok(created.Operations!.every((o) => o.Status === "SUCCESS"));

    const { Namespace } = await sd.send(new GetNamespaceCommand({ Id: privateNs }));
    assert.equal(Namespace!.Type, "DNS_PRIVATE");
    assert.equal(Namespace!.Name, "internal.local");
    assert.equal(Namespace!.Arn, `arn:aws:servicediscovery:us-east-1:000000000000:namespace/${privateNs}`);
    assert.match(Namespace!.Properties!.DnsProperties!.HostedZoneId!, /^Z[A-Z0-9]{20}$/);
    assert.equal(Namespace!.Properties!.HttpProperties!.HttpName, "internal.local");
    assert.ok(Namespace!.CreateDate instanceof Date);

    const all = await sd.send(new ListNamespacesCommand({}));
    assert.deepEqual(all.Namespaces!.map((n) => n.Name).sort(), ["apps", "internal.local"]);
    const http1 = await sd.send(
      new ListNamespacesCommand({ Filters: [{ Name: "TYPE", Values: ["HTTP"], Condition: "EQ" }] }),
    );
    assert.deepEqual(
      http1.Namespaces!.map((n) => n.Id),
      [httpNs],
    );
    const paged = await sd.send(new ListNamespacesCommand({ MaxResults: 1 }));
    assert.equal(paged.Namespaces!.length, 1);
    const rest = await sd.send(new ListNamespacesCommand({ MaxResults: 1, NextToken: paged.NextToken }));
    assert.equal(rest.Namespaces!.length, 1);
    assert.equal(rest.NextToken, undefined);
    await assert.rejects(
      sd.send(new GetNamespaceCommand({ Id: "ns-doesnotexist0000" })),
      code("NamespaceNotFound"),
    );
  });

  it("creates services with DNS configuration", async () => {
    const { Service } = await sd.send(
      new CreateServiceCommand({
        Name: "api",
        NamespaceId: privateNs,
        DnsConfig: { RoutingPolicy: "MULTIVALUE", DnsRecords: [{ Type: "A", TTL: 10 }] },
        HealthCheckCustomConfig: { FailureThreshold: 1 },
      }),
    );
    dnsService = Service!.Id!;
    assert.match(dnsService, /^srv-[a-z0-9]{16}$/);
    assert.equal(Service!.Type, "DNS_HTTP");
    assert.deepEqual(Service!.DnsConfig!.DnsRecords, [{ Type: "A", TTL: 10 }]);
    assert.equal(Service!.DnsConfig!.NamespaceId, privateNs);
    await assert.rejects(
      sd.send(new CreateServiceCommand({ Name: "api", NamespaceId: privateNs })),
      code("ServiceAlreadyExists"),
    );
    await assert.rejects(
      sd.send(
        new CreateServiceCommand({
          Name: "x",
          NamespaceId: httpNs,
          DnsConfig: { DnsRecords: [{ Type: "A", TTL: 10 }] },
        }),
      ),
      code("InvalidInput"),
    );
    await assert.rejects(
      sd.send(new CreateServiceCommand({ Name: "x", NamespaceId: "ns-doesnotexist0000" })),
      code("NamespaceNotFound"),
    );
    const web = await sd.send(new CreateServiceCommand({ Name: "web", NamespaceId: httpNs }));
    assert.equal(web.Service!.Type, "HTTP");

    assert.equal((await sd.send(new GetServiceCommand({ Id: dnsService }))).Service!.Name, "api");
    const listed = await sd.send(
      new ListServicesCommand({ Filters: [{ Name: "NAMESPACE_ID", Values: [privateNs], Condition: "EQ" }] }),
    );
    assert.deepEqual(
      listed.Services!.map((s) => s.Name),
      ["api"],
    );
    await assert.rejects(
      sd.send(new GetServiceCommand({ Id: "srv-doesnotexist000" })),
      code("ServiceNotFound"),
    );
    assert.equal((await sd.send(new GetNamespaceCommand({ Id: privateNs }))).Namespace!.ServiceCount, 1);

    await sd.send(
      new TagResourceCommand({ ResourceARN: web.Service!.Arn, Tags: [{ Key: "team", Value: "a" }] }),
    );
    const tags = await sd.send(new ListTagsForResourceCommand({ ResourceARN: web.Service!.Arn }));
    assert.deepEqual(tags.Tags, [{ Key: "team", Value: "a" }]);
    await sd.send(new UntagResourceCommand({ ResourceARN: web.Service!.Arn, TagKeys: ["team"] }));
    assert.deepEqual(
      (await sd.send(new ListTagsForResourceCommand({ ResourceARN: web.Service!.Arn }))).Tags,
      [],
    );
  });

  it("registers, discovers and deregisters instances", async () => {
    const reg = await sd.send(
      new RegisterInstanceCommand({
        ServiceId: dnsService,
        InstanceId: "task-1",
        Attributes: { AWS_INSTANCE_IPV4: "10.0.0.5", AWS_INSTANCE_PORT: "8080", color: "blue" },
      }),
    );
    const op = (await sd.send(new GetOperationCommand({ OperationId: reg.OperationId }))).Operation!;
    assert.equal(op.Type, "REGISTER_INSTANCE");
    assert.deepEqual(op.Targets, { SERVICE: dnsService, INSTANCE: "task-1" });
    // ECS registers its tasks through the same code
    registerInstance(sim.sim, dnsService, "task-2", { AWS_INSTANCE_IPV4: "10.0.0.6", color: "green" });
    await assert.rejects(
      sd.send(
        new RegisterInstanceCommand({
          ServiceId: dnsService,
          InstanceId: "bad",
          Attributes: { color: "red" },
        }),
      ),
      code("InvalidInput"),
    );

    const got = await sd.send(new GetInstanceCommand({ ServiceId: dnsService, InstanceId: "task-1" }));
    assert.equal(got.Instance!.Attributes!.AWS_INSTANCE_IPV4, "10.0.0.5");
    const listed = await sd.send(new ListInstancesCommand({ ServiceId: dnsService }));
    assert.deepEqual(listed.Instances!.map((i) => i.Id).sort(), ["task-1", "task-2"]);

    const found = await sd.send(
      new DiscoverInstancesCommand({ NamespaceName: "internal.local", ServiceName: "api" }),
    );
    assert.deepEqual(found.Instances!.map((i) => i.InstanceId).sort(), ["task-1", "task-2"]);
    assert.equal(found.Instances![0].HealthStatus, "HEALTHY");
    assert.equal(found.Instances![0].NamespaceName, "internal.local");
    const rev = found.InstancesRevision!;
    const revOnly = await sd.send(
      new DiscoverInstancesRevisionCommand({ NamespaceName: "internal.local", ServiceName: "api" }),
    );
    assert.equal(revOnly.InstancesRevision, rev);
    const blue = await sd.send(
      new DiscoverInstancesCommand({
        NamespaceName: "internal.local",
        ServiceName: "api",
        QueryParameters: { color: "blue" },
      }),
    );
    assert.deepEqual(
      blue.Instances!.map((i) => i.InstanceId),
      ["task-1"],
    );

    await sd.send(
      new UpdateInstanceCustomHealthStatusCommand({
        ServiceId: dnsService,
        InstanceId: "task-2",
        Status: "UNHEALTHY",
      }),
    );
    const healthy = await sd.send(
      new DiscoverInstancesCommand({ NamespaceName: "internal.local", ServiceName: "api" }),
    );
    assert.deepEqual(
      healthy.Instances!.map((i) => i.InstanceId),
      ["task-1"],
    );
    assert.ok(healthy.InstancesRevision! > rev);
    const unhealthy = await sd.send(
      new DiscoverInstancesCommand({
        NamespaceName: "internal.local",
        ServiceName: "api",
        HealthStatus: "UNHEALTHY",
      }),
    );
    assert.deepEqual(
      unhealthy.Instances!.map((i) => i.InstanceId),
      ["task-2"],
    );
    const status = await sd.send(new GetInstancesHealthStatusCommand({ ServiceId: dnsService }));
    assert.deepEqual(status.Status, { "task-1": "HEALTHY", "task-2": "UNHEALTHY" });
    await assert.rejects(
      sd.send(new DiscoverInstancesCommand({ NamespaceName: "internal.local", ServiceName: "nope" })),
      code("ServiceNotFound"),
    );
    await assert.rejects(
      sd.send(new DiscoverInstancesCommand({ NamespaceName: "nope.local", ServiceName: "api" })),
      code("NamespaceNotFound"),
    );

    await assert.rejects(sd.send(new DeleteServiceCommand({ Id: dnsService })), code("ResourceInUse"));
    await sd.send(new DeregisterInstanceCommand({ ServiceId: dnsService, InstanceId: "task-2" }));
    await assert.rejects(
      sd.send(new GetInstanceCommand({ ServiceId: dnsService, InstanceId: "task-2" })),
      code("InstanceNotFound"),
    );
    await assert.rejects(
      sd.send(new DeregisterInstanceCommand({ ServiceId: dnsService, InstanceId: "task-2" })),
      code("InstanceNotFound"),
    );
  });

  it("refuses to delete namespaces with services", async () => {
    await assert.rejects(sd.send(new DeleteNamespaceCommand({ Id: privateNs })), code("ResourceInUse"));
    const web = (await sd.send(new ListServicesCommand({}))).Services!.find((s) => s.Name === "web")!;
    await sd.send(new DeleteServiceCommand({ Id: web.Id }));
    const del = await sd.send(new DeleteNamespaceCommand({ Id: httpNs }));
    const op = (await sd.send(new GetOperationCommand({ OperationId: del.OperationId }))).Operation!;
    assert.equal(op.Type, "DELETE_NAMESPACE");
    assert.equal(op.Status, "SUCCESS");
    await assert.rejects(sd.send(new GetNamespaceCommand({ Id: httpNs })), code("NamespaceNotFound"));
  });

  it("keeps namespaces, services and instances across a restart", async () => {
    sim = await sim.restart();
    sd.destroy();
    sd = new ServiceDiscoveryClient({ ...sim.client, disableHostPrefix: true });
    const found = await sd.send(
      new DiscoverInstancesCommand({ NamespaceName: "internal.local", ServiceName: "api" }),
    );
    assert.deepEqual(
      found.Instances!.map((i) => i.InstanceId),
      ["task-1"],
    );
  });
});
