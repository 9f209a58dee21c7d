import { CloudWatchLogsClient, DeleteLogGroupCommand } from "@aws-sdk/client-cloudwatch-logs";
import { ECRClient } from "@aws-sdk/client-ecr";
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  ListFunctionsCommand,
  ListTagsCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from "@aws-sdk/client-lambda";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { DockerError, log, notImplemented } from "@sockerless/api";
import {
  type AgentImages,
  agentSupport,
  AgentWorkloadBackend,
  awsClientConfig,
  type CloudAgents,
  checkCloudMounts,
  CloudProcess,
  cloudState,
  pollUntil,
  readCloudWatchLogs,
  waitForLogMark,
  type CloudWatchSource,
  type MainExit,
  recordFromTags,
  recordTags,
  staleRecordKeys,
  type Tags,
} from "@sockerless/cloud-aws";
import type {
  Backend,
  ContainerRecord,
  LogQuery,
  LogRecord,
  RecoveredContainer,
  RunningProcess,
  RunSpec,
} from "@sockerless/engine";
import type { ImageStore } from "@sockerless/images";
import { invocationOutcome, isPlatformLine, lastInvocation, type Outcome } from "./invocation.js";
import type { LambdaSettings } from "./settings.js";

const BACKEND = "lambda";
const WHERE = "Lambda execution environment";
/** after an invocation ended, how long the agent's own report of the exit may still take */
const EXIT_REPORT_GRACE_MS = 2000;
/** after the agent reported the exit, how long the invocation may take to end */
const INVOCATION_END_GRACE_MS = 5000;
/** the run id of the function's latest start: a restarted daemon takes only that start's agent */
const RUN_TAG = "sockerless-run";

/**
 * Containers as Lambda image functions: a container is a function (its record in the tags), a
 * start is one invocation that runs the container's command; output and exit come from the
 * invocation and its CloudWatch log group.
 */
export class LambdaBackend extends AgentWorkloadBackend implements Backend {
  readonly name = BACKEND;
  readonly capabilities = {
    exec: true,
    attach: true,
    archive: true,
    pause: false,
    hostBinds: false,
    tty: true,
  };
  readonly lambda: LambdaClient;
  readonly logs: CloudWatchLogsClient;
  protected readonly agents: CloudAgents;
  private readonly agentImages: AgentImages;

  constructor(
    private readonly s: LambdaSettings,
    images: ImageStore,
    dataRoot: string,
  ) {
    super(BACKEND, WHERE);
    const cfg = awsClientConfig(s);
    ({ agents: this.agents, agentImages: this.agentImages } = agentSupport(
      s,
      images,
      dataRoot,
      new ECRClient(cfg),
    ));
    // a synchronous invocation lasts as long as the function runs: up to its timeout
    this.lambda = new LambdaClient({
      ...cfg,
      requestHandler: new NodeHttpHandler({ requestTimeout: (s.timeoutSec + 60) * 1000 }),
    });
    this.logs = new CloudWatchLogsClient(cfg);
  }

  private fn(id: string): string {
    return `${this.s.functionPrefix}${id.slice(0, 12)}`;
  }

  private group(id: string): string {
    return `/aws/lambda/${this.fn(id)}`;
  }

  async init(): Promise<void> {
    if (!this.s.roleArn)
      throw new Error(
        "the lambda backend needs an execution role: --lambda-role-arn or SOCKERLESS_LAMBDA_ROLE_ARN",
      );
    await this.agents.start();
  }

  private tags(rec: ContainerRecord): Tags {
    return { ...recordTags(rec, BACKEND), "sockerless-function-prefix": this.s.functionPrefix };
  }

  /** create: the function, with the container's command and environment and its record in the tags. */
  async prepare(spec: RunSpec): Promise<void> {
    const rec = spec.container;
    const ports = rec.HostConfig.PortBindings ?? {};
    if (Object.values(ports).some((b) => b?.length))
      throw notImplemented(
        "published ports are not supported by the lambda backend: a Lambda function takes no inbound connections",
      );
    checkCloudMounts(rec, BACKEND, false);
    if (rec.HostConfig.ReadonlyRootfs)
      throw notImplemented(
        "--read-only is not supported by the lambda backend: Lambda decides the function's filesystem (read-only but for /tmp on AWS)",
      );
    const agent = this.agents.wrap(rec);
    const memoryMb =
      typeof rec.HostConfig.Memory === "number" && rec.HostConfig.Memory > 0
        ? Math.max(128, Math.ceil(rec.HostConfig.Memory / 1024 / 1024))
        : this.s.memoryMb;
    await this.lambda.send(
      new CreateFunctionCommand({
        FunctionName: this.fn(rec.Id),
        Role: this.s.roleArn,
        PackageType: "Image",
        Code: { ImageUri: await this.agentImages.ref(rec.Image) },
        // the agent wraps the argv the engine merged from the image and the request
        ImageConfig: {
          EntryPoint: agent.entrypoint,
          Command: agent.command,
          WorkingDirectory: rec.Config.WorkingDir || undefined,
        },
        Environment: {
          Variables: {
            ...Object.fromEntries(
              (rec.Config.Env ?? [])
                .filter((e) => e.includes("="))
                .map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
            ),
            ...agent.env,
          },
        },
        Timeout: this.s.timeoutSec,
        MemorySize: memoryMb,
        Tags: this.tags(rec),
      }),
    );
  }

