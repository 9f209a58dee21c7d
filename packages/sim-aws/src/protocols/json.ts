import type { IncomingMessage, ServerResponse } from "node:http";
import { AwsError } from "../errors.js";
import type { Simulator } from "../sim.js";

/** AWS JSON 1.1 (ECS, ECR, CloudWatch Logs, Cloud Map): POST / with X-Amz-Target. */
export async function handleJson(
  sim: Simulator,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): Promise<void> {
  const target = String(req.headers["x-amz-target"]);
  const dot = target.lastIndexOf(".");
  const prefix = target.slice(0, dot);
  const operation = target.slice(dot + 1);
  const svc = sim.json.get(prefix);
  const call = sim.newCall(svc?.service ?? "unknown", operation, req);
  try {
    const handler = svc?.handlers[operation];
    if (!svc || !handler) throw new AwsError("UnknownOperationException", `Unknown operation ${target}`);
    let input: Record<string, any> = {};
    if (body.length) {
      try {
        input = JSON.parse(body.toString("utf8"));
      } catch {
        throw new AwsError("SerializationException", "Malformed JSON in request body");
      }
      if (typeof input !== "object" || input === null || Array.isArray(input)) {
        throw new AwsError("SerializationException", "Start of list found where not expected");
      }
    }
    await sim.faults.apply(call.service, operation);
    const out = (await handler(input, call)) ?? {};
    send(res, 200, call.requestId, out);
  } catch (e) {
    const err = toAwsError(e);
    res.setHeader("x-amzn-ErrorType", err.code);
    send(res, err.status, call.requestId, { __type: err.code, message: err.message, ...err.extra });
  }
}

function send(res: ServerResponse, status: number, requestId: string, body: unknown) {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/x-amz-json-1.1",
    "Content-Length": Buffer.byteLength(data),
    "x-amzn-RequestId": requestId,
  });
  res.end(data);
}

export function toAwsError(e: unknown): AwsError {
  if (e instanceof AwsError) return e;
  return new AwsError("InternalFailure", e instanceof Error ? e.message : String(e), 500);
}
