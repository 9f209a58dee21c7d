import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";
import FindMyWay from "find-my-way";
import { DockerError, log } from "@sockerless/api";
import { API_VERSION, MIN_API_VERSION, type Engine } from "@sockerless/engine";
import { Ctx, type Handler } from "./context.js";
import { routeLogger, type RouteHit } from "./route-log.js";
import { routes, type Route } from "./routes/index.js";

const VERSION_PREFIX = /^\/v(\d+)\.(\d+)(\/.*)$/;
const [MAX_MAJOR, MAX_MINOR] = API_VERSION.split(".").map(Number);
const [MIN_MAJOR, MIN_MINOR] = MIN_API_VERSION.split(".").map(Number);

function versionError(major: number, minor: number): DockerError | undefined {
  const v = major * 1000 + minor;
  if (v > MAX_MAJOR * 1000 + MAX_MINOR) {
    return new DockerError(
      400,
      `client version ${major}.${minor} is too new. Maximum supported API version is ${API_VERSION}`,
    );
  }
  if (v < MIN_MAJOR * 1000 + MIN_MINOR) {
    return new DockerError(
      400,
      `client version ${major}.${minor} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
  return undefined;
}

function asDockerError(e: unknown): DockerError {
  return e instanceof DockerError ? e : new DockerError(500, e instanceof Error ? e.message : String(e));
}

function writeError(res: ServerResponse | undefined, socket: Duplex | undefined, e: unknown) {
  const err = asDockerError(e);
  if (!(e instanceof DockerError)) log.error({ err: e }, "internal error");
  else log.debug({ status: err.status, message: err.message }, "error response");
  const body = err.status === 304 ? "" : JSON.stringify({ message: err.message });
  if (res) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(
      err.status,
      err.status === 304
        ? {}
        : { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
    );
    res.end(body);
  } else if (socket && socket.writable) {
    socket.end(
      `HTTP/1.1 ${err.status} ${http.STATUS_CODES[err.status] ?? ""}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
}

/** What a router match carries: the registered route itself. */
export interface RouteStore {
  route: Route;
}

/** The router of the API (shared with scripts/api-coverage.ts, which asks it where each operation goes). */
export function createRouter() {
  const router = FindMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true });
  for (const route of routes) {
    const [method, path, handler] = route;
    const store: RouteStore = { route };
    router.on(method, path, handler as unknown as FindMyWay.Handler<FindMyWay.HTTPVersion.V1>, store);
  }
  return router;
}

export interface DockerServerOptions {
  /** serve HTTPS with these options (certificate, key, and for --tlsverify the CA and requestCert) */
  tls?: https.ServerOptions;
  /** append one JSON line per request to this file (see route-log.ts) */
  routeLog?: string;
}

/** The Docker Engine API over HTTP(S): version prefixes, routing, errors, upgrades. */
export function createDockerServer(
  engine: Engine,
  opts: DockerServerOptions = {},
): http.Server | https.Server {
  const router = createRouter();
  const record = routeLogger(opts.routeLog);

  const dispatch = async (
    req: IncomingMessage,
    res: ServerResponse | undefined,
    upgrade?: { socket: Duplex; head: Buffer },
  ) => {
    log.debug({ method: req.method, url: req.url, upgrade: !!upgrade }, "request");
    const hit: RouteHit | undefined = record && { method: req.method ?? "", path: "", status: 0 };
    if (hit && res) {
      res.once("close", () => {
        hit.status = res.statusCode;
        record!(hit);
      });
    }
    try {
      const url = new URL(req.url ?? "/", "http://docker");
      let pathname = url.pathname;
      let apiVersion = Number(API_VERSION);
      const m = VERSION_PREFIX.exec(pathname);
      if (m) {
        const err = versionError(Number(m[1]), Number(m[2]));
        if (err) throw err;
        apiVersion = Number(`${m[1]}.${m[2]}`);
        pathname = m[3];
      }
      const found = router.find(req.method as FindMyWay.HTTPMethod, pathname);
      if (hit) {
        hit.path = pathname;
        hit.route = (found?.store as RouteStore | undefined)?.route[1];
      }
      if (!found) throw new DockerError(404, "page not found");
      if (res) {
        res.setHeader("Api-Version", API_VERSION);
        res.setHeader("Docker-Experimental", "false");
        res.setHeader("Ostype", "linux");
        res.setHeader("Server", `Sockerless (linux)`);
      }
      const ctx = new Ctx(engine, req, res, found.params, url, apiVersion, upgrade);
      await (found.handler as unknown as Handler)(ctx);
      if (hit && !res) {
        hit.status = 101;
        record!(hit);
      }
    } catch (e) {
      if (hit) {
        const err = asDockerError(e);
        if (err.status === 501) hit.message = err.message;
        if (!res) {
          hit.status = err.status;
          record!(hit);
        }
      }
      writeError(res, upgrade?.socket, e);
    }
  };

  const serverOptions = { keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 60_000 };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => void dispatch(req, res);
  const server = opts.tls
    ? https.createServer({ ...serverOptions, ...opts.tls }, onRequest)
    : http.createServer(serverOptions, onRequest);
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {});
    void dispatch(req, undefined, { socket, head });
  });
  server.on("clientError", (err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
  });
  return server;
}