  /**
   * A new function pulls its image first; a bad image fails it, which is `docker start`'s error.
   * Returns the function's ARN.
   */
  private async active(id: string): Promise<string> {
    return pollUntil(
      async () => {
        const c = await this.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: this.fn(id) }));
        if (c.State === "Failed")
          throw new DockerError(
            500,
            `the Lambda function could not be created: ${c.StateReason ?? c.StateReasonCode}`,
          );
        return c.State === "Active" ? c.FunctionArn : undefined;
      },
      {
        intervalMs: 200,
        timeoutMs: this.s.startTimeoutMs,
        what: `Lambda function ${this.fn(id)} to become Active`,
      },
    );
  }

  async start(spec: RunSpec): Promise<RunningProcess> {
    const arn = await this.active(spec.id);
    const run = this.agents.expectNew(spec.id);
    await this.lambda.send(new TagResourceCommand({ Resource: arn, Tags: { [RUN_TAG]: run } }));
    const proc = new CloudProcess({ signal: (sig) => cannotSignal(spec.id, sig) });
    const outcome = this.lambda
      // the event names this start: the agent presents it, so an earlier start's agent is refused
      .send(
        new InvokeCommand({
          FunctionName: this.fn(spec.id),
          Payload: Buffer.from(JSON.stringify({ sockerlessRun: run })),
        }),
      )
      .then(
        (out) => invocationOutcome(out, this.s.timeoutSec),
        (e): Outcome => ({ code: 255, error: `the Lambda invocation failed: ${(e as Error).message}` }),
      );
    const gone = outcome.then(
      (o) => `the Lambda invocation ended before its agent connected: ${o.error ?? `exit code ${o.code}`}`,
    );
    let exit: Promise<MainExit>;
    try {
      const session = await this.agents.connect(spec.id, gone);
      exit = (await this.agents.startMain(session, proc, (sig) => cannotSignal(spec.id, sig))).exited;
    } catch (e) {
      throw new DockerError(500, (e as Error).message);
    }
    this.settle(proc, exit, outcome, this.logSource(spec.container));
    return proc;
  }

  /**
   * The container's exit: the agent's report of its main process, once its last lines are in
   * CloudWatch Logs; when the invocation ended without one (the function timeout killed the
   * environment), what Lambda reported.
   */
  private settle(
    proc: CloudProcess,
    exit: Promise<MainExit>,
    ended: Promise<Outcome>,
    logs: CloudWatchSource,
  ): void {
    const wait = (ms: number) => new Promise<undefined>((r) => setTimeout(r, ms));
    // the agent's report counts once the output it marked is in CloudWatch Logs
    const logged = exit.then(async (o) => {
      if (o.logMark) await waitForLogMark(logs, o.logMark);
      return o;
    });
    // the invocation ends right after the main process: finish with it, so the cloud agrees
    const fromAgent = logged.then(async (o) => {
      await Promise.race([ended, wait(INVOCATION_END_GRACE_MS)]);
      return o;
    });
    const fromLambda = ended.then(async (o) =>
      (await Promise.race([exit.catch(() => undefined), wait(EXIT_REPORT_GRACE_MS)])) ? logged : o,
    );
    void Promise.race([fromAgent.catch(() => fromLambda), fromLambda]).then((o) =>
      proc.finish(o.code, o.error),
    );
  }

  async remove(id: string): Promise<void> {
    this.agents.forget(id);
    await this.lambda
      .send(new DeleteFunctionCommand({ FunctionName: this.fn(id) }))
      .catch(ignore("ResourceNotFoundException"));
    await this.logs
      .send(new DeleteLogGroupCommand({ logGroupName: this.group(id) }))
      .catch(ignore("ResourceNotFoundException"));
  }

  readLogs(
    rec: ContainerRecord,
    q: LogQuery,
    follow: { ended: Promise<unknown> } | undefined,
    onRecord: (r: LogRecord) => void | Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    return readCloudWatchLogs(this.logSource(rec), q, follow, onRecord, signal);
  }

  /** The function's log group: one stream per execution environment. */
  private logSource(rec: ContainerRecord): CloudWatchSource {
    return { client: this.logs, group: this.group(rec.Id), streamPrefix: "", skip: isPlatformLine };
  }

  async recordChanged(rec: ContainerRecord): Promise<void> {
    const arn = await this.functionArn(rec.Id);
    const old = await this.lambda.send(new ListTagsCommand({ Resource: arn }));
    const next = this.tags(rec);
    await this.lambda.send(new TagResourceCommand({ Resource: arn, Tags: next }));
    const stale = staleRecordKeys(old.Tags ?? {}, next);
    if (stale.length) await this.lambda.send(new UntagResourceCommand({ Resource: arn, TagKeys: stale }));
  }

  private async functionArn(id: string): Promise<string> {
    const c = await this.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: this.fn(id) }));
    return c.FunctionArn!;
  }

  /**
   * Functions with our record. Lambda lists no invocations, so a container's state is read from its
   * log group: the last invocation's START without REPORT means it still runs.
   */
  /**
   * An invocation that runs on after a daemon restart: its agent dials back and is bound again;
   * its end also shows in its log (the REPORT line).
   */
  private async reattach(rec: ContainerRecord): Promise<CloudProcess> {
    const proc = new CloudProcess({ signal: (sig) => cannotSignal(rec.Id, sig) });
    // the running invocation's event cannot be read back: its run id is in the function's tags
    const tags = await this.lambda.send(new ListTagsCommand({ Resource: await this.functionArn(rec.Id) }));
    this.agents.expect(rec.Id, tags.Tags?.[RUN_TAG]);
    const ended: Promise<Outcome> = pollUntil(
      async () => {
        const now = await lastInvocation(this.logs, this.group(rec.Id), this.s.timeoutSec);
        return now && !now.running ? { code: now.exitCode ?? 255, error: now.error } : undefined;
      },
      { intervalMs: 1000, timeoutMs: (this.s.timeoutSec + 60) * 1000, what: "the invocation to end" },
    ).catch((e) => ({ code: 255, error: (e as Error).message }));
    const exit = this.agents
      .connect(
        rec.Id,
        ended.then(() => "the invocation ended"),
      )
      .then((session) => this.agents.rebindMain(session, proc, (sig) => cannotSignal(rec.Id, sig)));
    this.settle(proc, exit, ended, this.logSource(rec));
    return proc;
  }

  async discover(): Promise<ContainerRecord[]> {
    const out: ContainerRecord[] = [];
    let Marker: string | undefined;
    do {
      const page = await this.lambda.send(new ListFunctionsCommand({ Marker }));
      for (const f of page.Functions ?? []) {
        if (!f.FunctionName?.startsWith(this.s.functionPrefix) || !f.FunctionArn) continue;
        const tags = (await this.lambda.send(new ListTagsCommand({ Resource: f.FunctionArn }))).Tags ?? {};
        if (tags["sockerless-function-prefix"] !== this.s.functionPrefix) continue;
        const rec = recordFromTags(tags, BACKEND);
        if (rec) out.push({ ...rec, State: cloudState(undefined) });
      }
      Marker = page.NextMarker;
    } while (Marker);
    return out;
  }

  /** Lambda lists no invocations: each container's state is its last run's, read from its log. */
  async recover(specs: RunSpec[]): Promise<Map<string, RecoveredContainer>> {
    const out = new Map<string, RecoveredContainer>();
    for (const spec of specs) {
      const last = await lastInvocation(this.logs, this.group(spec.id), this.s.timeoutSec);
      if (!last) out.set(spec.id, { state: "created" });
      else if (last.running)
        out.set(spec.id, {
          state: "running",
          proc: await this.reattach(spec.container),
          startedAt: (last.startedAt ?? new Date()).toISOString(),
          paused: false,
        });
      else
        out.set(spec.id, {
          state: "exited",
          exitCode: last.exitCode ?? 255,
          finishedAt: (last.finishedAt ?? new Date()).toISOString(),
          oomKilled: false,
        });
    }
    return out;
  }
}

/** Lambda has no API to signal an invocation: only the agent can. */
function cannotSignal(id: string, sig: string): void {
  log.warn({ id, sig }, "lambda: the agent is not connected, and Lambda cannot signal a running invocation");
}

const ignore = (name: string) => (e: unknown) => {
  if ((e as Error).name !== name) throw e;
};
