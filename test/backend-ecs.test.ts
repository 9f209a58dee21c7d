// `sockerless serve --backend ecs` on the AWS simulator: containers are Fargate tasks that run in
// the reference engine; the docker CLI is the client.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { DescribeTasksCommand, ECSClient, ListTasksCommand } from "@aws-sdk/client-ecs";
import { DiscoverInstancesCommand, ServiceDiscoveryClient } from "@aws-sdk/client-servicediscovery";
import { DescribeAccessPointsCommand, DescribeFileSystemsCommand, EFSClient } from "@aws-sdk/client-efs";
import {
  freePort,
  checkLogsCompleteAtExit,
  injectFaults,
  removeTaskContainers,
  startAwsDaemon,
  startSim,
  useSim,
  type TestSim,
} from "./aws-backend-helpers.js";
import { BUSYBOX, cleanup, docker, dockerOk, until, type Daemon } from "./helpers.js";

const ROLE = "arn:aws:iam::000000000000:role/ecsTaskExecutionRole";
const CLUSTER = "cloud-ecs-test";
let flags: string[];

let sim: TestSim;
let d: Daemon;
const ok = (args: string[], input?: string) => dockerOk(d.host, args, { input, timeoutMs: 120_000 });
const run = (args: string[]) => docker(d.host, args, { timeoutMs: 120_000 });
const inspect = async (name: string, fmt: string) => (await ok(["inspect", "--format", fmt, name])).trim();

before(async () => {
  sim = await startSim();
  useSim(sim);
  // a fixed callback port: agents of running tasks dial the restarted daemon there again
  flags = [
    "--ecs-cluster",
    CLUSTER,
    "--ecs-execution-role-arn",
    ROLE,
    "--agent-listen",
    `127.0.0.1:${await freePort()}`,
  ];
  d = await startAwsDaemon("ecs", flags);
  await ok(["pull", BUSYBOX]);
});
after(async () => {
  await d.stop();
  cleanup(d);
  await sim.cleanup();
  await removeTaskContainers(CLUSTER);
});

