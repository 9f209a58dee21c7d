import type { IncomingMessage, ServerResponse } from "node:http";
import { XMLBuilder } from "fast-xml-parser";
import { AwsError } from "../errors.js";
import { signingNameOf, type QueryService, type Simulator } from "../sim.js";
import { toAwsError } from "./json.js";

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  suppressEmptyNode: false,
});

/** Which Query service a request is for: the SigV4 signing name, else the API version. */
function serviceFor(
  sim: Simulator,
  req: IncomingMessage,
  params: Record<string, string>,
): QueryService | undefined {
  const byScope = signingNameOf(req);
  if (byScope && sim.query.has(byScope)) return sim.query.get(byScope);
  const byVersion: Record<string, string> = { "2016-11-15": "ec2", "2010-05-08": "iam", "2011-06-15": "sts" };
  return sim.query.get(byVersion[params.Version ?? ""] ?? "");
}

/** AWS Query (IAM, STS, EC2): form-encoded Action=...; XML responses. */
export async function handleQuery(
  sim: Simulator,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): Promise<void> {
  const params = Object.fromEntries(new URLSearchParams(body.toString("utf8")));
  const svc = serviceFor(sim, req, params);
  const action = params.Action ?? "";
  const call = sim.newCall(svc?.signingName ?? "unknown", action, req);
  try {
    if (!svc) throw new AwsError("InvalidAction", `Could not find a service for action ${action}`);
    const handler = svc.handlers[action];
    if (!handler)
      throw new AwsError("InvalidAction", `The action ${action} is not valid for this web service.`);
    await sim.faults.apply(svc.signingName, action);
    const result = (await handler(params, call)) ?? {};
    const doc =
      svc.style === "ec2"
        ? {
            [`${action}Response`]: { "@_xmlns": svc.xmlns, requestId: call.requestId, ...(result as object) },
          }
        : {
            [`${action}Response`]: {
              "@_xmlns": svc.xmlns,
              [`${action}Result`]: result,
              ResponseMetadata: { RequestId: call.requestId },
            },
          };
    send(res, 200, builder.build(doc));
  } catch (e) {
    const err = toAwsError(e);
    const doc =
      svc?.style === "ec2"
        ? {
            Response: {
              Errors: { Error: { Code: err.code, Message: err.message } },
              RequestID: call.requestId,
            },
          }
        : {
            ErrorResponse: {
              "@_xmlns": svc?.xmlns ?? "",
              Error: { Type: err.fault, Code: err.code, Message: err.message },
              RequestId: call.requestId,
            },
          };
    send(res, err.status, builder.build(doc));
  }
}

function send(res: ServerResponse, status: number, xml: string) {
  const data = `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`;
  res.writeHead(status, { "Content-Type": "text/xml", "Content-Length": Buffer.byteLength(data) });
  res.end(data);
}

/** Query lists: Prefix.member.1, Prefix.member.2 … (IAM) or Prefix.1 … (EC2). */
export function queryList(params: Record<string, string>, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; ; i++) {
    const v = params[`${prefix}.member.${i}`] ?? params[`${prefix}.${i}`];
    if (v === undefined) return out;
    out.push(v);
  }
}

/** Query lists of structures: Tags.member.1.Key / Tags.member.1.Value (or Tag.1.Key for EC2). */
export function queryStructList(params: Record<string, string>, prefix: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (let i = 1; ; i++) {
    const heads = [`${prefix}.member.${i}.`, `${prefix}.${i}.`];
    const item: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) {
      const h = heads.find((x) => k.startsWith(x));
      if (h) item[k.slice(h.length)] = v;
    }
    if (Object.keys(item).length === 0) return out;
    out.push(item);
  }
}

/** XML list members as the SDKs expect: { member: [...] } (IAM/STS) or { item: [...] } (EC2). */
export const members = <T>(items: T[]) => ({ member: items });
export const items = <T>(list: T[]) => ({ item: list });
