import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { badRequest, DockerError } from "@sockerless/api";
import type { Engine } from "@sockerless/engine";

const MAX_JSON_BODY = 16 * 1024 * 1024;

/** One API request, whether it arrived as a normal request or as an HTTP upgrade. */
export class Ctx {
  readonly query: URLSearchParams;

  constructor(
    readonly engine: Engine,
    readonly req: IncomingMessage,
    /** undefined for upgrade requests */
    readonly res: ServerResponse | undefined,
    readonly params: Record<string, string | undefined>,
    url: URL,
    readonly apiVersion: number,
    /** set for `Upgrade: tcp` requests */
    readonly upgrade?: { socket: Duplex; head: Buffer },
  ) {
    this.query = url.searchParams;
  }

  param(name: string): string {
    return decodeURIComponent(this.params[name] ?? "");
  }

  str(name: string): string | undefined {
    const v = this.query.get(name);
    return v === null ? undefined : v;
  }

  /** Docker's boolean query values: 1/true/True are true, anything else false. */
  bool(name: string, dflt = false): boolean {
    const v = this.query.get(name);
    if (v === null || v === "") return dflt;
    return !["0", "false", "False", "FALSE", "no"].includes(v);
  }

  int(name: string): number | undefined {
    const v = this.query.get(name);
    if (v === null || v === "") return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw badRequest(`invalid value for ${name}: ${v}`);
    return n;
  }

  /** The request body parsed as JSON; empty body gives `dflt`. Malformed JSON gives dockerd's 400. */
  private bodyRead = false;

  /** Read and drop a body nobody needs (dockerode sends its options as a body on attach). */
  async discardBody(): Promise<void> {
    if (this.bodyRead) return;
    if (this.upgrade) await this.upgradeBody();
    else await this.requestBody();
  }

  async json<T>(dflt?: T): Promise<T> {
    const raw = this.upgrade ? await this.upgradeBody() : await this.requestBody();
    const text = raw.toString("utf8").trim();
    if (!text) {
      if (dflt === undefined) throw badRequest("empty request body; expected JSON");
      return dflt;
    }
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw badRequest(`invalid JSON: ${(e as Error).message}`);
    }
  }

  private async requestBody(): Promise<Buffer> {
    this.bodyRead = true;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of this.req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > MAX_JSON_BODY)
        throw new DockerError(413, `request body too large (limit ${MAX_JSON_BODY} bytes)`);
      chunks.push(c);
    }
    return Buffer.concat(chunks);
  }

  /** Node leaves the body of an upgrade request on the socket: read Content-Length bytes of it. */
  private async upgradeBody(): Promise<Buffer> {
    this.bodyRead = true;
    const up = this.upgrade!;
    const len = Number(this.req.headers["content-length"] ?? 0);
    if (!Number.isInteger(len) || len < 0 || len > MAX_JSON_BODY) throw badRequest("invalid Content-Length");
    let buf = up.head;
    while (buf.length < len) {
      const chunk = await new Promise<Buffer | null>((resolve) => {
        const onData = (d: Buffer) => {
          up.socket.off("end", onEnd);
          up.socket.pause();
          resolve(d);
        };
        const onEnd = () => {
          up.socket.off("data", onData);
          resolve(null);
        };
        up.socket.once("data", onData);
        up.socket.once("end", onEnd);
        up.socket.resume();
      });
      if (!chunk) throw badRequest("unexpected end of request body");
      buf = Buffer.concat([buf, chunk]);
    }
    up.head = buf.subarray(len);
    return buf.subarray(0, len);
  }

  send(status: number, body?: unknown): void {
    const res = this.mustRes();
    if (body === undefined) {
      res.writeHead(status);
      res.end();
      return;
    }
    const data = JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) });
    res.end(data);
  }

  mustRes(): ServerResponse {
    if (!this.res) throw badRequest("this endpoint does not support connection upgrade");
    return this.res;
  }
}

export type Handler = (ctx: Ctx) => Promise<void> | void;
