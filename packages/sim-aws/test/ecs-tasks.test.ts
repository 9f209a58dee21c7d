import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import {
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { CreateRepositoryCommand, ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import {
  type ContainerDefinition,
  CreateClusterCommand,
  DeleteClusterCommand,
  DescribeClustersCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTagsForResourceCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  RunTaskCommand,
  type RunTaskCommandInput,
  StartTaskCommand,
  StopTaskCommand,
  TagResourceCommand,
  type Task,
  UntagResourceCommand,
  waitUntilTasksRunning,
  waitUntilTasksStopped,
} from "@aws-sdk/client-ecs";
import Docker from "dockerode";
import { startAwsSimulator } from "../src/index.js";
import { BUSYBOX, REGISTRY, dockerHost, startSim, type TestSim } from "./helpers.js";

/** Tasks that really run in the Docker Engine: exit codes, overrides, stop, pull failures, logs, metadata, restarts. */

const LABEL_TASK = "sockerless.sim-aws.ecs.task-id";
const EXEC_ROLE = "arn:aws:iam::000000000000:role/ecsTaskExecutionRole";
/** The network of awsvpc tasks: a default subnet and the default security group of the default VPC (set in before). */
let NET: {
  awsvpcConfiguration: { subnets: string[]; securityGroups: string[]; assignPublicIp: "ENABLED" };
};
let SUBNET: { id: string; cidr: string };
const run = promisify(execFile);

function engine(): Docker {
  const h = dockerHost();
  return h.startsWith("unix://")
    ? new Docker({ socketPath: h.slice(7) })
    : new Docker({ host: new URL(h).hostname, port: Number(new URL(h).port) });
}

const taskId = (arn: string) => arn.split("/").pop()!;

describe("ECS tasks in the engine", { concurrency: true }, () => {
  let sim: TestSim;
  let ecs: ECSClient;
  let logs: CloudWatchLogsClient;
  const docker = engine();
  const started = new Set<string>();

  before(async () => {
    sim = await startSim();
    ecs = new ECSClient(sim.client);
    logs = new CloudWatchLogsClient(sim.client);
    const ec2 = new EC2Client(sim.client);
    const subnets = await ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: "default-for-az", Values: ["true"] }] }),
    );
    const s = subnets.Subnets!.find((x) => x.AvailabilityZone === "us-east-1a")!;
    const groups = await ec2.send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: "vpc-id", Values: [s.VpcId!] },
          { Name: "group-name", Values: ["default"] },
        ],
      }),
    );
    ec2.destroy();
    SUBNET = { id: s.SubnetId!, cidr: s.CidrBlock! };
    NET = {
      awsvpcConfiguration: {
        subnets: [SUBNET.id],
        securityGroups: [groups.SecurityGroups![0].GroupId!],
        assignPublicIp: "ENABLED",
      },
    };
    await ecs.send(new CreateClusterCommand({ clusterName: "work" }));
  });
  after(async () => {
    ecs.destroy();
    logs.destroy();
    await sim.cleanup();
    // whatever a failed test left behind in the engine
    const left = await docker.listContainers({ all: true, filters: { label: [LABEL_TASK] } });
    await Promise.all(
      left
        .filter((c) => started.has(c.Labels[LABEL_TASK]))
        .map((c) => docker.getContainer(c.Id).remove({ force: true })),
    );
  });

  /** A Fargate task definition with one busybox container shipping to awslogs. */
  async function fargateDef(
    family: string,
    container: Partial<ContainerDefinition>,
    extra: Partial<RegisterTaskDefinitionCommandInput> = {},
  ) {
    const out = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family,
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: "256",
        memory: "512",
        executionRoleArn: EXEC_ROLE,
        ...extra,
        containerDefinitions: [
          {
            name: "main",
            image: BUSYBOX,
            logConfiguration: {
              logDriver: "awslogs",
              options: {
                "awslogs-group": `/ecs/${family}`,
                "awslogs-stream-prefix": "ecs",
                "awslogs-region": "us-east-1",
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

  async function runTask(input: Partial<RunTaskCommandInput>): Promise<Task[]> {
    const out = await ecs.send(
      new RunTaskCommand({
        cluster: "work",
        launchType: "FARGATE",
        networkConfiguration: NET,
        ...input,
      } as RunTaskCommandInput),
    );
    assert.deepEqual(out.failures, []);
    for (const t of out.tasks!) started.add(taskId(t.taskArn!));
    return out.tasks!;
  }

  async function describe1(arn: string, cluster = "work"): Promise<Task> {
    const d = await ecs.send(new DescribeTasksCommand({ cluster, tasks: [arn], include: ["TAGS"] }));
    return d.tasks![0];
  }

  /** Poll DescribeTasks until the task reaches a status (every 100 ms, 30 s at most). */
  async function until(arn: string, status: string, cluster = "work"): Promise<Task> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const t = await describe1(arn, cluster);
      if (t.lastStatus === status) return t;
      if (Date.now() > deadline) assert.fail(`task ${arn} still ${t.lastStatus}, wanted ${status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function logLines(group: string, stream: string): Promise<string[]> {
    const out = await logs.send(
      new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true }),
    );
    return out.events!.map((e) => e.message!);
  }

  it("runs a task to its real exit code: PROVISIONING -> RUNNING -> STOPPED, EssentialContainerExited", async () => {
    const td = await fargateDef("exit3", { command: ["sh", "-c", "echo hi; echo oops >&2; exit 3"] });
    const [task] = await runTask({
      taskDefinition: td.taskDefinitionArn,
      startedBy: "test-exit",
      group: "g1",
    });
    assert.equal(task.lastStatus, "PROVISIONING");
    assert.equal(task.desiredStatus, "RUNNING");
    assert.equal(task.group, "g1");
    assert.equal(task.launchType, "FARGATE");
    assert.match(task.taskArn!, /^arn:aws:ecs:us-east-1:000000000000:task\/work\/[0-9a-f]{32}$/);
    assert.equal(task.containers![0].lastStatus, "PENDING");
    assert.equal(task.attachments![0].status, "PRECREATED");

    // the SDK's own waiter terminates on the simulator's states
    await waitUntilTasksStopped(
      { client: ecs, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
      { cluster: "work", tasks: [task.taskArn!] },
    );
    const t = await describe1(task.taskArn!);
    assert.equal(t.lastStatus, "STOPPED");
    assert.equal(t.desiredStatus, "STOPPED");
    assert.equal(t.stopCode, "EssentialContainerExited");
    assert.equal(t.stoppedReason, "Essential container in task exited");
    const c = t.containers![0];
    assert.equal(c.exitCode, 3);
    assert.equal(c.lastStatus, "STOPPED");
    assert.equal(c.image, BUSYBOX);
    assert.match(c.runtimeId!, /^[0-9a-f]{64}$/);
    assert.match(c.imageDigest!, /^sha256:/);
    // timestamps in lifecycle order
    const order = [t.createdAt, t.pullStartedAt, t.pullStoppedAt, t.startedAt, t.stoppingAt, t.stoppedAt].map(
      (d) => d!.getTime(),
    );
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
    );
    assert.ok(t.executionStoppedAt);
    // the ENI: a private address from the subnet's block
    const eni = t.attachments![0];
    assert.equal(eni.type, "ElasticNetworkInterface");
    assert.equal(eni.status, "DELETED");
    const details = Object.fromEntries(eni.details!.map((d) => [d.name, d.value]));
    assert.equal(details.subnetId, SUBNET.id);
    assert.match(details.networkInterfaceId!, /^eni-[0-9a-f]{17}$/);
    assert.match(details.macAddress!, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    // the default subnet of us-east-1a is 172.31.0.0/20; AWS reserves its first four addresses
    assert.equal(SUBNET.cidr, "172.31.0.0/20");
    assert.match(details.privateIPv4Address!, /^172\.31\.([0-9]|1[0-5])\.\d+$/);
    assert.notEqual(details.privateIPv4Address, "172.31.0.1");
    assert.equal(t.availabilityZone, "us-east-1a");
    // the network interface went back to EC2 with the task
    const ec2 = new EC2Client(sim.client);
    await assert.rejects(
      ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [details.networkInterfaceId!] })),
      (e: any) => e.name === "InvalidNetworkInterfaceID.NotFound",
    );
    ec2.destroy();
    assert.equal(c.networkInterfaces![0].privateIpv4Address, details.privateIPv4Address);

    // stdout and stderr, line by line, through CloudWatch Logs (their relative order is the engine's)
    assert.deepEqual((await logLines("/ecs/exit3", `ecs/main/${taskId(task.taskArn!)}`)).sort(), [
      "hi",
      "oops",
    ]);
    // the engine container is gone once the task stopped
    await assert.rejects(docker.getContainer(c.runtimeId!).inspect(), (e: any) => e.statusCode === 404);
  });

  it("applies container overrides to command and environment", async () => {
    await fargateDef("overrides", {
      command: ["echo", "from-definition"],
      environment: [
        { name: "BASE", value: "base" },
        { name: "FOO", value: "definition" },
      ],
      workingDirectory: "/etc",
    });
    const [task] = await runTask({
      taskDefinition: "overrides",
      overrides: {
        containerOverrides: [
          {
            name: "main",
            command: ["sh", "-c", 'echo "$FOO-$BASE-$EXTRA in $(pwd)"'],
            environment: [
              { name: "FOO", value: "override" },
              { name: "EXTRA", value: "x" },
            ],
          },
        ],
      },
    });
    assert.deepEqual(task.overrides?.containerOverrides?.[0].command, [
      "sh",
      "-c",
      'echo "$FOO-$BASE-$EXTRA in $(pwd)"',
    ]);
    const t = await until(task.taskArn!, "STOPPED");
    assert.equal(t.containers![0].exitCode, 0);
    assert.deepEqual(await logLines("/ecs/overrides", `ecs/main/${taskId(task.taskArn!)}`), [
      "override-base-x in /etc",
    ]);
  });

  it("stops a running task: SIGTERM, SIGKILL after stopTimeout, exit code and reason recorded", async () => {
    // sleep as PID 1 ignores SIGTERM, so the engine kills it after stopTimeout
    const stubborn = await fargateDef("sleeper", { command: ["sleep", "300"], stopTimeout: 2 });
    // this one exits on SIGTERM
    const polite = await fargateDef("polite", {
      command: ["sh", "-c", "trap 'echo bye; exit 143' TERM; sleep 300 & wait"],
    });
    const [a] = await runTask({ taskDefinition: stubborn.taskDefinitionArn });
    const [b] = await runTask({ taskDefinition: polite.taskDefinitionArn });
    await waitUntilTasksRunning(
      { client: ecs, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
      { cluster: "work", tasks: [a.taskArn!, b.taskArn!] },
    );

    const running = await describe1(a.taskArn!);
    assert.equal(running.containers![0].lastStatus, "RUNNING");
    const counts = await ecs.send(new DescribeClustersCommand({ clusters: ["work"] }));
    assert.ok(counts.clusters![0].runningTasksCount! >= 2);
    await assert.rejects(
      ecs.send(new DeleteClusterCommand({ cluster: "work" })),
      (e: any) => e.name === "ClusterContainsTasksException",
    );

    const t0 = Date.now();
    const stop = await ecs.send(
      new StopTaskCommand({ cluster: "work", task: a.taskArn, reason: "done testing" }),
    );
    assert.equal(stop.task?.desiredStatus, "STOPPED");
    assert.equal(stop.task?.lastStatus, "RUNNING");
    await ecs.send(new StopTaskCommand({ cluster: "work", task: taskId(b.taskArn!) }));

    const sa = await until(a.taskArn!, "STOPPED");
    assert.ok(Date.now() - t0 >= 1500, "SIGKILL came only after the stop timeout");
    assert.equal(sa.stopCode, "UserInitiated");
    assert.equal(sa.stoppedReason, "done testing");
    assert.equal(sa.containers![0].exitCode, 137);
    const sb = await until(b.taskArn!, "STOPPED");
    assert.equal(sb.stoppedReason, "Task stopped by user");
    assert.equal(sb.containers![0].exitCode, 143);
    assert.deepEqual(await logLines("/ecs/polite", `ecs/main/${taskId(b.taskArn!)}`), ["bye"]);
  });

  it("fails a task whose image cannot be pulled: TaskFailedToStart, CannotPullContainerError", async () => {
    const td = await fargateDef("badimage", { image: `${REGISTRY}/no-such-image:nope` });
    const [task] = await runTask({ taskDefinition: td.taskDefinitionArn });
    const t = await until(task.taskArn!, "STOPPED");
    assert.equal(t.stopCode, "TaskFailedToStart");
    assert.match(t.stoppedReason!, /^CannotPullContainerError: .*no-such-image/);
    assert.match(t.containers![0].reason!, /^CannotPullContainerError/);
    assert.equal(t.containers![0].exitCode, undefined);
    assert.equal(t.startedAt, undefined);
  });

  it("serves the task metadata endpoint v4 (and credentials) to the task itself", async () => {
    const td = await fargateDef(
      "metadata",
      {
        // the agent, like ECS's, marks the container RUNNING once the engine's start call returns
        command: [
          "sh",
          "-c",
          'sleep 0.5; timeout 5 wget -qO- "$ECS_CONTAINER_METADATA_URI_V4/task"; echo; timeout 5 wget -qO- "$ECS_CONTAINER_METADATA_URI_V4"; echo; timeout 5 wget -qO- "$AWS_CONTAINER_CREDENTIALS_FULL_URI"; echo; echo "region=$AWS_REGION/$AWS_DEFAULT_REGION v3=$ECS_CONTAINER_METADATA_URI"; grep ^nameserver /etc/resolv.conf',
        ],
      },
      { taskRoleArn: "arn:aws:iam::000000000000:role/app" },
    );
    const [task] = await runTask({
      taskDefinition: td.taskDefinitionArn,
      tags: [{ key: "team", value: "meta" }],
    });
    const t = await until(task.taskArn!, "STOPPED");
    assert.equal(t.containers![0].exitCode, 0);
    const [taskJson, containerJson, creds, env, nameserver] = await logLines(
      "/ecs/metadata",
      `ecs/main/${taskId(task.taskArn!)}`,
    );
    const meta = JSON.parse(taskJson);
    assert.equal(meta.TaskARN, task.taskArn);
    assert.equal(meta.Cluster, "arn:aws:ecs:us-east-1:000000000000:cluster/work");
    assert.equal(meta.Family, "metadata");
    assert.equal(meta.Revision, "1");
    assert.equal(meta.KnownStatus, "RUNNING");
    assert.equal(meta.LaunchType, "FARGATE");
    assert.deepEqual(meta.Limits, { CPU: 0.25, Memory: 512 });
    assert.equal(meta.Containers[0].Name, "main");
    const container = JSON.parse(containerJson);
    assert.equal(container.Name, "main");
    assert.equal(container.Image, BUSYBOX);
    assert.equal(container.DockerId, t.containers![0].runtimeId);
    assert.equal(container.KnownStatus, "RUNNING");
    assert.equal(container.Labels["com.amazonaws.ecs.task-arn"], task.taskArn);
    assert.equal(container.Networks[0].NetworkMode, "awsvpc");
    assert.equal(container.Networks[0].IPv4SubnetCIDRBlock, SUBNET.cidr);
    assert.equal(
      container.Networks[0].IPv4Addresses[0],
      t.attachments![0].details!.find((d) => d.name === "privateIPv4Address")!.value,
    );
    // the DNS server the metadata names is the one the container asks: its VPC's resolver
    assert.match(container.Networks[0].DomainNameServers[0], /^127\.53\./);
    assert.equal(nameserver, `nameserver ${container.Networks[0].DomainNameServers[0]}`);
    assert.equal(container.LogOptions["awslogs-stream"], `ecs/main/${taskId(task.taskArn!)}`);
    const c = JSON.parse(creds);
    assert.equal(c.RoleArn, "arn:aws:iam::000000000000:role/app");
    assert.match(c.AccessKeyId, /^ASIA/);
    assert.equal(env, `region=us-east-1/us-east-1 v3=${sim.url}/_ecs/v3/${taskId(task.taskArn!)}/main`);
    // from outside too; a stopped task still answers
    const res = await fetch(`${sim.url}/_ecs/v4/${taskId(task.taskArn!)}/main/task`);
    assert.equal(((await res.json()) as any).KnownStatus, "STOPPED");
    assert.equal((await fetch(`${sim.url}/_ecs/v4/${"0".repeat(32)}/main/task`)).status, 404);
  });

  it("runs sidecars: a non-essential exit keeps the task, the essential exit stops the rest", async () => {
    const out = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "sidecars",
        networkMode: "host",
        containerDefinitions: [
          { name: "main", image: BUSYBOX, memory: 32, command: ["sh", "-c", "sleep 5; exit 0"] },
          { name: "quick", image: BUSYBOX, memory: 32, essential: false, command: ["sh", "-c", "exit 7"] },
          {
            name: "lingers",
            image: BUSYBOX,
            memory: 32,
            essential: false,
            command: ["sleep", "300"],
            stopTimeout: 1,
          },
        ],
      }),
    );
    const [task] = await runTask({
      taskDefinition: out.taskDefinition!.taskDefinitionArn,
      launchType: "EC2",
      networkConfiguration: undefined,
    });
    assert.equal(task.launchType, "EC2");
    assert.deepEqual(task.attachments, []);
    // the non-essential container exits while the task keeps running (main lives 5 s: room for a loaded machine)
    const deadline = Date.now() + 10_000;
    let mid: Task;
    do {
      mid = await describe1(task.taskArn!);
      await new Promise((r) => setTimeout(r, 100));
    } while (
      mid.containers!.find((c) => c.name === "quick")!.lastStatus !== "STOPPED" &&
      Date.now() < deadline
    );
    assert.equal(mid.containers!.find((c) => c.name === "quick")!.exitCode, 7);
    assert.equal(mid.lastStatus, "RUNNING");

    const t = await until(task.taskArn!, "STOPPED");
    const codes = Object.fromEntries(t.containers!.map((c) => [c.name, c.exitCode]));
    assert.deepEqual(codes, { main: 0, quick: 7, lingers: 137 });
    assert.equal(t.stopCode, "EssentialContainerExited");
  });

  it("orders containers by dependsOn and shares task volumes between them", async () => {
    const def = (family: string, initCommand: string) =>
      ecs.send(
        new RegisterTaskDefinitionCommand({
          family,
          requiresCompatibilities: ["FARGATE"],
          networkMode: "awsvpc",
          cpu: "256",
          memory: "512",
          executionRoleArn: EXEC_ROLE,
          volumes: [{ name: "data" }],
          containerDefinitions: [
            {
              name: "main",
              image: BUSYBOX,
              command: ["cat", "/data/flag"],
              dependsOn: [{ containerName: "init", condition: "SUCCESS" }],
              mountPoints: [{ sourceVolume: "data", containerPath: "/data" }],
              logConfiguration: {
                logDriver: "awslogs",
                options: {
                  "awslogs-group": `/ecs/${family}`,
                  "awslogs-stream-prefix": "ecs",
                  "awslogs-create-group": "true",
                },
              },
            },
            {
              name: "init",
              image: BUSYBOX,
              essential: false,
              command: ["sh", "-c", initCommand],
              mountPoints: [{ sourceVolume: "data", containerPath: "/data" }],
            },
          ],
        }),
      );
    await def("deps-ok", "sleep 0.5; echo ready > /data/flag");
    await def("deps-fail", "exit 2");
    const [ok] = await runTask({ taskDefinition: "deps-ok" });
    const [bad] = await runTask({ taskDefinition: "deps-fail" });

    const t = await until(ok.taskArn!, "STOPPED");
    const codes = Object.fromEntries(t.containers!.map((c) => [c.name, c.exitCode]));
    assert.deepEqual(codes, { main: 0, init: 0 });
    assert.deepEqual(await logLines("/ecs/deps-ok", `ecs/main/${taskId(ok.taskArn!)}`), ["ready"]);
    // the task's volume went with it
    await assert.rejects(
      docker.getVolume(`ecs-${taskId(ok.taskArn!)}-data`).inspect(),
      (e: any) => e.statusCode === 404,
    );

    const b = await until(bad.taskArn!, "STOPPED");
    assert.equal(b.stopCode, "TaskFailedToStart");
    assert.match(b.stoppedReason!, /dependency condition SUCCESS on container 'init'.*exited with code 2/);
    const main = b.containers!.find((c) => c.name === "main")!;
    assert.equal(main.exitCode, undefined);
    assert.equal(main.runtimeId, undefined);

    await assert.rejects(
      ecs.send(
        new RegisterTaskDefinitionCommand({
          family: "deps-bad",
          containerDefinitions: [
            {
              name: "a",
              image: BUSYBOX,
              memory: 32,
              dependsOn: [{ containerName: "b", condition: "SUCCESS" }],
            },
            { name: "b", image: BUSYBOX, memory: 32 },
          ],
        }),
      ),
      (e: any) => e.name === "ClientException" && /can not be set on essential container 'b'/.test(e.message),
    );
  });

  it("lists tasks by family, startedBy and desired status, page by page; counts and cluster deletion", async () => {
    await ecs.send(new CreateClusterCommand({ clusterName: "lister" }));
    await fargateDef("lister", { command: ["sleep", "300"], stopTimeout: 2 });
    const out = await ecs.send(
      new RunTaskCommand({
        cluster: "lister",
        taskDefinition: "lister",
        count: 3,
        launchType: "FARGATE",
        networkConfiguration: NET,
        startedBy: "pager",
      }),
    );
    for (const t of out.tasks!) started.add(taskId(t.taskArn!));
    const arns = out.tasks!.map((t) => t.taskArn!);
    // three tasks in one subnet get three addresses
    const ips = new Set(
      out.tasks!.map((t) => t.attachments![0].details!.find((d) => d.name === "privateIPv4Address")!.value),
    );
    assert.equal(ips.size, 3);
    // each is a real network interface in EC2 while the task lives, in the task's security group
    const ec2 = new EC2Client(sim.client);
    const eniIds = out.tasks!.map(
      (t) => t.attachments![0].details!.find((d) => d.name === "networkInterfaceId")!.value!,
    );
    const enis = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: eniIds }));
    assert.deepEqual(new Set(enis.NetworkInterfaces!.map((e) => e.PrivateIpAddress)), ips);
    for (const e of enis.NetworkInterfaces!) {
      assert.equal(e.SubnetId, SUBNET.id);
      assert.deepEqual(
        e.Groups!.map((g) => g.GroupId),
        NET.awsvpcConfiguration.securityGroups,
      );
      const t = out.tasks!.find((x) =>
        x.attachments![0].details!.some(
          (d) => d.name === "networkInterfaceId" && d.value === e.NetworkInterfaceId,
        ),
      )!;
      const d = Object.fromEntries(t.attachments![0].details!.map((x) => [x.name, x.value]));
      assert.equal(e.MacAddress, d.macAddress);
      assert.equal(e.PrivateDnsName, d.privateDnsName);
      assert.equal(e.Description, `arn:aws:ecs:us-east-1:000000000000:attachment/${t.attachments![0].id}`);
    }

    const p1 = await ecs.send(new ListTasksCommand({ cluster: "lister", maxResults: 2 }));
    assert.equal(p1.taskArns!.length, 2);
    const p2 = await ecs.send(
      new ListTasksCommand({ cluster: "lister", maxResults: 2, nextToken: p1.nextToken }),
    );
    assert.equal(p2.nextToken, undefined);
    assert.deepEqual([...p1.taskArns!, ...p2.taskArns!].sort(), [...arns].sort());
    assert.equal(
      (await ecs.send(new ListTasksCommand({ cluster: "lister", family: "lister" }))).taskArns!.length,
      3,
    );
    assert.equal(
      (await ecs.send(new ListTasksCommand({ cluster: "lister", family: "other" }))).taskArns!.length,
      0,
    );
    assert.equal(
      (await ecs.send(new ListTasksCommand({ cluster: "lister", startedBy: "pager" }))).taskArns!.length,
      3,
    );
    assert.equal(
      (await ecs.send(new ListTasksCommand({ cluster: "lister", startedBy: "nobody" }))).taskArns!.length,
      0,
    );
    assert.equal(
      (await ecs.send(new ListTasksCommand({ cluster: "lister", desiredStatus: "STOPPED" }))).taskArns!
        .length,
      0,
    );

    await waitUntilTasksRunning(
      { client: ecs, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
      { cluster: "lister", tasks: arns },
    );
    const c = await ecs.send(new DescribeClustersCommand({ clusters: ["lister"] }));
    assert.equal(c.clusters![0].runningTasksCount, 3);
    await assert.rejects(
      ecs.send(new DeleteClusterCommand({ cluster: "lister" })),
      (e: any) => e.name === "ClusterContainsTasksException",
    );

    await Promise.all(arns.map((task) => ecs.send(new StopTaskCommand({ cluster: "lister", task }))));
    // desired STOPPED at once, though the containers take their stop timeout
    assert.equal((await ecs.send(new ListTasksCommand({ cluster: "lister" }))).taskArns!.length, 0);
    assert.equal(
      (await ecs.send(new ListTasksCommand({ cluster: "lister", desiredStatus: "STOPPED" }))).taskArns!
        .length,
      3,
    );
    for (const a of arns) await until(a, "STOPPED", "lister");
    // their addresses went back to the subnet
    const left = await ec2.send(
      new DescribeNetworkInterfacesCommand({ Filters: [{ Name: "network-interface-id", Values: eniIds }] }),
    );
    assert.deepEqual(left.NetworkInterfaces, []);
    ec2.destroy();
    const deleted = await ecs.send(new DeleteClusterCommand({ cluster: "lister" }));
    assert.equal(deleted.cluster?.status, "INACTIVE");
  });

  it("tags tasks at launch and after, propagating the task definition's tags", async () => {
    const td = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "tagtask",
        containerDefinitions: [{ name: "c", image: BUSYBOX, memory: 32, command: ["true"] }],
        tags: [{ key: "from", value: "definition" }],
      }),
    );
    const [task] = await runTask({
      taskDefinition: td.taskDefinition!.taskDefinitionArn,
      launchType: "EC2",
      networkConfiguration: undefined,
      tags: [{ key: "run", value: "1" }],
      propagateTags: "TASK_DEFINITION",
    });
    const arn = task.taskArn!;
    await ecs.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: "later", value: "yes" }] }));
    await ecs.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ["run"] }));
    const listed = await ecs.send(new ListTagsForResourceCommand({ resourceArn: arn }));
    assert.deepEqual(listed.tags, [
      { key: "from", value: "definition" },
      { key: "later", value: "yes" },
    ]);
    const t = await until(arn, "STOPPED");
    assert.deepEqual(t.tags, listed.tags);
    const noTags = await ecs.send(new DescribeTasksCommand({ cluster: "work", tasks: [arn] }));
    assert.equal(noTags.tasks![0].tags, undefined);
  });

  it("starts tasks on named container instances and runs into the default cluster", async () => {
    const td = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "starter",
        containerDefinitions: [
          {
            name: "c",
            image: BUSYBOX,
            memory: 32,
            command: ["sh", "-c", "exit 4"],
            portMappings: [{ containerPort: 18080 }],
          },
        ],
      }),
    );
    const out = await ecs.send(
      new StartTaskCommand({
        cluster: "work",
        taskDefinition: td.taskDefinition!.taskDefinitionArn,
        containerInstances: ["ci-1"],
      }),
    );
    const task = out.tasks![0];
    started.add(taskId(task.taskArn!));
    assert.equal(
      task.containerInstanceArn,
      "arn:aws:ecs:us-east-1:000000000000:container-instance/work/ci-1",
    );
    const listed = await ecs.send(
      new ListTasksCommand({ cluster: "work", containerInstance: "ci-1", desiredStatus: "RUNNING" }),
    );
    const stoppedList = await ecs.send(
      new ListTasksCommand({ cluster: "work", containerInstance: "ci-1", desiredStatus: "STOPPED" }),
    );
    assert.equal(listed.taskArns!.length + stoppedList.taskArns!.length, 1);
    const t = await until(task.taskArn!, "STOPPED");
    assert.equal(t.containers![0].exitCode, 4);
    assert.deepEqual(t.containers![0].networkBindings, [
      { bindIP: "0.0.0.0", containerPort: 18080, hostPort: 18080, protocol: "tcp" },
    ]);
    await assert.rejects(
      ecs.send(new StartTaskCommand({ cluster: "work", taskDefinition: "starter", containerInstances: [] })),
      (e: any) => e.name === "InvalidParameterException",
    );

    // no cluster: "default", made on first use
    const dflt = await ecs.send(new RunTaskCommand({ taskDefinition: "starter" }));
    started.add(taskId(dflt.tasks![0].taskArn!));
    assert.equal(dflt.tasks![0].clusterArn, "arn:aws:ecs:us-east-1:000000000000:cluster/default");
    await until(dflt.tasks![0].taskArn!, "STOPPED", "default");
  });

  it("reports the engine's health checks as container and task health", async () => {
    const td = await fargateDef("health", {
      command: ["sh", "-c", "touch /tmp/ready; sleep 300"],
      stopTimeout: 1,
      healthCheck: { command: ["CMD-SHELL", "test -f /tmp/ready"], interval: 5, timeout: 2, retries: 1 },
    });
    const [task] = await runTask({
      taskDefinition: td.taskDefinitionArn,
      tags: [{ key: "suite", value: "health" }],
    });
    const deadline = Date.now() + 20_000;
    let t: Task;
    do {
      await new Promise((r) => setTimeout(r, 250));
      t = await describe1(task.taskArn!);
    } while (t.healthStatus !== "HEALTHY" && Date.now() < deadline);
    assert.equal(t.containers![0].healthStatus, "HEALTHY");
    assert.equal(t.healthStatus, "HEALTHY");

    // the rest of the metadata endpoint, while the task runs: stats, tags, v3
    const base = `${sim.url}/_ecs/v4/${taskId(task.taskArn!)}/main`;
    const get = async (url: string) => (await fetch(url)).json() as Promise<any>;
    const stats = await get(`${base}/stats`);
    assert.ok(stats.memory_stats && stats.cpu_stats, JSON.stringify(stats).slice(0, 200));
    const taskStats = await get(`${base}/task/stats`);
    assert.deepEqual(Object.keys(taskStats), [t.containers![0].runtimeId]);
    const withTags = await get(`${base}/taskWithTags`);
    assert.deepEqual(withTags.TaskTags, { suite: "health" });
    const v3 = await get(`${sim.url}/_ecs/v3/${taskId(task.taskArn!)}/main`);
    assert.equal(v3.DockerId, t.containers![0].runtimeId);
    await ecs.send(new StopTaskCommand({ cluster: "work", task: task.taskArn }));
    await until(task.taskArn!, "STOPPED");
    await assert.rejects(
      fargateDef("health-bad", { healthCheck: { command: ["CMD-SHELL", "true"], interval: 1 } }),
      (e: any) => e.name === "ClientException" && /'interval' must be between 5 and 300/.test(e.message),
    );
  });

  it("pulls images from the simulator's ECR with the execution role's token", async () => {
    const ecr = new ECRClient(sim.client);
    const repo = await ecr.send(new CreateRepositoryCommand({ repositoryName: "ecs-test/app" }));
    ecr.destroy();
    const uri = `${repo.repository!.repositoryUri}:v1`;
    assert.ok(uri.startsWith(`${sim.sim.registryHost}/`));
    const [repoName, tag] = [uri.slice(0, uri.lastIndexOf(":")), "v1"];
    await docker.getImage(BUSYBOX).tag({ repo: repoName, tag });
    try {
      const token = await new ECRClient(sim.client).send(new GetAuthorizationTokenCommand({}));
      const [username, password] = Buffer.from(token.authorizationData![0].authorizationToken!, "base64")
        .toString()
        .split(":");
      const stream = await docker
        .getImage(uri)
        .push({ authconfig: { username, password, serveraddress: sim.sim.registryHost } });
      const progress: any[] = await new Promise((res, rej) =>
        docker.modem.followProgress(stream, (e: unknown, out: any[]) => (e ? rej(e) : res(out))),
      );
      assert.ok(!progress.some((p) => p.error), JSON.stringify(progress.find((p) => p.error)));
    } finally {
      // the task must fetch it from the registry, not find it in the engine
      await docker.getImage(uri).remove();
    }

    const withRole = await fargateDef("from-ecr", { image: uri, command: ["sh", "-c", "exit 9"] });
    const [ok] = await runTask({ taskDefinition: withRole.taskDefinitionArn });
    const t = await until(ok.taskArn!, "STOPPED");
    assert.equal(t.containers![0].exitCode, 9, t.stoppedReason);
    // Fargate without an execution role has no credentials for a private registry
    const noRole = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "from-ecr-norole",
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: "256",
        memory: "512",
        containerDefinitions: [{ name: "main", image: uri }],
      }),
    );
    const [denied] = await runTask({ taskDefinition: noRole.taskDefinition!.taskDefinitionArn });
    const d = await until(denied.taskArn!, "STOPPED");
    assert.equal(d.stopCode, "TaskFailedToStart");
    assert.match(d.stoppedReason!, /^CannotPullContainerError: /);
    await docker
      .getImage(uri)
      .remove()
      .catch(() => undefined);
  });

  it("ships a TTY container's lines to a stream named after the engine container without a prefix", async () => {
    const td = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "tty",
        containerDefinitions: [
          {
            name: "c",
            image: BUSYBOX,
            memory: 32,
            pseudoTerminal: true,
            command: ["sh", "-c", "echo one; echo; echo two"],
            logConfiguration: {
              logDriver: "awslogs",
              options: { "awslogs-group": "/ecs/tty", "awslogs-create-group": "true" },
            },
          },
        ],
      }),
    );
    const [task] = await runTask({
      taskDefinition: td.taskDefinition!.taskDefinitionArn,
      launchType: "EC2",
      networkConfiguration: undefined,
    });
    const t = await until(task.taskArn!, "STOPPED");
    // empty lines are skipped, as CloudWatch Logs rejects empty messages
    assert.deepEqual(await logLines("/ecs/tty", t.containers![0].runtimeId!), ["one", "two"]);
  });

  it("without a data dir, removes its task containers on shutdown", async () => {
    const mem = await startAwsSimulator({
      host: "127.0.0.1",
      port: 0,
      dockerHost: dockerHost(),
      account: "000000000000",
      region: "us-east-1",
    });
    const client = new ECSClient({ ...sim.client, endpoint: mem.url });
    try {
      await client.send(
        new RegisterTaskDefinitionCommand({
          family: "mem",
          containerDefinitions: [{ name: "c", image: BUSYBOX, memory: 32, command: ["sleep", "300"] }],
        }),
      );
      const out = await client.send(new RunTaskCommand({ taskDefinition: "mem" }));
      const arn = out.tasks![0].taskArn!;
      started.add(taskId(arn));
      await waitUntilTasksRunning({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { tasks: [arn] });
    } finally {
      client.destroy();
      await mem.close();
    }
    const left = await docker.listContainers({ all: true, filters: { label: [LABEL_TASK] } });
    assert.equal(
      left.filter((c) => c.Labels["com.amazonaws.ecs.task-definition-family"] === "mem").length,
      0,
    );
  });

  it("returns the same tasks for a repeated clientToken", async () => {
    const td = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "token",
        containerDefinitions: [{ name: "c", image: BUSYBOX, memory: 32, command: ["true"] }],
      }),
    );
    const input = {
      cluster: "work",
      taskDefinition: td.taskDefinition!.taskDefinitionArn,
      clientToken: "tok-1",
    };
    const a = await ecs.send(new RunTaskCommand(input));
    started.add(taskId(a.tasks![0].taskArn!));
    const b = await ecs.send(new RunTaskCommand(input));
    assert.equal(b.tasks![0].taskArn, a.tasks![0].taskArn);
    await assert.rejects(
      ecs.send(new RunTaskCommand({ ...input, startedBy: "other" })),
      (e: any) => e.name === "ConflictException",
    );
    await until(a.tasks![0].taskArn!, "STOPPED");
  });

  it("runs the main flow through the aws CLI", async () => {
    const aws = async (...args: string[]) => {
      const { stdout } = await run("aws", ["ecs", ...args, "--output", "json"], {
        env: { ...process.env, ...sim.cliEnv },
      });
      return JSON.parse(stdout);
    };
    await aws("create-cluster", "--cluster-name", "cli");
    const td = await aws(
      "register-task-definition",
      "--cli-input-json",
      JSON.stringify({
        family: "cli",
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: "256",
        memory: "512",
        containerDefinitions: [{ name: "main", image: BUSYBOX, command: ["sh", "-c", "exit 5"] }],
      }),
    );
    assert.equal(td.taskDefinition.revision, 1);
    const ran = await aws(
      "run-task",
      "--cluster",
      "cli",
      "--task-definition",
      "cli",
      "--launch-type",
      "FARGATE",
      "--network-configuration",
      `awsvpcConfiguration={subnets=[${SUBNET.id}],assignPublicIp=DISABLED}`,
      "--overrides",
      JSON.stringify({ containerOverrides: [{ name: "main", command: ["sh", "-c", "exit 6"] }] }),
    );
    const arn = ran.tasks[0].taskArn;
    started.add(taskId(arn));
    assert.equal(ran.tasks[0].lastStatus, "PROVISIONING");
    let t: any;
    for (let i = 0; i < 60; i++) {
      t = (await aws("describe-tasks", "--cluster", "cli", "--tasks", arn)).tasks[0];
      if (t.lastStatus === "STOPPED") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(t.lastStatus, "STOPPED");
    assert.equal(t.containers[0].exitCode, 6);
    assert.equal(t.stopCode, "EssentialContainerExited");
    const listed = await aws("list-tasks", "--cluster", "cli", "--desired-status", "STOPPED");
    assert.deepEqual(listed.taskArns, [arn]);
  });

  it("after a simulator restart, keeps watching running tasks, records exits that happened while down, and notices vanished ones", async () => {
    let own = await startSim();
    let client = new ECSClient(own.client);
    // "exits" waits for a file the test writes once the simulator is down (a host volume)
    const gate = mkdtempSync(path.join(os.tmpdir(), "ecs-gate-"));
    try {
      await client.send(
        new CreateClusterCommand({ clusterName: "durable", tags: [{ key: "k", value: "v" }] }),
      );
      const def = (family: string, command: string[]) =>
        client.send(
          new RegisterTaskDefinitionCommand({
            family,
            networkMode: "host",
            volumes: [{ name: "gate", host: { sourcePath: gate } }],
            containerDefinitions: [
              {
                name: "c",
                image: BUSYBOX,
                memory: 32,
                command,
                stopTimeout: 2,
                mountPoints: [{ sourceVolume: "gate", containerPath: "/gate", readOnly: true }],
              },
            ],
          }),
        );
      await def("keeps", ["sleep", "300"]);
      await def("exits", ["sh", "-c", "until [ -f /gate/go ]; do sleep 0.1; done; exit 5"]);
      await def("vanishes", ["sleep", "300"]);
      const runOne = async (family: string) =>
        (await client.send(new RunTaskCommand({ cluster: "durable", taskDefinition: family }))).tasks![0]
          .taskArn!;
      const [keeps, exits, vanishes] = await Promise.all(["keeps", "exits", "vanishes"].map(runOne));
      for (const arn of [keeps, exits, vanishes]) started.add(taskId(arn));
      await waitUntilTasksRunning(
        { client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
        { cluster: "durable", tasks: [keeps, exits, vanishes] },
      );
      const ids = Object.fromEntries(
        (
          await client.send(new DescribeTasksCommand({ cluster: "durable", tasks: [keeps, exits, vanishes] }))
        ).tasks!.map((t) => [t.taskArn!, t.containers![0].runtimeId!]),
      );

      // down: one container exits meanwhile, another is removed behind the simulator's back
      const port = Number(new URL(own.url).port);
      client.destroy();
      await own.close();
      await docker.getContainer(ids[vanishes]).remove({ force: true });
      writeFileSync(path.join(gate, "go"), "");
      assert.equal((await docker.getContainer(ids[exits]).wait()).StatusCode, 5);
      own = await startSim(own.dataDir, port);
      client = new ECSClient(own.client);

      const cluster = await client.send(
        new DescribeClustersCommand({ clusters: ["durable"], include: ["TAGS"] }),
      );
      assert.deepEqual(cluster.clusters![0].tags, [{ key: "k", value: "v" }]);
      const td = await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: "exits" }));
      assert.equal(td.taskDefinition?.revision, 1);
      const wait = async (arn: string) => {
        for (let i = 0; i < 100; i++) {
          const t = (await client.send(new DescribeTasksCommand({ cluster: "durable", tasks: [arn] })))
            .tasks![0];
          if (t.lastStatus === "STOPPED") return t;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.fail(`${arn} did not stop`);
      };
      const e = await wait(exits);
      assert.equal(e.containers![0].exitCode, 5);
      assert.equal(e.stopCode, "EssentialContainerExited");
      const v = await wait(vanishes);
      assert.match(v.stoppedReason!, /stopped while the simulator was down/);
      assert.equal(v.containers![0].exitCode, undefined);

      const k = (await client.send(new DescribeTasksCommand({ cluster: "durable", tasks: [keeps] })))
        .tasks![0];
      assert.equal(k.lastStatus, "RUNNING");
      // still watched: StopTask works and the exit code is recorded
      await client.send(new StopTaskCommand({ cluster: "durable", task: keeps, reason: "after restart" }));
      const ks = await wait(keeps);
      assert.equal(ks.containers![0].exitCode, 137);
      assert.equal(ks.stoppedReason, "after restart");
      await assert.rejects(docker.getContainer(ids[keeps]).inspect(), (err: any) => err.statusCode === 404);
      await assert.rejects(docker.getContainer(ids[exits]).inspect(), (err: any) => err.statusCode === 404);
    } finally {
      client.destroy();
      await own.cleanup();
      const left = await docker.listContainers({
        all: true,
        filters: {
          label: ["com.amazonaws.ecs.cluster=arn:aws:ecs:us-east-1:000000000000:cluster/durable"],
        },
      });
      await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true })));
      rmSync(gate, { recursive: true, force: true });
    }
  });
});
