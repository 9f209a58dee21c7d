import type { RestHandler, Simulator } from "../sim.js";
import { lambdaApi } from "./lambda-api.js";
import { FunctionStore } from "./lambda-functions.js";
import { invokeHandler } from "./lambda-invoke.js";
import { resumeAfterRestart } from "./lambda-lifecycle.js";
import { LambdaRuntime } from "./lambda-pool.js";

/** Keep-alive and per-function concurrency, overridable for tests and small machines. */
function poolOptions() {
  return {
    keepAliveMs: Number(process.env.SOCKERLESS_SIM_LAMBDA_KEEPALIVE_MS ?? 120_000),
    maxEnvironments: Number(process.env.SOCKERLESS_SIM_LAMBDA_MAX_ENVIRONMENTS ?? 10),
  };
}

/** Registers Lambda: function API, Invoke, and the execution environments behind it. */
export function register(sim: Simulator): void {
  const functions = new FunctionStore(sim);
  const runtime = new LambdaRuntime(sim, functions, poolOptions());
  sim.onShutdown(() => runtime.shutdown());
  resumeAfterRestart(sim, functions, runtime);

  const api = lambdaApi(sim, functions, runtime);
  const fn = "/2015-03-31/functions";
  const routes: [string, string, RestHandler][] = [
    ["POST", fn, api.CreateFunction],
    ["GET", fn, api.ListFunctions],
    ["GET", `${fn}/:FunctionName`, api.GetFunction],
    ["DELETE", `${fn}/:FunctionName`, api.DeleteFunction],
    ["GET", `${fn}/:FunctionName/configuration`, api.GetFunctionConfiguration],
    ["PUT", `${fn}/:FunctionName/configuration`, api.UpdateFunctionConfiguration],
    ["PUT", `${fn}/:FunctionName/code`, api.UpdateFunctionCode],
    ["POST", `${fn}/:FunctionName/invocations`, invokeHandler(functions, runtime)],
    ["POST", "/2017-03-31/tags/:ARN", api.TagResource],
    ["GET", "/2017-03-31/tags/:ARN", api.ListTags],
    ["DELETE", "/2017-03-31/tags/:ARN", api.UntagResource],
  ];
  for (const [method, path, h] of routes) sim.registerRest("lambda", method, path, h);
}
