import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";
import type WebSocket from "ws";
import {
  decodeData,
  encodeData,
  parseText,
  type Control,
  type DataFrame,
  type DataKind,
  type Sequenced,
} from "./protocol.js";

export interface LinkOptions {
  /** unacknowledged bytes kept for replay; beyond this, data producers wait */
  maxReplayBytes?: number;
  /** ping interval; a peer that misses two pongs is dropped (and the link resumes) */
  pingMs?: number;
  /** acknowledge after this many received bytes (or `ackDelayMs`, whichever first) */
  ackBytes?: number;
  ackDelayMs?: number;
}

interface Pending {
  seq: number;
  frame: Buffer | string;
  size: number;
}

/**
 * A reliable, ordered, resumable message stream over a replaceable WebSocket.
 *
 * Every message gets a sequence number and stays in a replay buffer until the peer acknowledges
 * it; after a reconnect (`attach` with the peer's last received number) the rest is sent again and
 * duplicates are dropped on receipt. The replay buffer is bounded: `whenWritable()` makes data
 * producers wait while it is full, so nothing is dropped and nothing grows without bound.
 *
 * Events: "message" (Sequenced), "data" (DataFrame), "detached" (the socket went away),
 * "closed" (Error | undefined; final).
 */
export class Link extends EventEmitter {
  readonly id: string;
  private ws: WebSocket | undefined;
  private sentSeq = 0;
  private recvSeq = 0;
  private ackedByPeer = 0;
  private replay: Pending[] = [];
  private replayBytes = 0;
  private unackedRecvBytes = 0;
  private ackTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private writableWaiters: (() => void)[] = [];
  private closedWith: { err?: Error } | undefined;
  private readonly maxReplayBytes: number;
  private readonly pingMs: number;
  private readonly ackBytes: number;
  private readonly ackDelayMs: number;

  constructor(id: string = randomUUID(), opts: LinkOptions = {}) {
    super();
    this.id = id;
    this.maxReplayBytes = opts.maxReplayBytes ?? 8 * 1024 * 1024;
    this.pingMs = opts.pingMs ?? 15_000;
    this.ackBytes = opts.ackBytes ?? 256 * 1024;
    this.ackDelayMs = opts.ackDelayMs ?? 20;
  }

  /** Last sequence number received in order (sent in `hello`/`welcome`). */
  get received(): number {
    return this.recvSeq;
  }
  get connected(): boolean {
    return this.ws !== undefined;
  }
  get closed(): boolean {
    return this.closedWith !== undefined;
  }
  /** True once the peer acknowledged every message up to `seq`. */
  acknowledged(seq: number): boolean {
    return this.ackedByPeer >= seq;
  }
  get lastSent(): number {
    return this.sentSeq;
  }

