import http, { type IncomingMessage, type ServerResponse } from "node:http";
import FindMyWay from "find-my-way";
import { AwsError } from "./errors.js";
import { handleJson, toAwsError } from "./protocols/json.js";
import { handleQuery } from "./protocols/query.js";
import type { RestHandler, Simulator } from "./sim.js";

export const MAX_BODY = 16 * 1024 * 1024;

export async function readBody(req: IncomingMessage, limit = MAX_BODY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit)
      throw new AwsError(
        "RequestEntityTooLargeException",
        `Request must be smaller than ${limit} bytes`,
        413,
      );
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** HTTP front of the simulator: admin routes, then JSON 1.1, Query and REST services. */
export function createSimServer(sim: Simulator): http.Server {
  const router = FindMyWay({ ignoreTrailingSlash: true });
  for (const r of sim.rest) {
    router.on(r.method as FindMyWay.HTTPMethod, r.path, ((
      req: IncomingMessage,
      res: ServerResponse,
      params: Record<string, string>,
    ) =>
      runRest(
        sim,
        r.service,
        r.handler,
        req,
        res,
        params,
      )) as unknown as FindMyWay.Handler<FindMyWay.HTTPVersion.V1>);
  }
  return http.createServer((req, res) => {
    void dispatch(sim, router, req, res).catch((e) => {
      if (!res.headersSent) {
        const err = toAwsError(e);
        res.writeHead(err.status, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ __type: err.code, message: err.message }));
      } else res.destroy();
    });
  });
}

async function dispatch(
  sim: Simulator,
  router: ReturnType<typeof FindMyWay>,
  req: IncomingMessage,
  res: ServerResponse,
) {
  const url = new URL(req.url ?? "/", "http://sim");
  if (url.pathname.startsWith("/_sim/")) return admin(sim, req, res, url);
  if (req.headers["x-amz-target"]) return handleJson(sim, req, res, await readBody(req));
  const ct = String(req.headers["content-type"] ?? "");
  if (req.method === "POST" && url.pathname === "/" && ct.startsWith("application/x-www-form-urlencoded")) {
    return handleQuery(sim, req, res, await readBody(req));
  }
  const found = router.find(req.method as FindMyWay.HTTPMethod, url.pathname);
  if (!found)
    throw new AwsError("UnknownOperationException", `No operation at ${req.method} ${url.pathname}`, 404);
  await (
    found.handler as unknown as (
      req: IncomingMessage,
      res: ServerResponse,
      p: Record<string, string | undefined>,
    ) => Promise<void>
  )(req, res, found.params);
}

async function runRest(
  sim: Simulator,
  service: string,
  handler: RestHandler,
  req: IncomingMessage,
  res: ServerResponse,
  params: Record<string, string>,
) {
  const url = new URL(req.url ?? "/", "http://sim");
  const call = sim.newCall(service, `${req.method} ${url.pathname}`, req);
  let body: Buffer | undefined;
  const getBody = async () => (body ??= await readBody(req));
  try {
    await sim.faults.apply(service, call.operation);
    const out = await handler({
      call,
      params, // find-my-way has decoded them already
      query: url.searchParams,
      body: getBody,
      json: async () => {
        const b = await getBody();
        if (!b.length) return {};
        try {
          const v = JSON.parse(b.toString("utf8"));
          if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
          return v;
        } catch {
          throw new AwsError("SerializationException", "Malformed JSON in request body");
        }
      },
      req,
      res,
    });
    if (!out || res.headersSent) return;
    const data = out.body === undefined ? "" : JSON.stringify(out.body);
    res.writeHead(out.status ?? 200, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(data),
      "x-amzn-RequestId": call.requestId,
      ...out.headers,
    });
    res.end(data);
  } catch (e) {
    const err = toAwsError(e);
    if (res.headersSent) return void res.destroy();
    const data = JSON.stringify({
      Type: err.fault === "Sender" ? "User" : "Service",
      message: err.message,
      Message: err.message,
    });
    res.writeHead(err.status, {
      "Content-Type": "application/json",
      "x-amzn-ErrorType": err.code,
      "x-amzn-RequestId": call.requestId,
      "Content-Length": Buffer.byteLength(data),
    });
    res.end(data);
  }
}

async function admin(sim: Simulator, req: IncomingMessage, res: ServerResponse, url: URL) {
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (url.pathname === "/_sim/health")
    return send(200, { status: "ok", account: sim.opts.account, region: sim.opts.region });
  if (url.pathname === "/_sim/faults" && req.method === "GET") return send(200, sim.faults.list());
  if (url.pathname === "/_sim/faults" && (req.method === "POST" || req.method === "PUT")) {
    try {
      const rules = JSON.parse((await readBody(req)).toString("utf8"));
      sim.faults.set(Array.isArray(rules) ? rules : [rules]);
      return send(200, sim.faults.list());
    } catch (e) {
      return send(400, { message: (e as Error).message });
    }
  }
  if (url.pathname === "/_sim/faults" && req.method === "DELETE") {
    sim.faults.set([]);
    return send(200, []);
  }
  send(404, { message: "unknown admin route" });
}
