import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A synchronous or streamed payload is capped at 6 MB (+100 bytes of framing, as AWS counts). */
export const RESPONSE_LIMIT = 6 * 1024 * 1024 + 100;

/** What the Runtime API asks of its execution environment. */
export interface RuntimeApiHandler {
  /** GET …/invocation/next: answer `res` with the next event, now or when one arrives. */
  next(res: ServerResponse): void;
  /** POST …/invocation/{id}/response; false when the id is not the running invocation */
  response(id: string, body: Buffer): boolean;
  /** POST …/invocation/{id}/error */
  error(id: string, body: Buffer, errorType: string | undefined): boolean;
  /** POST …/init/error */
  initError(body: Buffer, errorType: string | undefined): void;
  /** a response larger than the limit */
  tooLarge(id: string): void;
}

/**
 * The Lambda Runtime API (2018-06-01) for ONE execution environment, on its own 127.0.0.1
 * port: AWS_LAMBDA_RUNTIME_API is host:port only, so environments cannot share a listener.
 */
export async function startRuntimeApi(
  h: RuntimeApiHandler,
): Promise<{ server: http.Server; address: string }> {
  const server = http.createServer((req, res) => {
    void serve(h, req, res).catch((e) => reply(res, 500, "ServiceException", (e as Error).message));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { server, address: `127.0.0.1:${port}` };
}

async function serve(h: RuntimeApiHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? "/", "http://runtime").pathname;
  if (req.method === "GET" && path === "/2018-06-01/runtime/invocation/next") return h.next(res);
  const m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(path);
  const errorType = header(req, "lambda-runtime-function-error-type");
  if (req.method === "POST" && m) {
    const id = decodeURIComponent(m[1]);
    const body = await readLimited(req, RESPONSE_LIMIT);
    if (!body) {
      h.tooLarge(id);
      return reply(
        res,
        413,
        "RequestEntityTooLarge",
        `Exceeded maximum allowed payload size (${RESPONSE_LIMIT} bytes).`,
      );
    }
    const ok = m[2] === "response" ? h.response(id, body) : h.error(id, body, errorType);
    if (!ok) return reply(res, 400, "InvalidRequestID", "Invalid request ID");
    return accepted(res);
  }
  if (req.method === "POST" && path === "/2018-06-01/runtime/init/error") {
    const body = (await readLimited(req, RESPONSE_LIMIT)) ?? Buffer.alloc(0);
    h.initError(body, errorType);
    return accepted(res);
  }
  req.resume();
  reply(res, 404, "NotFound", `${req.method} ${path} is not part of the Runtime API`);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The body, or undefined once it exceeds `limit` (the rest is drained, not kept). */
export async function readLimited(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size <= limit) chunks.push(c);
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}

function accepted(res: ServerResponse) {
  const body = JSON.stringify({ status: "OK" });
  res.writeHead(202, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

function reply(res: ServerResponse, status: number, errorType: string, errorMessage: string) {
  if (res.headersSent) return void res.destroy();
  const body = JSON.stringify({ errorMessage, errorType });
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}
