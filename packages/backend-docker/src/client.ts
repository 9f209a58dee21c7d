import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import type { Duplex, Readable } from "node:stream";
import DockerModem from "docker-modem";
import { DockerError } from "@sockerless/api";

export interface EngineTls {
  /** PEM file paths, as dockerd's and the docker CLI's --tlscacert/--tlscert/--tlskey */
  ca?: string;
  cert?: string;
  key?: string;
  /** verify the engine's certificate against `ca` (--tlsverify) */
  verify: boolean;
}

export interface EngineAddress {
  /** unix:///path/docker.sock or tcp://host:port */
  host: string;
  tls?: EngineTls;
}

interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** a request body stream (archive PUT) */
  file?: Readable;
}

// Every 2xx (and 304) is a success; anything else becomes a DockerError with the engine's message.
const OK_CODES: Record<number, boolean> = { 304: true };
for (let c = 200; c < 300; c++) OK_CODES[c] = true;

/** Reached the engine but it answered with an error: its status and message. */
export function isEngineAnswer(e: unknown): e is DockerError {
  return e instanceof DockerError && !(e as DockerError & { unreachable?: boolean }).unreachable;
}

/**
 * A Docker Engine API client over docker-modem: one keep-alive connection pool, errors mapped to
 * DockerError (the engine's status and message; 503 naming the engine when it cannot be reached).
 */
export class EngineClient {
  readonly modem: DockerModem;
  readonly agent: http.Agent;
  /** where to connect, for requests made without docker-modem */
  private readonly target: { tls: boolean; where: { socketPath?: string; host?: string; port?: string } };

  constructor(readonly address: EngineAddress) {
    const u = new URL(address.host);
    const tls = address.tls;
    const tlsOpts = tls
      ? {
          ca: tls.ca ? readFileSync(tls.ca) : undefined,
          cert: tls.cert ? readFileSync(tls.cert) : undefined,
          key: tls.key ? readFileSync(tls.key) : undefined,
          rejectUnauthorized: tls.verify,
        }
      : {};
    // The agent's options win over a request's, so TLS settings live here, once.
    const useTls = !!tls || u.protocol === "https:";
    this.agent = useTls
      ? new https.Agent({ keepAlive: true, ...tlsOpts })
      : new http.Agent({ keepAlive: true });
    const port = u.port || (tls ? "2376" : "2375");
    this.target =
      u.protocol === "unix:"
        ? { tls: false, where: { socketPath: u.pathname } }
        : { tls: useTls, where: { host: u.hostname.replace(/^\[|\]$/g, ""), port } };
    if (u.protocol === "unix:") {
      this.modem = new DockerModem({ socketPath: u.pathname, agent: this.agent });
    } else if (u.protocol === "tcp:" || u.protocol === "http:" || u.protocol === "https:") {
      this.modem = new DockerModem({
        host: u.hostname.replace(/^\[|\]$/g, ""),
        port,
        protocol: useTls ? "https" : "http",
        agent: this.agent,
      });
    } else {
      throw new Error(
        `unsupported Docker Engine address ${address.host}: use unix:///path or tcp://host:port`,
      );
    }
  }

  private unreachable(err: Error): DockerError {
    const e = new DockerError(503, `cannot reach the Docker Engine at ${this.address.host}: ${err.message}`);
    (e as DockerError & { unreachable?: boolean }).unreachable = true;
    return e;
  }

  /** Map docker-modem's error to the engine's status and message. */
  private mapError(err: Error & { statusCode?: number; json?: unknown }): DockerError {
    if (typeof err.statusCode !== "number") return this.unreachable(err);
    const json = err.json as { message?: string } | null | undefined;
    let message = json && typeof json === "object" && json.message ? json.message : undefined;
    // stream requests: "(HTTP code 404) unexpected - <message> "
    message ??= err.message.replace(/^\(HTTP code \d+\) [^-]*- /, "").trim();
    return new DockerError(err.statusCode, message);
  }

