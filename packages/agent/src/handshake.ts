import WebSocket from "ws";
import { Link, type LinkOptions } from "./link.js";
import { parseText, type Hello, type Welcome } from "./protocol.js";

const HANDSHAKE_TIMEOUT_MS = 10_000;

type Frame = [WebSocket.RawData, boolean];

/**
 * Reads the handshake message and keeps every frame that arrives after it (ws may deliver several
 * in one tick) until `take()` hands them to the link.
 */
function handshakeReader(ws: WebSocket): { first: Promise<unknown>; take(): Frame[] } {
  const early: Frame[] = [];
  let got = false;
  let onMessage!: (raw: WebSocket.RawData, isBinary: boolean) => void;
  let onClose!: () => void;
  const first = new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no handshake from the peer")), HANDSHAKE_TIMEOUT_MS);
    onMessage = (raw, isBinary) => {
      if (got) {
        early.push([raw, isBinary]);
        return;
      }
      got = true;
      clearTimeout(timer);
      if (isBinary) reject(new Error("binary frame before the handshake"));
      else {
        try {
          resolve(parseText(raw.toString()));
        } catch (e) {
          reject(e as Error);
        }
      }
    };
    onClose = () => {
      clearTimeout(timer);
      reject(new Error("connection closed during the handshake"));
    };
  });
  ws.on("message", onMessage);
  ws.on("close", onClose);
  ws.on("error", () => {});
  return {
    first,
    take() {
      ws.off("message", onMessage);
      ws.off("close", onClose);
      return early;
    },
  };
}

/**
 * Accepting side of the handshake: resume a known link or start a new one (`onNew`).
 * An unknown link id is answered `resumed: false` and the socket closed: that link is gone.
 */
export async function acceptLink(
  ws: WebSocket,
  links: Map<string, Link>,
  onNew: (link: Link) => void,
  opts?: LinkOptions,
): Promise<Link | undefined> {
  const reader = handshakeReader(ws);
  const hello = (await reader.first) as Hello;
  if (hello.t !== "hello") throw new Error(`expected hello, got ${hello.t}`);
  let link = hello.link ? links.get(hello.link) : undefined;
  if (hello.link && (!link || link.closed)) {
    ws.send(JSON.stringify({ t: "welcome", link: hello.link, recv: 0, resumed: false } satisfies Welcome));
    ws.close(1000);
    return undefined;
  }
  const resumed = !!link;
  if (!link) {
    link = new Link(undefined, opts);
    links.set(link.id, link);
    link.once("closed", () => links.delete(link!.id));
    onNew(link);
  }
  ws.send(JSON.stringify({ t: "welcome", link: link.id, recv: link.received, resumed } satisfies Welcome));
  link.attach(ws, resumed ? hello.recv : 0, reader.take());
  return link;
}

export class HandshakeRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Open a WebSocket; an HTTP refusal (401, 404, …) becomes a HandshakeRefused. */
export function openSocket(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    ws.once("open", () => {
      ws.off("error", reject);
      resolve(ws);
    });
    ws.once("unexpected-response", (_req, res) => {
      ws.off("error", reject);
      ws.on("error", () => {}); // terminate() below reports the aborted handshake as an error
      reject(new HandshakeRefused(res.statusCode ?? 0, `agent connection refused: HTTP ${res.statusCode}`));
      res.resume();
      ws.terminate();
    });
    ws.once("error", reject);
  });
}

/**
 * Dialling side: say hello (resuming `link` if given) and attach the socket to the link the peer
 * names. Returns the link: a new one (passed to `onNew` before any frame reaches it) when none was
 * given; when the peer had forgotten the given one, that one is closed with an error (its channels
 * cannot be recovered) and returned with `resumed: false`.
 */
export async function dialLink(
  ws: WebSocket,
  link: Link | undefined,
  opts?: LinkOptions,
  onNew?: (link: Link) => void,
): Promise<{ link: Link; resumed: boolean }> {
  const reader = handshakeReader(ws);
  ws.send(JSON.stringify({ t: "hello", link: link?.id, recv: link?.received ?? 0 } satisfies Hello));
  const welcome = (await reader.first) as Welcome;
  if (welcome.t !== "welcome") throw new Error(`expected welcome, got ${welcome.t}`);
  if (link && !welcome.resumed) {
    link.close(new Error("the peer no longer knows this connection; its streams are lost"));
    ws.close(1000);
    return { link, resumed: false };
  }
  let l = link;
  if (!l) {
    l = new Link(welcome.link, opts);
    onNew?.(l); // its listeners must be in place before the first frames are replayed into it
  }
  l.attach(ws, welcome.recv, reader.take());
  return { link: l, resumed: !!link };
}
