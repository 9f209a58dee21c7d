/** Docker's stdcopy framing: [stream, 0, 0, 0, len(u32 BE)] + payload. */
export type StreamId = 0 | 1 | 2;

export function frame(stream: StreamId, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Incremental demuxer: feed bytes, get whole frames out. */
export class Demuxer {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { stream: StreamId; payload: Buffer }[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: { stream: StreamId; payload: Buffer }[] = [];
    while (this.pending.length >= 8) {
      const len = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + len) break;
      out.push({ stream: this.pending[0] as StreamId, payload: this.pending.subarray(8, 8 + len) });
      this.pending = this.pending.subarray(8 + len);
    }
    return out;
  }
}
