import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  DescribeLogGroupsCommand,
  DescribeLogStreamsCommand,
  GetLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import {
  type ContainerDefinition,
  CreateClusterCommand,
  DescribeTasksCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  RunTaskCommand,
  type RunTaskCommandInput,
  StopTaskCommand,
  type Task,
} from "@aws-sdk/client-ecs";
import {
  CreateSubnetCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { CreateAccessPointCommand, CreateFileSystemCommand, EFSClient } from "@aws-sdk/client-efs";
import Docker from "dockerode";
import { efsHostPath } from "../src/services/efs.js";
import { BUSYBOX, dockerHost, startSim, type TestSim } from "./helpers.js";

/** Tasks using other services' resources: EFS volumes, EC2 subnets and security groups, CloudWatch Logs groups. */

const LABEL_TASK = "sockerless.sim-aws.ecs.task-id";
const taskId = (arn: string) => arn.split("/").pop()!;

function engine(): Docker {
  const h = dockerHost();
  return h.startsWith("unix://")
    ? new Docker({ socketPath: h.slice(7) })
    : new Docker({ host: new URL(h).hostname, port: Number(new URL(h).port) });
}

describe("ECS tasks with EFS, EC2 and CloudWatch Logs resources", { concurrency: true }, () => {
  let sim: TestSim;
  let ecs: ECSClient;
  let efs: EFSClient;
  let logs: CloudWatchLogsClient;
  let ec2: EC2Client;
  const docker = engine();
  const started = new Set<string>();

  before(async () => {
    sim = await startSim();
    ecs = new ECSClient(sim.client);
    efs = new EFSClient(sim.client);
    logs = new CloudWatchLogsClient(sim.client);
    ec2 = new EC2Client(sim.client);
    await ecs.send(new CreateClusterCommand({ clusterName: "res" }));
  });
  after(async () => {
    ecs.destroy();
    efs.destroy();
    logs.destroy();
    ec2.destroy();
    await sim.cleanup();
    const left = await docker.listContainers({ all: true, filters: { label: [LABEL_TASK] } });
    await Promise.all(
      left
        .filter((c) => started.has(c.Labels[LABEL_TASK]))
        .map((c) => docker.getContainer(c.Id).remove({ force: true })),
    );
  });

  /** An EC2 (bridge mode) task definition with one busybox container logging to /ecs/<family>. */
  async function ec2Def(
    family: string,
    container: Partial<ContainerDefinition>,
    extra: Partial<RegisterTaskDefinitionCommandInput> = {},
  ) {
    const out = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family,
        ...extra,
        containerDefinitions: [
          {
            name: "main",
            image: BUSYBOX,
            memory: 64,
            logConfiguration: {
              logDriver: "awslogs",
              options: {
                "awslogs-group": `/ecs/${family}`,
                "awslogs-stream-prefix": "ecs",
                "awslogs-create-group": "true",
              },
            },
            ...container,
          },
        ],
      }),
    );
    return out.taskDefinition!;
  }

  async function runTask(input: Partial<RunTaskCommandInput>): Promise<Task> {
    const out = await ecs.send(
      new RunTaskCommand({ cluster: "res", launchType: "EC2", ...input } as RunTaskCommandInput),
    );
    assert.deepEqual(out.failures, []);
    for (const t of out.tasks!) started.add(taskId(t.taskArn!));
    return out.tasks![0];
  }

  async function until(arn: string, status: string): Promise<Task> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const d = await ecs.send(new DescribeTasksCommand({ cluster: "res", tasks: [arn] }));
      const t = d.tasks![0];
      if (t.lastStatus === status) return t;
      if (Date.now() > deadline) assert.fail(`task ${arn} still ${t.lastStatus}, wanted ${status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function logLines(family: string, arn: string): Promise<string[]> {
    const out = await logs.send(
      new GetLogEventsCommand({
        logGroupName: `/ecs/${family}`,
        logStreamName: `ecs/main/${taskId(arn)}`,
        startFromHead: true,
      }),
    );
    return out.events!.map((e) => e.message!);
  }

  it("mounts EFS volumes: one task writes, the next reads (rootDirectory, readOnly), access points", async () => {
    const fs = await efs.send(new CreateFileSystemCommand({ CreationToken: "ecs-share" }));
    const fsId = fs.FileSystemId!;
    const volume = (name: string, cfg: Record<string, unknown> = {}) => ({
      name,
      efsVolumeConfiguration: { fileSystemId: fsId, ...cfg },
    });

    await ec2Def(
      "efs-writer",
      {
        command: ["sh", "-c", "mkdir -p /mnt/efs/shared && echo 'from task one' > /mnt/efs/shared/note.txt"],
        mountPoints: [{ sourceVolume: "efs", containerPath: "/mnt/efs" }],
      },
      { volumes: [volume("efs")] },
    );
    const w = await until((await runTask({ taskDefinition: "efs-writer" })).taskArn!, "STOPPED");
    assert.equal(w.containers![0].exitCode, 0, w.stoppedReason);
    // the file is in the file system's directory on the host
    assert.equal(
      readFileSync(path.join(efsHostPath(sim.sim, fsId), "shared", "note.txt"), "utf8"),
      "from task one\n",
    );

    // a second task sees it under rootDirectory, and its read-only mount refuses writes
    await ec2Def(
      "efs-reader",
      {
        command: [
          "sh",
          "-c",
          "cat /data/note.txt; if echo x > /data/other.txt; then echo wrote; else echo refused; fi",
        ],
        mountPoints: [{ sourceVolume: "efs", containerPath: "/data", readOnly: true }],
      },
      { volumes: [volume("efs", { rootDirectory: "/shared" })] },
    );
    const r = await until((await runTask({ taskDefinition: "efs-reader" })).taskArn!, "STOPPED");
    assert.equal(r.containers![0].exitCode, 0, r.stoppedReason);
    assert.deepEqual((await logLines("efs-reader", r.taskArn!)).sort(), [
      "from task one",
      "refused",
      "sh: can't create /data/other.txt: Read-only file system",
    ]);
    assert.ok(!existsSync(path.join(efsHostPath(sim.sim, fsId), "shared", "other.txt")));

    // an access point's root directory is the mount's root
    const ap = await efs.send(
      new CreateAccessPointCommand({
        FileSystemId: fsId,
        RootDirectory: {
          Path: "/apps/one",
          CreationInfo: { OwnerUid: 0, OwnerGid: 0, Permissions: "755" },
        },
      }),
    );
    await ec2Def(
      "efs-ap",
      {
        command: ["sh", "-c", "echo via-ap > /ap/file.txt; ls /ap"],
        mountPoints: [{ sourceVolume: "efs", containerPath: "/ap" }],
      },
      {
        volumes: [
          volume("efs", {
            transitEncryption: "ENABLED",
            authorizationConfig: { accessPointId: ap.AccessPointId, iam: "ENABLED" },
          }),
        ],
      },
    );
    const a = await until((await runTask({ taskDefinition: "efs-ap" })).taskArn!, "STOPPED");
    assert.equal(a.containers![0].exitCode, 0, a.stoppedReason);
    assert.deepEqual(await logLines("efs-ap", a.taskArn!), ["file.txt"]);
    assert.equal(
      readFileSync(path.join(efsHostPath(sim.sim, fsId), "apps", "one", "file.txt"), "utf8"),
      "via-ap\n",
    );

    // ECS's own rules for access points
    await assert.rejects(
      ec2Def(
        "efs-bad",
        { mountPoints: [{ sourceVolume: "efs", containerPath: "/x" }] },
        {
          volumes: [
            volume("efs", {
              rootDirectory: "/shared",
              transitEncryption: "ENABLED",
              authorizationConfig: { accessPointId: ap.AccessPointId },
            }),
          ],
        },
      ),
      (e: any) => e.name === "ClientException" && /root directory must either be set to "\/"/.test(e.message),
    );
    await assert.rejects(
      ec2Def(
        "efs-bad",
        { mountPoints: [{ sourceVolume: "efs", containerPath: "/x" }] },
        { volumes: [volume("efs", { authorizationConfig: { accessPointId: ap.AccessPointId } })] },
      ),
      (e: any) => e.name === "ClientException" && /Transit encryption must be enabled/.test(e.message),
    );
  });

  it("fails tasks whose EFS file system or root directory does not exist: TaskFailedToStart", async () => {
    await ec2Def(
      "efs-ghost",
      { command: ["true"], mountPoints: [{ sourceVolume: "efs", containerPath: "/mnt" }] },
      { volumes: [{ name: "efs", efsVolumeConfiguration: { fileSystemId: "fs-0123456789abcdef0" } }] },
    );
    const g = await until((await runTask({ taskDefinition: "efs-ghost" })).taskArn!, "STOPPED");
    assert.equal(g.stopCode, "TaskFailedToStart");
    assert.match(
      g.stoppedReason!,
      /^ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: .*fs-0123456789abcdef0 not found/,
    );
    assert.equal(g.containers![0].runtimeId, undefined);

    const fs = await efs.send(new CreateFileSystemCommand({ CreationToken: "ecs-nodir" }));
    await ec2Def(
      "efs-nodir",
      { command: ["true"], mountPoints: [{ sourceVolume: "efs", containerPath: "/mnt" }] },
      {
        volumes: [
          {
            name: "efs",
            efsVolumeConfiguration: { fileSystemId: fs.FileSystemId, rootDirectory: "/missing" },
          },
        ],
      },
    );
    const n = await until((await runTask({ taskDefinition: "efs-nodir" })).taskArn!, "STOPPED");
    assert.equal(n.stopCode, "TaskFailedToStart");
    assert.match(
      n.stoppedReason!,
      /ResourceInitializationError: .*\/missing failed.*No such file or directory/,
    );
  });

  it("places awsvpc tasks in EC2 subnets: an address of the subnet's CIDR on a real ENI, released at stop", async () => {
    const vpc = (
      await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "is-default", Values: ["true"] }] }))
    ).Vpcs![0];
    const subnet = (
      await ec2.send(
        new CreateSubnetCommand({
          VpcId: vpc.VpcId,
          CidrBlock: "172.31.200.0/28",
          AvailabilityZone: "us-east-1c",
        }),
      )
    ).Subnet!;
    const sg = (
      await ec2.send(
        new DescribeSecurityGroupsCommand({
          Filters: [
            { Name: "vpc-id", Values: [vpc.VpcId!] },
            { Name: "group-name", Values: ["default"] },
          ],
        }),
      )
    ).SecurityGroups![0];
    await ec2Def("vpc-task", { command: ["sleep", "300"], stopTimeout: 1 }, { networkMode: "awsvpc" });
    const task = await runTask({
      taskDefinition: "vpc-task",
      networkConfiguration: { awsvpcConfiguration: { subnets: [subnet.SubnetId!] } },
    });
    const d = Object.fromEntries(task.attachments![0].details!.map((x) => [x.name, x.value]));
    assert.equal(d.subnetId, subnet.SubnetId);
    // the first four addresses of a subnet are AWS's
    assert.equal(d.privateIPv4Address, "172.31.200.4");
    assert.equal(d.privateDnsName, "ip-172-31-200-4.ec2.internal");
    assert.equal(task.availabilityZone, "us-east-1c");
    await until(task.taskArn!, "RUNNING");
    const [eni] = (
      await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [d.networkInterfaceId!] }))
    ).NetworkInterfaces!;
    assert.equal(eni.PrivateIpAddress, d.privateIPv4Address);
    assert.equal(eni.MacAddress, d.macAddress);
    assert.equal(eni.SubnetId, subnet.SubnetId);
    // no securityGroups: the VPC's default group
    assert.deepEqual(
      eni.Groups!.map((g) => g.GroupId),
      [sg.GroupId],
    );

    await ecs.send(new StopTaskCommand({ cluster: "res", task: task.taskArn! }));
    await until(task.taskArn!, "STOPPED");
    const left = await ec2.send(
      new DescribeNetworkInterfacesCommand({ Filters: [{ Name: "subnet-id", Values: [subnet.SubnetId!] }] }),
    );
    assert.deepEqual(left.NetworkInterfaces, []);
  });

  it("awslogs: a missing log group fails the task unless awslogs-create-group is true", async () => {
    const def = (family: string, createGroup?: string) =>
      ec2Def(family, {
        command: ["echo", `hello from ${family}`],
        logConfiguration: {
          logDriver: "awslogs",
          options: {
            "awslogs-group": `/ecs/${family}`,
            "awslogs-stream-prefix": "ecs",
            ...(createGroup ? { "awslogs-create-group": createGroup } : {}),
          },
        },
      });
    const groupExists = async (name: string) =>
      !!(await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }))).logGroups!.some(
        (g) => g.logGroupName === name,
      );

    // no group, no permission to create it: the driver cannot start, the task never runs
    await def("logs-missing");
    const m = await until((await runTask({ taskDefinition: "logs-missing" })).taskArn!, "STOPPED");
    assert.equal(m.stopCode, "TaskFailedToStart");
    assert.equal(
      m.stoppedReason,
      "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. : exit status 1",
    );
    assert.equal(m.containers![0].exitCode, undefined);
    assert.equal(m.startedAt, undefined);
    assert.equal(await groupExists("/ecs/logs-missing"), false);

    // "false" is the default
    await def("logs-false", "false");
    const f = await until((await runTask({ taskDefinition: "logs-false" })).taskArn!, "STOPPED");
    assert.equal(f.stopCode, "TaskFailedToStart");
    assert.match(f.stoppedReason!, /The specified log group does not exist/);

    // a group made beforehand is used as is
    await logs.send(new CreateLogGroupCommand({ logGroupName: "/ecs/logs-made" }));
    await def("logs-made");
    const ok = await until((await runTask({ taskDefinition: "logs-made" })).taskArn!, "STOPPED");
    assert.equal(ok.containers![0].exitCode, 0, ok.stoppedReason);
    assert.deepEqual(await logLines("logs-made", ok.taskArn!), ["hello from logs-made"]);

    // awslogs-create-group: the driver creates the group, and the stream at start
    await def("logs-create", "true");
    const c = await until((await runTask({ taskDefinition: "logs-create" })).taskArn!, "STOPPED");
    assert.equal(c.containers![0].exitCode, 0, c.stoppedReason);
    assert.equal(await groupExists("/ecs/logs-create"), true);
    const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: "/ecs/logs-create" }));
    assert.deepEqual(
      streams.logStreams!.map((x) => x.logStreamName),
      [`ecs/main/${taskId(c.taskArn!)}`],
    );
    assert.deepEqual(await logLines("logs-create", c.taskArn!), ["hello from logs-create"]);
  });
});
