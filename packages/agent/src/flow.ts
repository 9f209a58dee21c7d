import { Readable, Writable } from "node:stream";
import type { Link } from "./link.js";
import { MAX_FRAME, type DataKind } from "./protocol.js";

/** Default per-channel window: bytes one side may send before the receiver grants more. */
export const DEFAULT_WINDOW = 256 * 1024;

export class ChannelClosedError extends Error {
  constructor(message = "channel closed") {
    super(message);
  }
}

/**
 * The sending half of a channel: data goes out only against credit the receiver granted and only
 * while the link's replay buffer has room, so a slow reader slows the producer down.
 */
export class Outbound {
  private credit: number;
  private waiters: (() => void)[] = [];
  private closedErr: Error | undefined;

  constructor(
    private readonly link: Link,
    readonly ch: number,
    initialCredit: number,
  ) {
    this.credit = initialCredit;
  }

  addCredit(n: number): void {
    this.credit += n;
    this.wake();
  }

  /** Stop sending: pending and later writes fail with `err`. */
  abort(err: Error = new ChannelClosedError()): void {
    this.closedErr ??= err;
    this.wake();
  }

  async write(kind: DataKind, data: Buffer): Promise<void> {
    let off = 0;
    while (off < data.length) {
      if (this.closedErr) throw this.closedErr;
      if (this.link.closed) throw new ChannelClosedError("agent link closed");
      if (this.credit <= 0) {
        await new Promise<void>((r) => this.waiters.push(r));
        continue;
      }
      if (!this.link.writable) {
        await this.link.whenWritable();
        continue;
      }
      const n = Math.min(this.credit, data.length - off, MAX_FRAME);
      this.link.sendData(kind, this.ch, data.subarray(off, off + n));
      this.credit -= n;
      off += n;
    }
  }

  /** A Writable whose chunks go out as `kind` frames, with back-pressure. */
  writable(kind: DataKind, onFinish?: () => void): Writable {
    return new Writable({
      highWaterMark: 16 * 1024,
      write: (chunk: Buffer, _enc, cb) => {
        this.write(kind, chunk).then(() => cb(), cb);
      },
      final: (cb) => {
        onFinish?.();
        cb();
      },
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/**
 * The receiving half's bookkeeping: credit goes back to the sender only once data was consumed,
 * in batches of a quarter window.
 */
export class Inbound {
  private unreturned = 0;
  constructor(
    private readonly link: Link,
    readonly ch: number,
    private readonly window: number,
  ) {}

  consumed(n: number): void {
    if (this.link.closed) return;
    this.unreturned += n;
    if (this.unreturned >= Math.max(1, this.window >> 2)) {
      this.link.send({ t: "credit", ch: this.ch, n: this.unreturned });
      this.unreturned = 0;
    }
  }
}

/**
 * A Readable fed by data frames; credit is returned as the consumer reads, so an unread stream
 * stops its sender after one window.
 */
export class InboundReadable extends Readable {
  private readonly inbound: Inbound;
  private delivered = 0;
  constructor(link: Link, ch: number, window: number) {
    super({ highWaterMark: 64 * 1024 });
    this.inbound = new Inbound(link, ch, window);
  }
  feed(data: Buffer): void {
    this.delivered += data.length;
    this.push(data);
  }
  override _read(): void {
    if (this.delivered > 0) {
      this.inbound.consumed(this.delivered);
      this.delivered = 0;
    }
  }
}
