import { AwsError } from "../errors.js";
import type { JsonHandler, Simulator } from "../sim.js";
import { clusterHandlers } from "./ecs-clusters.js";
import { registerMetadata } from "./ecs-metadata.js";
import { type Ecs, emptyState } from "./ecs-model.js";
import { EngineRunner } from "./ecs-runner.js";
import { tagHandlers } from "./ecs-tags.js";
import { taskHandlers } from "./ecs-tasks.js";
import { taskDefHandlers } from "./ecs-taskdefs.js";

/**
 * Amazon ECS (JSON 1.1): clusters, task definitions, and tasks that really run as containers in
 * the Docker Engine, with awslogs shipping and the task metadata endpoint.
 */
export const TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113";

export function register(sim: Simulator): void {
  const store = sim.state("ecs", emptyState());
  // state written by an older simulator may lack newer maps
  store.data = { ...emptyState(), ...store.data };
  const ecs = { sim, store } as Ecs;
  const runner = new EngineRunner(ecs);
  ecs.runner = runner;

  sim.registerJson(
    TARGET_PREFIX,
    "ecs",
    serverErrors({
      ...clusterHandlers(ecs),
      ...taskDefHandlers(ecs),
      ...taskHandlers(ecs),
      ...tagHandlers(ecs),
    }),
  );
  registerMetadata(sim, ecs);
  sim.onShutdown(() => runner.close());
  // tasks live in the engine across simulator restarts: find them again
  void runner.recover();
}

/** ECS reports its own failures as ServerException (500), not the protocol's InternalFailure. */
function serverErrors(handlers: Record<string, JsonHandler>): Record<string, JsonHandler> {
  return Object.fromEntries(
    Object.entries(handlers).map(([op, h]) => [
      op,
      async (input, call) => {
        try {
          return await h(input, call);
        } catch (e) {
          if (e instanceof AwsError) throw e;
          throw new AwsError("ServerException", e instanceof Error ? e.message : String(e), 500);
        }
      },
    ]),
  );
}
