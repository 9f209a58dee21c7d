import { randomBytes, randomUUID } from "node:crypto";
import { AwsError } from "../errors.js";
import type { RestRequest } from "../sim.js";
import type { InvocationRequest } from "./lambda-environment.js";
import { conflictState, type FunctionStore } from "./lambda-functions.js";
import { logTail } from "./lambda-logs.js";
import type { LambdaRuntime } from "./lambda-pool.js";
import { readLimited } from "./lambda-runtime-api.js";

/** Request payload limits: 6 MB synchronous, 256 KB asynchronous. */
export const SYNC_LIMIT = 6 * 1024 * 1024;
export const ASYNC_LIMIT = 256 * 1024;

const TYPES = ["RequestResponse", "Event", "DryRun"];

/** POST /2015-03-31/functions/{FunctionName}/invocations */
export function invokeHandler(functions: FunctionStore, runtime: LambdaRuntime) {
  return async (r: RestRequest): Promise<undefined> => {
    const f = functions.resolve(r.params.FunctionName, r.query.get("Qualifier"));
    const type = header(r, "x-amz-invocation-type") ?? "RequestResponse";
    if (!TYPES.includes(type))
      throw new AwsError(
        "ValidationException",
        `1 validation error detected: Value '${type}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]`,
      );
    const limit = type === "Event" ? ASYNC_LIMIT : SYNC_LIMIT;
    const payload = await readLimited(r.req, limit);
    if (!payload)
      throw new AwsError(
        "RequestTooLargeException",
        `Request must be smaller than ${limit} bytes for the InvokeFunction operation`,
        413,
      );
    if (payload.length) {
      try {
        JSON.parse(payload.toString("utf8"));
      } catch (e) {
        throw new AwsError(
          "InvalidRequestContentException",
          `Could not parse request body into json: ${(e as Error).message}`,
        );
      }
    }
    if (f.state !== "Active") throw conflictState(f.state);
    const clientContext = header(r, "x-amz-client-context");
    const req: InvocationRequest = {
      id: randomUUID(),
      payload: payload.length ? payload : Buffer.from("{}"),
      invokedArn: functions.arn(f.name, r.query.get("Qualifier") ?? undefined),
      clientContext: clientContext ? Buffer.from(clientContext, "base64").toString("utf8") : undefined,
      traceId: traceId(),
    };
    const base = { "x-amzn-RequestId": req.id, "X-Amz-Executed-Version": "$LATEST" };
    if (type === "DryRun") {
      r.res.writeHead(204, base);
      return void r.res.end();
    }
    if (type === "Event") {
      // accepted now, run in the background; AWS's retries of failed events are not simulated
      void runtime.invoke(f.name, req, "async").catch(() => {});
      r.res.writeHead(202, { ...base, "Content-Length": 0 });
      return void r.res.end();
    }
    const result = await runtime.invoke(f.name, req, "sync");
    r.res.writeHead(200, {
      ...base,
      "Content-Type": "application/json",
      "Content-Length": result.payload.length,
      ...(result.functionError ? { "X-Amz-Function-Error": result.functionError } : {}),
      ...(header(r, "x-amz-log-type") === "Tail" ? { "X-Amz-Log-Result": logTail(result.log) } : {}),
    });
    r.res.end(result.payload);
  };
}

function header(r: RestRequest, name: string): string | undefined {
  const v = r.req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** An X-Ray trace header, as Lambda passes one to every invocation. */
function traceId(): string {
  const epoch = Math.floor(Date.now() / 1000).toString(16);
  return `Root=1-${epoch}-${randomBytes(12).toString("hex")};Parent=${randomBytes(8).toString("hex")};Sampled=0`;
}
