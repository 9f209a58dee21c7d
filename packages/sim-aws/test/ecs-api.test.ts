import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  CreateClusterCommand,
  DeleteClusterCommand,
  DeregisterTaskDefinitionCommand,
  DescribeClustersCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListClustersCommand,
  ListTagsForResourceCommand,
  ListTaskDefinitionFamiliesCommand,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  TagResourceCommand,
  UntagResourceCommand,
  paginateListClusters,
} from "@aws-sdk/client-ecs";
import {
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { BUSYBOX, startSim, type TestSim } from "./helpers.js";

/** ECS operations that need no engine work: clusters, task definitions, tags, errors. */

const ACCOUNT = "000000000000";
const code = (name: string, message?: RegExp) => (e: any) => {
  assert.equal(e.name, name, e.message);
  if (message) assert.match(e.message, message);
  return true;
};

describe("ECS API", () => {
  let sim: TestSim;
  let ecs: ECSClient;

  before(async () => {
    sim = await startSim();
    ecs = new ECSClient(sim.client);
  });
  after(async () => {
    ecs.destroy();
    await sim.cleanup();
  });

  /** POST one JSON 1.1 request as is, for inputs the SDK would not send. */
  async function raw(operation: string, body: string) {
    const res = await fetch(sim.url, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AmazonEC2ContainerServiceV20141113.${operation}`,
      },
      body,
    });
    return { status: res.status, body: (await res.json()) as any };
  }

  it("creates clusters idempotently by name and describes them, with MISSING failures", async () => {
    const a = await ecs.send(
      new CreateClusterCommand({ clusterName: "api-a", tags: [{ key: "team", value: "x" }] }),
    );
    const again = await ecs.send(new CreateClusterCommand({ clusterName: "api-a" }));
    assert.equal(a.cluster?.clusterArn, `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/api-a`);
    assert.equal(again.cluster?.clusterArn, a.cluster?.clusterArn);
    assert.equal(a.cluster?.status, "ACTIVE");
    assert.equal(a.cluster?.runningTasksCount, 0);

    const d = await ecs.send(
      new DescribeClustersCommand({ clusters: ["api-a", a.cluster!.clusterArn!, "nope"], include: ["TAGS"] }),
    );
    assert.equal(d.clusters?.length, 2);
    assert.deepEqual(d.clusters?.[0].tags, [{ key: "team", value: "x" }]);
    assert.deepEqual(d.failures, [
      { arn: `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/nope`, reason: "MISSING" },
    ]);
    // without include, no tags
    const plain = await ecs.send(new DescribeClustersCommand({ clusters: ["api-a"] }));
    assert.equal(plain.clusters?.[0].tags, undefined);

    // no name means "default"
    const def = await ecs.send(new CreateClusterCommand({}));
    assert.equal(def.cluster?.clusterName, "default");
    await assert.rejects(
      ecs.send(new CreateClusterCommand({ clusterName: "bad name!" })),
      code("InvalidParameterException"),
    );
  });

  it("lists clusters page by page and deletes them (INACTIVE, still describable)", async () => {
    for (const n of ["p1", "p2", "p3", "p4", "p5"])
      await ecs.send(new CreateClusterCommand({ clusterName: `page-${n}` }));
    const first = await ecs.send(new ListClustersCommand({ maxResults: 2 }));
    assert.equal(first.clusterArns?.length, 2);
    assert.ok(first.nextToken);
    const all: string[] = [];
    for await (const page of paginateListClusters({ client: ecs, pageSize: 2 }, {}))
      all.push(...page.clusterArns!);
    const pages = all.filter((a) => a.includes("cluster/page-"));
    assert.equal(pages.length, 5);
    assert.equal(new Set(all).size, all.length);

    const del = await ecs.send(new DeleteClusterCommand({ cluster: "page-p5" }));
    assert.equal(del.cluster?.status, "INACTIVE");
    const d = await ecs.send(new DescribeClustersCommand({ clusters: ["page-p5"] }));
    assert.equal(d.clusters?.[0].status, "INACTIVE");
    const after_ = await ecs.send(new ListClustersCommand({}));
    assert.ok(!after_.clusterArns?.some((a) => a.endsWith("cluster/page-p5")));
    await assert.rejects(
      ecs.send(new DeleteClusterCommand({ cluster: "page-p5" })),
      code("ClusterNotFoundException", /^Cluster not found\.$/),
    );
    // a deleted cluster can be created again
    const back = await ecs.send(new CreateClusterCommand({ clusterName: "page-p5" }));
    assert.equal(back.cluster?.status, "ACTIVE");
    await assert.rejects(
      ecs.send(new ListClustersCommand({ maxResults: 0 })),
      code("InvalidParameterException"),
    );
    await assert.rejects(
      ecs.send(new ListClustersCommand({ nextToken: "garbage!" })),
      code("InvalidParameterException"),
    );
  });

  it("registers revisions and describes them by family, family:revision and ARN", async () => {
    const container = {
      name: "app",
      image: BUSYBOX,
      memory: 64,
      command: ["echo", "hi"],
      entryPoint: ["/bin/sh", "-c"],
      environment: [{ name: "A", value: "1" }],
      workingDirectory: "/tmp",
      portMappings: [{ containerPort: 8080 }],
    };
    const r1 = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "api-web",
        containerDefinitions: [container],
        tags: [{ key: "env", value: "test" }],
      }),
    );
    const r2 = await ecs.send(
      new RegisterTaskDefinitionCommand({ family: "api-web", containerDefinitions: [container] }),
    );
    const td1 = r1.taskDefinition!;
    assert.equal(td1.taskDefinitionArn, `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/api-web:1`);
    assert.equal(td1.revision, 1);
    assert.equal(r2.taskDefinition?.revision, 2);
    assert.equal(td1.status, "ACTIVE");
    assert.equal(td1.networkMode, "bridge");
    assert.deepEqual(td1.compatibilities, ["EC2"]);
    const c = td1.containerDefinitions![0];
    assert.equal(c.essential, true);
    assert.deepEqual(c.command, ["echo", "hi"]);
    assert.deepEqual(c.entryPoint, ["/bin/sh", "-c"]);
    assert.deepEqual(c.portMappings, [{ containerPort: 8080, hostPort: 0, protocol: "tcp" }]);
    assert.ok(td1.registeredAt instanceof Date);

    const latest = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "api-web" }));
    assert.equal(latest.taskDefinition?.revision, 2);
    const one = await ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: "api-web:1", include: ["TAGS"] }),
    );
    assert.equal(one.taskDefinition?.revision, 1);
    assert.deepEqual(one.tags, [{ key: "env", value: "test" }]);
    const byArn = await ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: td1.taskDefinitionArn }),
    );
    assert.equal(byArn.taskDefinition?.revision, 1);
    assert.equal(byArn.tags, undefined);

    // deregistered: INACTIVE, still describable by revision, no longer the family's latest
    const dereg = await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: "api-web:2" }));
    assert.equal(dereg.taskDefinition?.status, "INACTIVE");
    assert.ok(dereg.taskDefinition?.deregisteredAt instanceof Date);
    const two = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "api-web:2" }));
    assert.equal(two.taskDefinition?.status, "INACTIVE");
    const now = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "api-web" }));
    assert.equal(now.taskDefinition?.revision, 1);
    // revisions are never reused
    const r3 = await ecs.send(
      new RegisterTaskDefinitionCommand({ family: "api-web", containerDefinitions: [container] }),
    );
    assert.equal(r3.taskDefinition?.revision, 3);
    await assert.rejects(
      ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: "api-web" })),
      code("ClientException"),
    );
    await assert.rejects(
      ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "api-web:99" })),
      code("ClientException", /^Unable to describe task definition\.$/),
    );
  });

  it("lists task definitions and families with status, prefix, sort and pages", async () => {
    const cd = [{ name: "c", image: BUSYBOX, memory: 32 }];
    for (const f of ["lst-a", "lst-a", "lst-b", "lst-c"])
      await ecs.send(new RegisterTaskDefinitionCommand({ family: f, containerDefinitions: cd }));
    await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: "lst-c:1" }));

    const a = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: "lst-a" }));
    assert.deepEqual(
      a.taskDefinitionArns?.map((x) => x.split("/")[1]),
      ["lst-a:1", "lst-a:2"],
    );
    const desc = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: "lst-a", sort: "DESC" }));
    assert.deepEqual(
      desc.taskDefinitionArns?.map((x) => x.split("/")[1]),
      ["lst-a:2", "lst-a:1"],
    );
    const inactive = await ecs.send(new ListTaskDefinitionsCommand({ status: "INACTIVE" }));
    assert.ok(inactive.taskDefinitionArns?.some((x) => x.endsWith("lst-c:1")));
    assert.ok(!inactive.taskDefinitionArns?.some((x) => x.endsWith("lst-a:1")));

    const p1 = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: "lst-a", maxResults: 1 }));
    assert.equal(p1.taskDefinitionArns?.length, 1);
    const p2 = await ecs.send(
      new ListTaskDefinitionsCommand({ familyPrefix: "lst-a", maxResults: 1, nextToken: p1.nextToken }),
    );
    assert.deepEqual(
      [...p1.taskDefinitionArns!, ...p2.taskDefinitionArns!].map((x) => x.split("/")[1]),
      ["lst-a:1", "lst-a:2"],
    );
    assert.equal(p2.nextToken, undefined);

    const fam = await ecs.send(new ListTaskDefinitionFamiliesCommand({ familyPrefix: "lst-" }));
    assert.deepEqual(fam.families, ["lst-a", "lst-b"]);
    const famInactive = await ecs.send(
      new ListTaskDefinitionFamiliesCommand({ familyPrefix: "lst-", status: "INACTIVE" }),
    );
    assert.deepEqual(famInactive.families, ["lst-c"]);
    const famAll = await ecs.send(
      new ListTaskDefinitionFamiliesCommand({ familyPrefix: "lst-", status: "ALL" }),
    );
    assert.deepEqual(famAll.families, ["lst-a", "lst-b", "lst-c"]);
  });

  it("validates task definitions as ECS does (Fargate sizes, network mode, awslogs, memory)", async () => {
    const fargate = {
      family: "val",
      requiresCompatibilities: ["FARGATE"],
      networkMode: "awsvpc" as const,
      cpu: "256",
      memory: "512",
      containerDefinitions: [{ name: "c", image: BUSYBOX }],
    };
    const ok = await ecs.send(new RegisterTaskDefinitionCommand(fargate));
    assert.deepEqual(ok.taskDefinition?.compatibilities, ["EC2", "FARGATE"]);
    assert.deepEqual(ok.taskDefinition?.requiresCompatibilities, ["FARGATE"]);
    // "1 vCPU" / "2 GB" are stored as units
    const units = await ecs.send(
      new RegisterTaskDefinitionCommand({ ...fargate, cpu: "1 vCPU", memory: "2 GB" }),
    );
    assert.equal(units.taskDefinition?.cpu, "1024");
    assert.equal(units.taskDefinition?.memory, "2048");

    await assert.rejects(
      ecs.send(new RegisterTaskDefinitionCommand({ ...fargate, networkMode: "bridge" })),
      code("ClientException", /Fargate only supports network mode/),
    );
    await assert.rejects(
      ecs.send(new RegisterTaskDefinitionCommand({ ...fargate, memory: "4096" })),
      code("ClientException", /No Fargate configuration exists for given values: 256 CPU, 4096 memory/),
    );
    await assert.rejects(
      ecs.send(new RegisterTaskDefinitionCommand({ ...fargate, cpu: undefined })),
      code("ClientException", /Fargate requires that 'cpu' be defined at the task level/),
    );
    await assert.rejects(
      ecs.send(
        new RegisterTaskDefinitionCommand({
          ...fargate,
          containerDefinitions: [
            {
              name: "c",
              image: BUSYBOX,
              logConfiguration: {
                logDriver: "awslogs",
                options: { "awslogs-group": "g", "awslogs-stream-prefix": "p" },
              },
            },
          ],
        }),
      ),
      code("ClientException", /execution role ARN to support log driver awslogs/),
    );
    await assert.rejects(
      ecs.send(
        new RegisterTaskDefinitionCommand({
          family: "val",
          containerDefinitions: [{ name: "c", image: BUSYBOX }],
        }),
      ),
      code("ClientException", /At least one of 'memory' or 'memoryReservation' must be specified/),
    );
    await assert.rejects(
      ecs.send(
        new RegisterTaskDefinitionCommand({ family: "val", containerDefinitions: [{ name: "c" } as any] }),
      ),
      code("ClientException", /^Container\.image should not be null or empty\.$/),
    );
    await assert.rejects(
      ecs.send(
        new RegisterTaskDefinitionCommand({
          ...fargate,
          containerDefinitions: [
            { name: "c", image: BUSYBOX, portMappings: [{ containerPort: 80, hostPort: 8080 }] },
          ],
        }),
      ),
      code("ClientException", /host ports and container ports in port mappings must match/),
    );
    await assert.rejects(
      ecs.send(new RegisterTaskDefinitionCommand({ family: "val", containerDefinitions: [] })),
      code("ClientException"),
    );
    await assert.rejects(
      ecs.send(
        new RegisterTaskDefinitionCommand({ containerDefinitions: [{ name: "c", image: BUSYBOX }] } as any),
      ),
      code("ClientException"),
    );
  });

  it("answers bad task requests with ECS's errors", async () => {
    await ecs.send(new CreateClusterCommand({ clusterName: "errs" }));
    const td = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "errs-fg",
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: "256",
        memory: "512",
        containerDefinitions: [{ name: "c", image: BUSYBOX }],
      }),
    );
    const ec2Only = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "errs-ec2",
        containerDefinitions: [{ name: "c", image: BUSYBOX, memory: 32 }],
      }),
    );
    // a real subnet: the default VPC's subnets exist from the start
    const ec2 = new EC2Client(sim.client);
    const subnet = (
      await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: "default-for-az", Values: ["true"] }] }))
    ).Subnets![0];
    const net = { awsvpcConfiguration: { subnets: [subnet.SubnetId!] } };
    const fargate = { cluster: "errs", taskDefinition: "errs-fg", launchType: "FARGATE" as const };
    await assert.rejects(
      ecs.send(
        new RunTaskCommand({
          ...fargate,
          networkConfiguration: { awsvpcConfiguration: { subnets: ["subnet-0a1b2c3d"] } },
        }),
      ),
      code(
        "InvalidParameterException",
        /^Error retrieving subnet information for \[subnet-0a1b2c3d\]: The subnet ID 'subnet-0a1b2c3d' does not exist \(Service: AmazonEC2; Status Code: 400; Error Code: InvalidSubnetID\.NotFound;/,
      ),
    );
    await assert.rejects(
      ecs.send(
        new RunTaskCommand({
          ...fargate,
          networkConfiguration: {
            awsvpcConfiguration: { subnets: [subnet.SubnetId!], securityGroups: ["sg-0123456789abcdef0"] },
          },
        }),
      ),
      code(
        "InvalidParameterException",
        /^Error retrieving security group information for \[sg-0123456789abcdef0\]: The security group 'sg-0123456789abcdef0' does not exist \(Service: AmazonEC2;.*Error Code: InvalidGroup\.NotFound;/,
      ),
    );
    const otherVpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.9.0.0/16" }));
    const foreign = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: "elsewhere",
        Description: "in another VPC",
        VpcId: otherVpc.Vpc!.VpcId,
      }),
    );
    await assert.rejects(
      ecs.send(
        new RunTaskCommand({
          ...fargate,
          networkConfiguration: {
            awsvpcConfiguration: { subnets: [subnet.SubnetId!], securityGroups: [foreign.GroupId!] },
          },
        }),
      ),
      code(
        "InvalidParameterException",
        new RegExp(
          `^Security group ${foreign.GroupId} does not appear to belong to the same VPC as the input subnets\\.$`,
        ),
      ),
    );
    const defaultGroup = await ec2.send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: "vpc-id", Values: [subnet.VpcId!] },
          { Name: "group-name", Values: ["default"] },
        ],
      }),
    );
    assert.equal(defaultGroup.SecurityGroups!.length, 1);
    ec2.destroy();

    await assert.rejects(
      ecs.send(
        new RunTaskCommand({ cluster: "ghost", taskDefinition: "errs-fg", networkConfiguration: net }),
      ),
      code("ClusterNotFoundException", /^Cluster not found\.$/),
    );
    await assert.rejects(
      ecs.send(new RunTaskCommand({ cluster: "errs", taskDefinition: "no-such-family" })),
      code("InvalidParameterException", /TaskDefinition not found/),
    );
    await assert.rejects(
      ecs.send(new RunTaskCommand({ cluster: "errs" } as any)),
      code("InvalidParameterException"),
    );
    await assert.rejects(
      ecs.send(new RunTaskCommand({ cluster: "errs", taskDefinition: "errs-fg", launchType: "FARGATE" })),
      code(
        "InvalidParameterException",
        /Network Configuration must be provided when networkMode 'awsvpc' is specified/,
      ),
    );
    await assert.rejects(
      ecs.send(
        new RunTaskCommand({
          cluster: "errs",
          taskDefinition: "errs-fg",
          launchType: "FARGATE",
          networkConfiguration: { awsvpcConfiguration: { subnets: [] } },
        }),
      ),
      code("InvalidParameterException", /subnets can not be empty/),
    );
    await assert.rejects(
      ecs.send(
        new RunTaskCommand({
          cluster: "errs",
          taskDefinition: ec2Only.taskDefinition!.taskDefinitionArn,
          launchType: "FARGATE",
        }),
      ),
      code("InvalidParameterException", /Task definition does not support launch_type FARGATE/),
    );
    await assert.rejects(
      ecs.send(
        new RunTaskCommand({
          cluster: "errs",
          taskDefinition: "errs-fg",
          launchType: "FARGATE",
          networkConfiguration: net,
          overrides: { containerOverrides: [{ name: "ghost", command: ["x"] }] },
        }),
      ),
      code("InvalidParameterException", /Override for container named ghost is not a container/),
    );
    await assert.rejects(
      ecs.send(
        new RunTaskCommand({
          cluster: "errs",
          taskDefinition: "errs-fg",
          networkConfiguration: net,
          count: 11,
        }),
      ),
      code("InvalidParameterException"),
    );
    await ecs.send(
      new DeregisterTaskDefinitionCommand({ taskDefinition: td.taskDefinition!.taskDefinitionArn }),
    );
    await assert.rejects(
      ecs.send(
        new RunTaskCommand({
          cluster: "errs",
          taskDefinition: td.taskDefinition!.taskDefinitionArn,
          networkConfiguration: net,
        }),
      ),
      code("InvalidParameterException", /inactive/),
    );

    await assert.rejects(
      ecs.send(new DescribeTasksCommand({ cluster: "errs", tasks: [] })),
      code("InvalidParameterException", /Tasks cannot be empty/),
    );
    const missing = await ecs.send(
      new DescribeTasksCommand({ cluster: "errs", tasks: ["0123456789abcdef0123456789abcdef"] }),
    );
    assert.deepEqual(missing.failures, [
      {
        arn: `arn:aws:ecs:us-east-1:${ACCOUNT}:task/errs/0123456789abcdef0123456789abcdef`,
        reason: "MISSING",
      },
    ]);
    await assert.rejects(
      ecs.send(new StopTaskCommand({ cluster: "errs", task: "0123456789abcdef0123456789abcdef" })),
      code("InvalidParameterException", /The referenced task was not found/),
    );
    await assert.rejects(
      ecs.send(new ListTasksCommand({ cluster: "ghost" })),
      code("ClusterNotFoundException"),
    );
    await assert.rejects(
      ecs.send(new ListTasksCommand({ cluster: "errs", serviceName: "svc" })),
      code("ServiceNotFoundException"),
    );
  });

  it("rejects wrong member types with SerializationException and unknown operations", async () => {
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "types",
        containerDefinitions: [{ name: "c", image: BUSYBOX, memory: 32 }],
      }),
    );
    const bad = await raw("RunTask", JSON.stringify({ taskDefinition: "types", count: "two" }));
    assert.equal(bad.status, 400);
    assert.equal(bad.body.__type, "SerializationException");
    const badList = await raw("DescribeClusters", JSON.stringify({ clusters: "api-a" }));
    assert.equal(badList.body.__type, "SerializationException");
    const malformed = await raw("ListClusters", "{not json");
    assert.equal(malformed.body.__type, "SerializationException");
    const unknown = await raw("CreateService", "{}");
    assert.equal(unknown.body.__type, "UnknownOperationException");
  });

  it("tags clusters and task definitions, and lists and removes their tags", async () => {
    const c = await ecs.send(
      new CreateClusterCommand({ clusterName: "tagged", tags: [{ key: "a", value: "1" }] }),
    );
    const arn = c.cluster!.clusterArn!;
    await ecs.send(
      new TagResourceCommand({
        resourceArn: arn,
        tags: [
          { key: "b", value: "2" },
          { key: "a", value: "9" },
        ],
      }),
    );
    const listed = await ecs.send(new ListTagsForResourceCommand({ resourceArn: arn }));
    assert.deepEqual(listed.tags, [
      { key: "a", value: "9" },
      { key: "b", value: "2" },
    ]);
    await ecs.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ["a"] }));
    assert.deepEqual((await ecs.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, [
      { key: "b", value: "2" },
    ]);

    const td = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "tagged",
        containerDefinitions: [{ name: "c", image: BUSYBOX, memory: 32 }],
      }),
    );
    const tdArn = td.taskDefinition!.taskDefinitionArn!;
    await ecs.send(new TagResourceCommand({ resourceArn: tdArn, tags: [{ key: "k", value: "v" }] }));
    const d = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: tdArn, include: ["TAGS"] }));
    assert.deepEqual(d.tags, [{ key: "k", value: "v" }]);

    await assert.rejects(
      ecs.send(
        new ListTagsForResourceCommand({ resourceArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/ghost` }),
      ),
      code("ClusterNotFoundException"),
    );
    await assert.rejects(
      ecs.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: "aws:x", value: "1" }] })),
      code("InvalidParameterException"),
    );
    await assert.rejects(
      ecs.send(new ListTagsForResourceCommand({ resourceArn: "not-an-arn" })),
      code("InvalidParameterException"),
    );
  });
});
