// Cloud backends on the AWS simulator: `docker run --rm busybox echo hi` through Sockerless against the
// simulator's own time for the same work driven straight through the AWS SDK; the ratio is the daemon's
// overhead (task definition, log reading, polling, clean-up).
import { performance } from "node:perf_hooks";
import { DescribeSubnetsCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  CreateClusterCommand,
  DescribeTasksCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
} from "@aws-sdk/client-ecs";
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
} from "@aws-sdk/client-lambda";
import { startSim, type TestSim } from "../packages/sim-aws/test/helpers.js";
import { removeTaskContainers, startAwsDaemon, useSim } from "../test/aws-backend-helpers.js";
import { BUSYBOX, cleanup, dockerOk } from "../test/helpers.js";

const RUNS = Number(process.env.BENCH_CLOUD_RUNS ?? 5);
const ROLE = "arn:aws:iam::000000000000:role/bench";
const POLL_MS = 20;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function timed(n: number, fn: () => Promise<void>): Promise<number> {
  await fn(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

async function dockerRun(host: string): Promise<void> {
  const out = await dockerOk(host, ["run", "--rm", BUSYBOX, "echo", "hi"], { timeoutMs: 120_000 });
  if (out !== "hi\n") throw new Error(`unexpected output ${JSON.stringify(out)}`);
}

/** RunTask of a registered busybox `echo hi` task until DescribeTasks says STOPPED. */
async function simEcsRun(sim: TestSim, image: string): Promise<() => Promise<void>> {
  const ecs = new ECSClient(sim.client);
  const td = await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: "bench-echo",
      requiresCompatibilities: ["FARGATE"],
      networkMode: "awsvpc",
      cpu: "256",
      memory: "512",
      executionRoleArn: ROLE,
      containerDefinitions: [{ name: "main", image, essential: true, command: ["echo", "hi"] }],
    }),
  );
  const arn = td.taskDefinition!.taskDefinitionArn!;
  const subnets = (await new EC2Client(sim.client).send(new DescribeSubnetsCommand({}))).Subnets!.map(
    (s) => s.SubnetId!,
  );
  return async () => {
    const run = await ecs.send(
      new RunTaskCommand({
        cluster: "bench",
        taskDefinition: arn,
        launchType: "FARGATE",
        networkConfiguration: { awsvpcConfiguration: { subnets: subnets.slice(0, 1) } },
      }),
    );
    const task = run.tasks![0].taskArn!;
    for (;;) {
      const t = (await ecs.send(new DescribeTasksCommand({ cluster: "bench", tasks: [task] }))).tasks![0];
      if (t.lastStatus === "STOPPED") {
        if (t.containers![0].exitCode !== 0) throw new Error(`bench task failed: ${t.stoppedReason}`);
        return;
      }
      await sleep(POLL_MS);
    }
  };
}

/** CreateFunction, Active, one invocation, DeleteFunction: what one container's run is on Lambda. */
function simLambdaRun(sim: TestSim, image: string): () => Promise<void> {
  const lambda = new LambdaClient(sim.client);
  let n = 0;
  return async () => {
    const name = `bench-echo-${n++}`;
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Role: ROLE,
        PackageType: "Image",
        Code: { ImageUri: image },
        ImageConfig: { EntryPoint: ["echo"], Command: ["hi"] },
      }),
    );
    while (
      (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }))).State !== "Active"
    )
      await sleep(POLL_MS);
    const out = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from("{}") }));
    if (!/exit status 0/.test(Buffer.from(out.Payload ?? []).toString()))
      throw new Error("bench function failed");
    await lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
  };
}

export async function cloudRows(): Promise<string[][]> {
  const sim = await startSim();
  useSim(sim);
  const rows: string[][] = [];
  try {
    await new ECSClient(sim.client).send(new CreateClusterCommand({ clusterName: "bench" }));
    for (const backend of ["ecs", "lambda"] as const) {
      const d = await startAwsDaemon(backend, [
        ...(backend === "ecs" ? ["--ecs-cluster", "bench-sockerless", "--ecs-execution-role-arn", ROLE] : []),
        ...(backend === "lambda"
          ? ["--lambda-role-arn", ROLE, "--lambda-function-prefix", "bench-skl-"]
          : []),
      ]);
      try {
        await dockerOk(d.host, ["pull", BUSYBOX]);
        const image = (
          await dockerOk(d.host, ["image", "inspect", "--format", "{{index .RepoDigests 0}}", BUSYBOX])
        ).trim();
        const through = await timed(RUNS, () => dockerRun(d.host));
        const direct = await timed(
          RUNS,
          backend === "ecs" ? await simEcsRun(sim, image) : simLambdaRun(sim, image),
        );
        rows.push([
          `docker run --rm busybox echo hi, ${backend} on the simulator (median ms)`,
          through.toFixed(0),
          `${direct.toFixed(0)} (${backend === "ecs" ? "RunTask to STOPPED" : "CreateFunction to Invoke done"})`,
          `${(through / direct).toFixed(2)}x time`,
          "the daemon's overhead",
        ]);
      } finally {
        await d.stop();
        cleanup(d);
      }
    }
  } finally {
    await sim.cleanup();
    for (const c of ["bench", "bench-sockerless"]) await removeTaskContainers(c);
  }
  return rows;
}
