import type Docker from "dockerode";
import type { Simulator } from "../sim.js";
import type { FunctionRecord } from "./lambda-functions.js";
import { imageSource, pullImage } from "./lambda-image.js";
import type { EnvironmentLog } from "./lambda-logs.js";

/** Labels on execution environment containers: cleanup finds them by these. */
export const LABELS = {
  function: "sockerless.sim-aws.lambda.function",
  environment: "sockerless.sim-aws.lambda.environment",
  dataDir: "sockerless.sim-aws.data-dir",
};

/** The function's image in the engine, pulled again if it went missing since. */
export async function functionImage(sim: Simulator, fn: FunctionRecord): Promise<Docker.ImageInspectInfo> {
  if (fn.imageId) {
    try {
      return await sim.docker.getImage(fn.imageId).inspect();
    } catch {
      // removed from the engine: pull it again below
    }
  }
  const { imageId } = await pullImage(sim, imageSource(sim, fn.imageUri));
  return sim.docker.getImage(imageId).inspect();
}

/** The container of one execution environment, with the environment Lambda gives a runtime. */
export function containerSpec(
  sim: Simulator,
  fn: FunctionRecord,
  image: Docker.ImageInspectInfo,
  env: { id: string; log: EnvironmentLog; runtimeApi: string },
): Docker.ContainerCreateOptions {
  // ImageConfig overrides the image's ENTRYPOINT, CMD and WORKDIR one by one
  const entrypoint = fn.imageConfig.EntryPoint ?? image.Config.Entrypoint ?? undefined;
  const cmd = fn.imageConfig.Command ?? image.Config.Cmd ?? undefined;
  const { region } = sim.opts;
  const vars: Record<string, string> = {
    TZ: ":UTC",
    // function code using an AWS SDK reaches this simulator (any credentials are accepted)
    AWS_ENDPOINT_URL: sim.url,
    ...fn.environment,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_SESSION_TOKEN: "test",
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    AWS_LAMBDA_LOG_GROUP_NAME: env.log.group,
    AWS_LAMBDA_LOG_STREAM_NAME: env.log.stream,
    AWS_LAMBDA_RUNTIME_API: env.runtimeApi,
    LAMBDA_TASK_ROOT: "/var/task",
    LAMBDA_RUNTIME_DIR: "/var/runtime",
    ...(cmd?.length ? { _HANDLER: cmd[0] } : {}),
  };
  return {
    name: `lambda-${fn.name}-${env.id.slice(0, 12)}`,
    Image: image.Id,
    Entrypoint: entrypoint?.length ? entrypoint : undefined,
    Cmd: cmd ?? undefined,
    WorkingDir: fn.imageConfig.WorkingDirectory,
    Env: Object.entries(vars).map(([k, v]) => `${k}=${v}`),
    Labels: {
      [LABELS.function]: sim.arn("lambda", `function:${fn.name}`),
      [LABELS.environment]: env.id,
      ...(sim.opts.dataDir ? { [LABELS.dataDir]: sim.opts.dataDir } : {}),
    },
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      // the reference engine has no bridge; on the host network the runtime reaches its API
      NetworkMode: "host",
      Memory: fn.memorySize * 1024 * 1024,
    },
  };
}
