import { EventEmitter } from "node:events";
import { closeSync, openSync, promises as fs, writeSync } from "node:fs";

/** One stored log line: stream 1 stdout / 2 stderr, time in ns since the epoch. */
export interface LogRecord {
  stream: 1 | 2;
  timeNs: bigint;
  data: Buffer;
}

const HEADER = 13; // stream u8, time u64 BE, length u32 BE

let lastNs = 0n;
/** Strictly increasing ns timestamps, so since/until are exact. */
export function nowNs(): bigint {
  let t = BigInt(Date.now()) * 1_000_000n;
  if (t <= lastNs) t = lastNs + 1n;
  lastNs = t;
  return t;
}

export function formatNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}

function encode(r: LogRecord): Buffer {
  const b = Buffer.alloc(HEADER + r.data.length);
  b[0] = r.stream;
  b.writeBigUInt64BE(r.timeNs, 1);
  b.writeUInt32BE(r.data.length, 9);
  r.data.copy(b, HEADER);
  return b;
}

export function decodeAll(buf: Buffer): LogRecord[] {
  const out: LogRecord[] = [];
  let off = 0;
  while (off + HEADER <= buf.length) {
    const len = buf.readUInt32BE(off + 9);
    if (off + HEADER + len > buf.length) break; // torn tail after a crash: ignore it
    out.push({
      stream: buf[off] as 1 | 2,
      timeNs: buf.readBigUInt64BE(off + 1),
      data: buf.subarray(off + HEADER, off + HEADER + len),
    });
    off += HEADER + len;
  }
  return out;
}

/**
 * Append-only, framed log file of one container. Output is split into lines like dockerd's
 * json-file driver; a trailing partial line is flushed when more output or the end arrives.
 */
export class LogFile extends EventEmitter {
  private fd: number | undefined;
  private partial: Record<1 | 2, Buffer[]> = { 1: [], 2: [] };

  constructor(readonly file: string) {
    super();
    this.setMaxListeners(0);
  }

  private ensureOpen(): number {
    if (this.fd === undefined) this.fd = openSync(this.file, "a");
    return this.fd;
  }

  write(stream: 1 | 2, chunk: Buffer): void {
    let start = 0;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, i + 1);
      const parts = this.partial[stream];
      this.append({ stream, timeNs: nowNs(), data: parts.length ? Buffer.concat([...parts, piece]) : piece });
      this.partial[stream] = [];
      start = i + 1;
    }
    if (start < chunk.length) this.partial[stream].push(Buffer.from(chunk.subarray(start)));
  }

  /** Flush partial lines (process ended or a reader wants everything now). */
  flush(): void {
    for (const s of [1, 2] as const) {
      if (this.partial[s].length) {
        this.append({ stream: s, timeNs: nowNs(), data: Buffer.concat(this.partial[s]) });
        this.partial[s] = [];
      }
    }
  }

  private append(r: LogRecord): void {
    writeSync(this.ensureOpen(), encode(r));
    this.emit("record", r);
  }

  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.emit("closed");
  }

  async readAll(): Promise<LogRecord[]> {
    try {
      return decodeAll(await fs.readFile(this.file));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
  }
}

export interface LogQuery {
  stdout: boolean;
  stderr: boolean;
  sinceNs?: bigint;
  untilNs?: bigint;
  tail?: number; // undefined = all
}

export function selectRecords(records: LogRecord[], q: LogQuery): LogRecord[] {
  let r = records.filter(
    (x) =>
      ((x.stream === 1 && q.stdout) || (x.stream === 2 && q.stderr)) &&
      (q.sinceNs === undefined || x.timeNs > q.sinceNs) &&
      (q.untilNs === undefined || x.timeNs <= q.untilNs),
  );
  if (q.tail !== undefined) r = q.tail === 0 ? [] : r.slice(-q.tail);
  return r;
}