describe("ecs backend", () => {
  test("docker run --rm prints the task's output and exits with its real code", async () => {
    const r = await run([
      "run",
      "--rm",
      BUSYBOX,
      "sh",
      "-c",
      "echo hello from ecs; echo to-stderr >&2; exit 3",
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, "hello from ecs\n");
    assert.equal(r.stderr, "to-stderr\n");
  });

  test("run -d, logs -f, wait; the task is a real ECS task", async () => {
    const id = (
      await ok([
        "run",
        "-d",
        "--name",
        "cloud-ecs-logs",
        BUSYBOX,
        "sh",
        "-c",
        "for i in 1 2 3; do echo line $i; sleep 1; done; exit 5",
      ])
    ).trim();
    const follow = await run(["logs", "-f", "cloud-ecs-logs"]);
    assert.equal(follow.stdout, "line 1\nline 2\nline 3\n");
    assert.equal((await ok(["wait", "cloud-ecs-logs"])).trim(), "5");
    assert.equal(await inspect(id, "{{.State.Status}} {{.State.ExitCode}}"), "exited 5");
    const ecs = new ECSClient(sim.client);
    // the agent reports the exit first; ECS marks the task STOPPED right after
    const arns = await until(async () => {
      const l = await ecs.send(
        new ListTasksCommand({
          cluster: CLUSTER,
          family: `sockerless-${id.slice(0, 12)}`,
          desiredStatus: "STOPPED",
        }),
      );
      return l.taskArns?.length === 1 && l.taskArns;
    }, "the task to stop");
    const t = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: arns }))).tasks![0];
    assert.equal(t.containers![0].exitCode, 5);
    await ok(["rm", "cloud-ecs-logs"]);
    assert.equal((await run(["inspect", "cloud-ecs-logs"])).code, 1);
  });

  test("exec, stdin, cp in and out, through the agent in the task", async () => {
    await ok(["run", "-d", "--name", "cloud-ecs-exec", "-e", "FROM_RUN=yes", BUSYBOX, "sleep", "600"]);
    assert.equal(await ok(["exec", "cloud-ecs-exec", "sh", "-c", "echo $FROM_RUN $0; pwd"]), "yes sh\n/\n");
    const r = await run([
      "exec",
      "-w",
      "/tmp",
      "-e",
      "X=1",
      "cloud-ecs-exec",
      "sh",
      "-c",
      "echo $X $(pwd) >&2; exit 4",
    ]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [4, "", "1 /tmp\n"]);
    assert.equal(
      await ok(["exec", "-i", "cloud-ecs-exec", "sh", "-c", "tr a-z A-Z"], "piped stdin\n"),
      "PIPED STDIN\n",
    );
    const missing = await run(["exec", "cloud-ecs-exec", "/no/such/program"]);
    assert.equal(missing.code, 126, missing.stderr);
    assert.match(
      missing.stderr,
      /^OCI runtime exec failed: exec failed: unable to start container process: exec: "\/no\/such\/program": stat \/no\/such\/program: no such file or directory: unknown/,
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), "cloud-ecs-cp-"));
    writeFileSync(path.join(dir, "in.txt"), "copied in\n");
    await ok(["cp", path.join(dir, "in.txt"), "cloud-ecs-exec:/tmp/in.txt"]);
    assert.equal(await ok(["exec", "cloud-ecs-exec", "cat", "/tmp/in.txt"]), "copied in\n");
    await ok(["exec", "cloud-ecs-exec", "sh", "-c", "echo made in the task > /tmp/out.txt"]);
    await ok(["cp", "cloud-ecs-exec:/tmp/out.txt", path.join(dir, "out.txt")]);
    assert.equal(readFileSync(path.join(dir, "out.txt"), "utf8"), "made in the task\n");
    rmSync(dir, { recursive: true, force: true });
    await ok(["rm", "-f", "cloud-ecs-exec"]);
  });

  test("stop and kill reach the main process through the agent", async () => {
    await ok(["run", "-d", "--name", "cloud-ecs-stop", BUSYBOX, "sleep", "600"]);
    assert.equal(await inspect("cloud-ecs-stop", "{{.State.Running}}"), "true");
    await ok(["stop", "-t", "1", "cloud-ecs-stop"]);
    // the agent applies PID 1's rule: sleep has no TERM handler, so only the SIGKILL after the
    // timeout ends it, as on dockerd (137)
    assert.equal(await inspect("cloud-ecs-stop", "{{.State.Status}} {{.State.ExitCode}}"), "exited 137");
    await ok(["start", "cloud-ecs-stop"]);
    await ok(["kill", "cloud-ecs-stop"]);
    assert.equal((await ok(["wait", "cloud-ecs-stop"])).trim(), "137");
    await ok(["rm", "cloud-ecs-stop"]);
    // a program that handles TERM gets it
    await ok([
      "run",
      "-d",
      "--name",
      "cloud-ecs-stop",
      BUSYBOX,
      "sh",
      "-c",
      "trap 'exit 42' TERM; while true; do sleep 0.1; done",
    ]);
    await ok(["stop", "-t", "20", "cloud-ecs-stop"]);
    assert.equal(await inspect("cloud-ecs-stop", "{{.State.Status}} {{.State.ExitCode}}"), "exited 42");
    await ok(["rm", "cloud-ecs-stop"]);
  });

  test("a named volume is an EFS access point that tasks share; volume rm deletes it", async () => {
    await ok(["run", "--rm", "-v", "cloud-ecs-vol:/data", BUSYBOX, "sh", "-c", "echo kept > /data/f"]);
    assert.equal(
      await ok(["run", "--rm", "-v", "cloud-ecs-vol:/data:ro", BUSYBOX, "cat", "/data/f"]),
      "kept\n",
    );
    const efs = new EFSClient(sim.client);
    const fsId = (await efs.send(new DescribeFileSystemsCommand({ CreationToken: `sockerless-${CLUSTER}` })))
      .FileSystems![0].FileSystemId!;
    const points = async () =>
      (await efs.send(new DescribeAccessPointsCommand({ FileSystemId: fsId }))).AccessPoints!.filter((a) =>
        a.Tags?.some((t) => t.Key === "sockerless-volume" && t.Value === "cloud-ecs-vol"),
      ).length;
    assert.equal(await points(), 1);
    await ok(["volume", "rm", "cloud-ecs-vol"]);
    assert.equal(await points(), 0);
    assert.equal(await ok(["run", "--rm", "-v", "cloud-ecs-vol:/data", BUSYBOX, "ls", "/data"]), "");
  });

  test("a container's names on a Docker network are Cloud Map names of its task's address", async () => {
    await ok(["network", "create", "cloud-ecs-net"]);
    await ok([
      "run",
      "-d",
      "--name",
      "cloud-ecs-web",
      "--network",
      "cloud-ecs-net",
      "--network-alias",
      "web",
      BUSYBOX,
      "sleep",
      "600",
    ]);
    const sd = new ServiceDiscoveryClient({ ...sim.client, disableHostPrefix: true });
    const discover = async (name: string) =>
      (
        await sd.send(
          new DiscoverInstancesCommand({
            NamespaceName: `cloud-ecs-net.${CLUSTER}.sockerless`,
            ServiceName: name,
          }),
        )
      ).Instances!.map((i) => i.Attributes!.AWS_INSTANCE_IPV4);
    const ecs = new ECSClient(sim.client);
    const id = await inspect("cloud-ecs-web", "{{.Id}}");
    const arn = (
      await ecs.send(new ListTasksCommand({ cluster: CLUSTER, family: `sockerless-${id.slice(0, 12)}` }))
    ).taskArns![0];
    const task = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [arn] }))).tasks![0];
    const ip = task.attachments![0].details!.find((d) => d.name === "privateIPv4Address")!.value;
    assert.deepEqual(await discover("web"), [ip]);
    assert.deepEqual(await discover("cloud-ecs-web"), [ip]);
    await ok(["rm", "-f", "cloud-ecs-web"]);
    await assert.rejects(discover("web"), /ServiceNotFound|not found/i);
    await ok(["network", "rm", "cloud-ecs-net"]);
  });

  test("containers on one Docker network resolve each other by DNS inside their tasks", async () => {
    await ok(["network", "create", "cloud-ecs-dns"]);
    await ok([
      "run",
      "-d",
      "--name",
      "cloud-ecs-b",
      "--network",
      "cloud-ecs-dns",
      "--network-alias",
      "bee",
      BUSYBOX,
      "sleep",
      "600",
    ]);
    // a network joined between create and start counts too (a new task definition revision)
    await ok(["network", "create", "cloud-ecs-dns2"]);
    await ok(["create", "--name", "cloud-ecs-a", "--network", "cloud-ecs-dns", BUSYBOX, "sleep", "600"]);
    await ok(["network", "connect", "cloud-ecs-dns2", "cloud-ecs-a"]);
    await ok(["start", "cloud-ecs-a"]);
    const ecs = new ECSClient(sim.client);
    const id = await inspect("cloud-ecs-b", "{{.Id}}");
    const arn = (
      await ecs.send(new ListTasksCommand({ cluster: CLUSTER, family: `sockerless-${id.slice(0, 12)}` }))
    ).taskArns![0];
    const task = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [arn] }))).tasks![0];
    const ip = task.attachments![0].details!.find((d) => d.name === "privateIPv4Address")!.value!;
    const zone = `cloud-ecs-dns.${CLUSTER}.sockerless`;
    // the agent put the network's namespace on the search line; the VPC resolver answers it
    assert.match(
      await ok(["exec", "cloud-ecs-a", "cat", "/etc/resolv.conf"]),
      new RegExp(`^search ${zone} cloud-ecs-dns2\\.${CLUSTER}\\.sockerless\\b`, "m"),
    );
    const lookup = (name: string) => run(["exec", "cloud-ecs-a", "nslookup", name]);
    const answer = (name: string) =>
      new RegExp(`Name:\\s+${name.replace(/\./g, "\\.")}\\s+Address:\\s+${ip.replace(/\./g, "\\.")}\\s`);
    const fqdn = await lookup(`cloud-ecs-b.${zone}`);
    assert.equal(fqdn.code, 0, fqdn.stdout + fqdn.stderr);
    assert.match(fqdn.stdout, answer(`cloud-ecs-b.${zone}`));
    // short names: busybox's nslookup asks every search domain and prints each answer (its exit
    // code is 1 here, as cloud-ecs-dns2 has no such name, where getaddrinfo would stop at the first)
    for (const name of ["cloud-ecs-b", "bee", id.slice(0, 12)]) {
      const r = await lookup(name);
      assert.match(r.stdout, answer(`${name}.${zone}`), r.stdout + r.stderr);
    }
    await ok(["rm", "-f", "cloud-ecs-b"]);
    const gone = await lookup(`cloud-ecs-b.${zone}`);
    assert.notEqual(gone.code, 0, gone.stdout);
    assert.match(gone.stdout, /NXDOMAIN/);
    const short = (await lookup("cloud-ecs-b")).stdout;
    assert.ok(!short.includes(ip), short);
    await ok(["rm", "-f", "cloud-ecs-a"]);
    await ok(["network", "rm", "cloud-ecs-dns", "cloud-ecs-dns2"]);
  });

  test("a bind mount of a daemon host path answers 501", async () => {
    const r = await run(["create", "-v", "/tmp:/host", BUSYBOX, "true"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /bind mounts are not supported by the ecs backend/);
  });

  test("a command that does not exist fails docker start like dockerd", async () => {
    const r = await run(["run", "--name", "cloud-ecs-bad", BUSYBOX, "/no/such/binary"]);
    assert.equal(r.code, 127, r.stderr);
    assert.match(r.stderr, /OCI runtime create failed: .*no such file or directory/);
    await ok(["rm", "-f", "cloud-ecs-bad"]);
  });

  test("an image the task cannot pull fails docker start with ECS's reason", async () => {
    // a new image (the engine has never pulled it), deleted from ECR after the daemon pushed it
    const dir = mkdtempSync(path.join(os.tmpdir(), "cloud-ecs-img-"));
    writeFileSync(path.join(dir, "unique"), String(Math.random()));
    const tar = spawnSync("tar", ["-C", dir, "-cf", "-", "."]).stdout;
    rmSync(dir, { recursive: true, force: true });
    await docker(d.host, ["import", "-", "cloud-ecs-unique:latest"], { input: tar, timeoutMs: 60_000 });
    await ok(["create", "--name", "cloud-ecs-pullfail", "cloud-ecs-unique", "/unique"]);
    const { DeleteRepositoryCommand, ECRClient } = await import("@aws-sdk/client-ecr");
    await new ECRClient(sim.client).send(
      new DeleteRepositoryCommand({ repositoryName: "sockerless", force: true }),
    );
    const r = await run(["start", "cloud-ecs-pullfail"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /CannotPullContainerError/);
    await ok(["rm", "cloud-ecs-pullfail"]);
  });

  test("an agent that never dials back fails the start with a clear message", async () => {
    const lost = await startAwsDaemon(
      "ecs",
      [
        ...flags.slice(0, 4),
        "--agent-callback-url",
        `http://127.0.0.1:${await freePort()}/agent`,
        "--agent-connect-timeout",
        "5",
      ],
      mkdtempSync(path.join(os.tmpdir(), "sockerless-ecs-lost-")),
    );
    try {
      await dockerOk(lost.host, ["pull", BUSYBOX]);
      const r = await docker(lost.host, ["run", "--rm", BUSYBOX, "echo", "never"], { timeoutMs: 120_000 });
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /agent in the workload did not dial back to http:\/\/127\.0\.0\.1:\d+\/agent within 5 s/,
      );
    } finally {
      await lost.stop();
      cleanup(lost);
    }
  });

  test("throttled ECS calls are retried", async () => {
    await injectFaults(sim, [
      { operation: "ecs:RunTask", kind: "throttle", count: 2 },
      { operation: "ecs:DescribeTasks", kind: "error", count: 2 },
    ]);
    assert.equal(await ok(["run", "--rm", BUSYBOX, "echo", "after throttling"]), "after throttling\n");
  });

  test("the exit waits for the last lines to reach CloudWatch Logs", () =>
    checkLogsCompleteAtExit(sim, d.host, "cloud-ecs-late-logs"));

  test("a restarted daemon, and a second one with another data root, find the containers", async () => {
    await ok(["create", "--name", "cloud-ecs-created", "--label", "k=v", BUSYBOX, "echo", "x"]);
    assert.equal(
      (await run(["run", "--name", "cloud-ecs-done", BUSYBOX, "sh", "-c", "echo recovered output; exit 7"]))
        .code,
      7,
    );
    await ok([
      "run",
      "-d",
      "--name",
      "cloud-ecs-running",
      BUSYBOX,
      "sh",
      "-c",
      "sleep 10; echo late line; exit 4",
    ]);
    d = await d.restart();
    assert.equal(
      await inspect("cloud-ecs-created", '{{.State.Status}} {{index .Config.Labels "k"}}'),
      "created v",
    );
    assert.equal(await inspect("cloud-ecs-done", "{{.State.Status}} {{.State.ExitCode}}"), "exited 7");
    assert.equal(await ok(["logs", "cloud-ecs-done"]), "recovered output\n");
    assert.equal(await inspect("cloud-ecs-running", "{{.State.Running}}"), "true");
    // the task's agent dialled the restarted daemon again: exec works
    assert.equal(await ok(["exec", "cloud-ecs-running", "echo", "reconnected"]), "reconnected\n");
    assert.equal((await ok(["wait", "cloud-ecs-running"])).trim(), "4");

    const other = await startAwsDaemon(
      "ecs",
      [...flags.slice(0, 4), "--agent-listen", "127.0.0.1:0"],
      mkdtempSync(path.join(os.tmpdir(), "sockerless-ecs2-")),
    );
    try {
      const names = (await dockerOk(other.host, ["ps", "-a", "--format", "{{.Names}}"])).split("\n").sort();
      for (const n of ["cloud-ecs-created", "cloud-ecs-done", "cloud-ecs-running"])
        assert.ok(names.includes(n), names.join(","));
      assert.equal(await dockerOk(other.host, ["logs", "cloud-ecs-running"]), "late line\n");
      await dockerOk(other.host, ["rm", "cloud-ecs-created", "cloud-ecs-done", "cloud-ecs-running"]);
    } finally {
      await other.stop();
      cleanup(other);
    }
    d = await d.restart();
    assert.equal((await ok(["ps", "-a", "--format", "{{.Names}}"])).includes("cloud-ecs-"), false);
  });
});
