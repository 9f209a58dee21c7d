import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { Session, type AgentSession, type SessionOptions } from "./client.js";
import { acceptLink } from "./handshake.js";
import type { Link } from "./link.js";
import { bearer, tokenMatches } from "./protocol.js";

export interface HubOptions extends SessionOptions {
  /** how long a dropped agent may take to dial back and resume before its session is lost */
  resumeTimeoutMs?: number;
}

interface Expected {
  token: string;
  /** the start of the container whose agent is expected (`?run=`); any when undefined */
  run?: string;
  links: Map<string, Link>;
  session?: Session;
  waiters: ((s: Session) => void)[];
}

/**
 * Reverse mode: agents dial the daemon (`<callback>?id=<container id>` with
 * `Authorization: Bearer <token>`) and each gets one session; a dropped agent dials again and
 * resumes the same session.
 */
export class ReverseAgentHub {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly expected = new Map<string, Expected>();

  constructor(private readonly opts: HubOptions = {}) {}

  /**
   * Accept an agent for container `id` presenting `token`, and when `run` is given only the one
   * dialling with `?run=<run>` (an earlier start's agent gets 409).
   */
  expect(id: string, token: string, run?: string): void {
    const e = this.expected.get(id);
    if (e) Object.assign(e, { token, run });
    else this.expected.set(id, { token, run, links: new Map(), waiters: [] });
  }

  /** Stop accepting the agent of `id` and close its session. */
  forget(id: string): void {
    const e = this.expected.get(id);
    this.expected.delete(id);
    e?.session?.close();
  }

  /** The current session of `id`, if its agent has connected. */
  session(id: string): AgentSession | undefined {
    const s = this.expected.get(id)?.session;
    return s && !s.link.closed ? s : undefined;
  }

  waitFor(id: string, timeoutMs: number): Promise<AgentSession> {
    const e = this.expected.get(id);
    if (!e) return Promise.reject(new Error(`no agent is expected for ${id}`));
    if (e.session && !e.session.link.closed) return Promise.resolve(e.session);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        e.waiters = e.waiters.filter((w) => w !== done);
        reject(new Error(`the agent of ${id} did not connect within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      const done = (s: Session) => {
        clearTimeout(timer);
        resolve(s);
      };
      e.waiters.push(done);
    });
  }

  /** Mount on the daemon's HTTP server for upgrade requests to the callback path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://hub");
    const id = url.searchParams.get("id") ?? "";
    const e = this.expected.get(id);
    const given = bearer(req.headers.authorization) ?? url.searchParams.get("token") ?? undefined;
    if (!e || !tokenMatches(given, e.token)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      return;
    }
    if (e.run !== undefined && url.searchParams.get("run") !== e.run) {
      socket.end("HTTP/1.1 409 Conflict\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      acceptLink(
        ws,
        e.links,
        (link) => {
          // a new link (first connection, or an agent that could not resume): a new session
          const old = e.session;
          const s = new Session(link, this.opts);
          e.session = s;
          old?.link.close(new Error("the agent connected again without resuming"));
          let timer: NodeJS.Timeout | undefined;
          let mainDone = false;
          s.mainExited.then(
            () => (mainDone = true),
            () => {},
          );
          link.on("detached", () => {
            // after reporting the main exit the agent goes away on purpose once it sent everything;
            // attach output still pending means this was a drop: wait for the agent to resume
            if (mainDone && !s.mainOutputPending)
              return link.close(new Error("the agent exited after its main process"));
            timer = setTimeout(
              () => link.close(new Error("the agent did not reconnect")),
              this.opts.resumeTimeoutMs ?? 60_000,
            );
            timer.unref();
          });
          link.on("attached", () => clearTimeout(timer));
          link.once("closed", () => clearTimeout(timer));
          for (const w of e.waiters.splice(0)) w(s);
        },
        this.opts,
      ).catch(() => ws.terminate());
    });
  }
}