  private dial<T>(
    method: string,
    path: string,
    o: RequestOptions,
    extra: Partial<DockerModem.DialOptions>,
  ): Promise<T> {
    const query = Object.fromEntries(Object.entries(o.query ?? {}).filter(([, v]) => v !== undefined));
    return new Promise<T>((resolve, reject) => {
      this.modem.dial(
        {
          path: `${path}?`,
          method,
          // docker-modem sends `_body` as JSON on POST ("{}" means no body at all)
          options: { _query: query, _body: o.body ?? {} },
          headers: o.headers ? { ...o.headers } : {},
          file: o.file,
          statusCodes: OK_CODES,
          ...extra,
        },
        (err, res) => (err ? reject(this.mapError(err)) : resolve(res as T)),
      );
    });
  }

  /** A JSON (or empty) answer. */
  async json<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.dial<unknown>(method, path, o, {});
    return (Buffer.isBuffer(res) ? (res.length ? res.toString("utf8") : undefined) : res) as T;
  }

  /** The response as a stream (logs, archives, pull progress), once its headers arrived. */
  stream(method: string, path: string, o: RequestOptions = {}): Promise<IncomingMessage> {
    return this.dial<IncomingMessage>(method, path, o, { isStream: true });
  }

  /**
   * An upgraded (hijacked) connection: attach and exec start. Written here rather than through
   * docker-modem, whose hijack never sends the request head when there is no body to write.
   * The body goes with a Content-Length, so nothing after it reaches the process as stdin.
   */
  hijack(path: string, o: RequestOptions = {}): Promise<Duplex> {
    const body = o.body === undefined ? "" : JSON.stringify(o.body);
    const query = new URLSearchParams(
      Object.entries(o.query ?? {})
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, String(v)]),
    ).toString();
    const mod = this.target.tls ? https : http;
    return new Promise<Duplex>((resolve, reject) => {
      const req = mod.request({
        ...this.target.where,
        agent: this.agent,
        method: "POST",
        path: query ? `${path}?${query}` : path,
        headers: {
          Connection: "Upgrade",
          Upgrade: "tcp",
          "Content-Type": "application/json",
          "Content-Length": Buffer.byteLength(body),
        },
      });
      req.on("upgrade", (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on("response", (res) => {
        // no upgrade: the engine answered with an error (or an old-style raw stream we do not use)
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let message = text.trim();
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? message;
          } catch {
            // plain text body
          }
          reject(new DockerError(res.statusCode ?? 500, message));
        });
      });
      req.on("error", (err) => reject(this.unreachable(err)));
      req.end(body);
    });
  }

  /**
   * Pass a client's request to the engine as it is (body streamed, the headers an image operation
   * uses) and the engine's answer back as it is. A client that goes away cancels the engine's work
   * (dockerd stops a build whose client disconnected).
   */
  forward(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    const headers: Record<string, string> = {};
    for (const h of ["content-type", "content-length", "x-registry-auth", "x-registry-config"]) {
      const v = req.headers[h];
      if (typeof v === "string") headers[h] = v;
    }
    const q = query.toString();
    const mod = this.target.tls ? https : http;
    return new Promise<void>((resolve, reject) => {
      const out = mod.request({
        ...this.target.where,
        agent: this.agent,
        method: req.method,
        path: q ? `${path}?${q}` : path,
        headers,
      });
      out.on("response", (up) => {
        const pass: Record<string, string> = {};
        for (const h of ["content-type", "content-length"]) {
          const v = up.headers[h];
          if (typeof v === "string") pass[h] = v;
        }
        res.writeHead(up.statusCode ?? 502, pass);
        pipeline(up, res).then(resolve, () => {
          res.destroy(); // the client sees a cut stream, as from dockerd
          resolve();
        });
      });
      out.on("error", (err) => {
        if (!res.headersSent) reject(this.unreachable(err));
        else {
          res.destroy();
          resolve();
        }
      });
      res.on("close", () => out.destroy());
      pipeline(req, out).catch(() => {}); // a failed upload shows as the engine's error or a cut
    });
  }

  /** A request that may fail only because the engine is unreachable (used by reconnect loops). */
  async ping(): Promise<void> {
    await this.json("GET", "/_ping");
  }

  close(): void {
    this.agent.destroy();
  }
}