  /** Use `ws` from now on; the peer has received everything up to `peerRecv`. */
  attach(ws: WebSocket, peerRecv: number, early: [WebSocket.RawData, boolean][] = []): void {
    if (this.closedWith) {
      ws.close(1011, "link closed");
      return;
    }
    if (peerRecv > this.sentSeq)
      throw new Error(`peer claims message ${peerRecv}, only ${this.sentSeq} were sent`);
    this.dropSocket();
    this.ws = ws;
    this.emit("attached");
    this.onAck(peerRecv);
    for (const p of this.replay) ws.send(p.frame);
    let alive = true;
    ws.on("pong", () => (alive = true));
    this.pingTimer = setInterval(() => {
      if (!alive) {
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    }, this.pingMs);
    this.pingTimer.unref();
    const onMessage = (raw: WebSocket.RawData, isBinary: boolean) => {
      if (this.ws !== ws) return;
      try {
        this.onFrame(raw as Buffer, isBinary);
      } catch (e) {
        // a malformed frame from the peer: drop this socket, the peer resumes on a new one
        ws.close(1002, (e as Error).message.slice(0, 100));
      }
    };
    ws.on("message", onMessage);
    for (const [raw, isBinary] of early) onMessage(raw, isBinary);
    const gone = () => {
      if (this.ws !== ws) return;
      this.dropSocket();
      if (!this.closedWith) this.emit("detached");
    };
    ws.on("close", (code: number) => {
      // 1000 comes only from close(): the peer ended the link for good and will not resume it
      if (code === 1000 && this.ws === ws) this.close(new Error("the peer closed the link"));
      else gone();
    });
    ws.on("error", gone);
  }

  /** Send a control message (never blocks: control messages are small). */
  send(msg: Control): number {
    const seq = ++this.sentSeq;
    const text = JSON.stringify({ ...msg, seq });
    this.queue({ seq, frame: text, size: text.length });
    return seq;
  }

  /** Send data; callers wait for `whenWritable()` first so the replay buffer stays bounded. */
  sendData(kind: DataKind, ch: number, payload: Buffer): void {
    const seq = ++this.sentSeq;
    this.queue({ seq, frame: encodeData(kind, ch, seq, payload), size: payload.length });
  }

  get writable(): boolean {
    return this.replayBytes < this.maxReplayBytes;
  }

  whenWritable(): Promise<void> {
    if (this.writable || this.closedWith) return Promise.resolve();
    return new Promise((resolve) => this.writableWaiters.push(resolve));
  }

  /** Close for good: the socket is closed and every waiter released. */
  close(err?: Error): void {
    if (this.closedWith) return;
    this.closedWith = { err };
    const ws = this.ws;
    this.dropSocket();
    ws?.close(1000);
    this.replay = [];
    this.replayBytes = 0;
    this.wakeWriters();
    this.emit("closed", err);
  }

  /** Drop the current socket without closing the link (tests, or a socket known to be dead). */
  detachSocket(): void {
    const ws = this.ws;
    if (!ws) return;
    this.dropSocket();
    ws.terminate();
    this.emit("detached");
  }

  private queue(p: Pending): void {
    if (this.closedWith) return;
    this.replay.push(p);
    this.replayBytes += p.size;
    this.ws?.send(p.frame);
  }

  private onFrame(raw: Buffer, isBinary: boolean): void {
    if (isBinary) {
      const f: DataFrame = decodeData(raw);
      if (!this.accept(f.seq, f.payload.length)) return;
      this.emit("data", f);
      return;
    }
    const m = parseText(raw.toString("utf8"));
    if (m.t === "ack") {
      this.onAck(m.recv);
      return;
    }
    if (m.t === "hello" || m.t === "welcome") throw new Error(`unexpected ${m.t}`);
    const s = m as Sequenced;
    if (!this.accept(s.seq, 64)) return;
    this.emit("message", s);
  }

  /** In-order check; duplicates (replayed after a resume) are dropped. */
  private accept(seq: number, size: number): boolean {
    if (seq <= this.recvSeq) return false;
    if (seq !== this.recvSeq + 1) throw new Error(`sequence gap: got ${seq} after ${this.recvSeq}`);
    this.recvSeq = seq;
    this.unackedRecvBytes += size;
    if (this.unackedRecvBytes >= this.ackBytes) this.sendAck();
    else if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => this.sendAck(), this.ackDelayMs);
    }
    return true;
  }

  private sendAck(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.unackedRecvBytes = 0;
    this.ws?.send(JSON.stringify({ t: "ack", recv: this.recvSeq }));
  }

  private onAck(recv: number): void {
    if (recv <= this.ackedByPeer) return;
    this.ackedByPeer = recv;
    let n = 0;
    while (n < this.replay.length && this.replay[n].seq <= recv) {
      this.replayBytes -= this.replay[n].size;
      n++;
    }
    this.replay.splice(0, n);
    this.emit("acked", recv);
    if (this.writable) this.wakeWriters();
  }

  private wakeWriters(): void {
    const w = this.writableWaiters;
    this.writableWaiters = [];
    for (const f of w) f();
  }

  private dropSocket(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.ackTimer);
    this.pingTimer = undefined;
    this.ackTimer = undefined;
    this.unackedRecvBytes = 0;
    const ws = this.ws;
    this.ws = undefined;
    ws?.removeAllListeners("message");
    ws?.removeAllListeners("pong");
    ws?.on("error", () => {});
  }
}
