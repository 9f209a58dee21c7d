import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import FindMyWay from "find-my-way";
import { DockerError, log } from "@sockerless/api";
import { API_VERSION, MIN_API_VERSION, type Engine } from "@sockerless/engine";
import { Ctx, type Handler } from "./context.js";
import { routes } from "./routes/index.js";

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

function writeError(res: ServerResponse | undefined, socket: Duplex | undefined, e: unknown) {
  const err = e instanceof DockerError ? e : new DockerError(500, e instanceof Error ? e.message : String(e));
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

/** The Docker Engine API over HTTP: version prefixes, routing, errors, upgrades. */
export function createDockerServer(engine: Engine): http.Server {
  const router = FindMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true });
  for (const [method, path, handler] of routes) {
    router.on(method, path, handler as unknown as FindMyWay.Handler<FindMyWay.HTTPVersion.V1>);
  }

  const dispatch = async (
    req: IncomingMessage,
    res: ServerResponse | undefined,
    upgrade?: { socket: Duplex; head: Buffer },
  ) => {
    log.debug({ method: req.method, url: req.url, upgrade: !!upgrade }, "request");
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
      if (!found) throw new DockerError(404, "page not found");
      if (res) {
        res.setHeader("Api-Version", API_VERSION);
        res.setHeader("Docker-Experimental", "false");
        res.setHeader("Ostype", "linux");
        res.setHeader("Server", `Sockerless (linux)`);
      }
      const ctx = new Ctx(engine, req, res, found.params, url, apiVersion, upgrade);
      await (found.handler as unknown as Handler)(ctx);
    } catch (e) {
      writeError(res, upgrade?.socket, e);
    }
  };

  const server = http.createServer(
    { keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 60_000 },
    (req, res) => {
      void dispatch(req, res);
    },
  );
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {});
    void dispatch(req, undefined, { socket, head });
  });
  server.on("clientError", (err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
  });
  return server;
}
