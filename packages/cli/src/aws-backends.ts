import { EcsBackend, ECS_DEFAULTS } from "@sockerless/backend-ecs";
import { LambdaBackend, LAMBDA_DEFAULTS } from "@sockerless/backend-lambda";
import type { Backend } from "@sockerless/engine";
import type { ImageStore } from "@sockerless/images";
import type { ServeOptions } from "./serve.js";

const csv = (v: string | undefined) =>
  (v ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

/** The AWS backends (`--backend ecs|lambda`), with their settings from flags or SOCKERLESS_* variables. */
export function createAwsBackend(opts: ServeOptions, dataRoot: string, images: ImageStore): Backend {
  const aws = {
    region: opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
    // the SDK reads AWS_ENDPOINT_URL itself; this only overrides it
    endpoint: opts.awsEndpoint,
    maxAttempts: opts.awsMaxAttempts ?? 8,
  };
  const agent = {
    listen: opts.agentListen ?? "127.0.0.1:0",
    callbackUrl: opts.agentCallbackUrl,
    connectTimeoutMs: (opts.agentConnectTimeout ?? 300) * 1000,
  };
  switch (opts.backend) {
    case "ecs":
      return new EcsBackend(
        {
          ...aws,
          cluster: opts.ecsCluster ?? ECS_DEFAULTS.cluster,
          subnets: csv(opts.ecsSubnets),
          securityGroups: csv(opts.ecsSecurityGroups),
          executionRoleArn: opts.ecsExecutionRoleArn ?? "",
          taskRoleArn: opts.ecsTaskRoleArn,
          logGroup: opts.ecsLogGroup ?? ECS_DEFAULTS.logGroup,
          assignPublicIp: !!opts.ecsAssignPublicIp,
          cpu: ECS_DEFAULTS.cpu,
          memory: ECS_DEFAULTS.memory,
          agent,
          agentSecret: opts.agentSecret,
          ecrRepository: opts.ecrRepository ?? ECS_DEFAULTS.ecrRepository,
        },
        images,
        dataRoot,
      );
    case "lambda":
      return new LambdaBackend(
        {
          ...aws,
          roleArn: opts.lambdaRoleArn ?? "",
          memoryMb: opts.lambdaMemory ?? LAMBDA_DEFAULTS.memoryMb,
          timeoutSec: opts.lambdaTimeout ?? LAMBDA_DEFAULTS.timeoutSec,
          functionPrefix: opts.lambdaFunctionPrefix ?? LAMBDA_DEFAULTS.functionPrefix,
          startTimeoutMs: LAMBDA_DEFAULTS.startTimeoutMs,
          agent,
          agentSecret: opts.agentSecret,
          ecrRepository: opts.ecrRepository ?? LAMBDA_DEFAULTS.ecrRepository,
        },
        images,
        dataRoot,
      );
    default:
      throw new Error(`unknown backend "${opts.backend}": this build supports: memory, docker, ecs, lambda`);
  }
}
