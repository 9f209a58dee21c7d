import type { Duplex } from "node:stream";
import { Demuxer } from "@sockerless/api";
import type { RunningProcess } from "@sockerless/engine";

type Listener = (stream: "stdout" | "stderr", data: Buffer) => void;

/**
 * A process on the Docker Engine seen through one hijacked connection (attach or exec start):
 * output demultiplexed (raw with a TTY), stdin written through with EOF as a half-close. Output
 * that arrives before the engine subscribes is kept, not dropped.
 */
export class HijackedProcess implements RunningProcess {
  private listeners: Listener[] = [];
  private early: [stream: "stdout" | "stderr", data: Buffer][] = [];
  private stream: Duplex | undefined;
  private stdinEnded = false;
  private pendingStdin: Buffer[] = [];
  private streamEnded: Promise<void> = Promise.resolve();
  readonly exited: Promise<number>;
  /** Settles `exited`; the owner calls it once it knows the exit code. */
  settle!: (code: number) => void;

  constructor(
    private readonly tty: boolean,
    private readonly ops: { signal(sig: string): void; resize(rows: number, cols: number): void },
  ) {
    this.exited = new Promise<number>((resolve) => (this.settle = resolve));
  }

  /** Resolves when the bound connection has delivered all of its output. */
  drained(): Promise<void> {
    return this.streamEnded;
  }

  /** Bind the hijacked connection (again, after a reconnect). */
  bind(stream: Duplex): void {
    this.stream = stream;
    let done!: () => void;
    this.streamEnded = new Promise<void>((r) => (done = r));
    const demux = this.tty ? undefined : new Demuxer();
    stream.on("data", (chunk: Buffer) => {
      if (!demux) return this.emit("stdout", chunk);
      for (const f of demux.push(chunk)) {
        if (f.stream === 1 || f.stream === 2) this.emit(f.stream === 1 ? "stdout" : "stderr", f.payload);
      }
    });
    stream.once("end", done);
    stream.once("close", done);
    stream.once("error", done);
    for (const b of this.pendingStdin) stream.write(b);
    this.pendingStdin = [];
    if (this.stdinEnded) stream.end();
  }

  /** The connection is gone for good (engine unreachable): the exit code comes another way. */
  unbind(): void {
    this.stream?.destroy();
    this.stream = undefined;
  }

  private emit(stream: "stdout" | "stderr", data: Buffer) {
    if (this.listeners.length === 0) {
      this.early.push([stream, data]);
      return;
    }
    for (const l of this.listeners) l(stream, data);
  }

  onOutput(listener: Listener): void {
    this.listeners.push(listener);
    for (const [s, d] of this.early) listener(s, d);
    this.early = [];
  }

  writeStdin(data: Buffer): void {
    if (this.stdinEnded) return;
    if (this.stream) this.stream.write(data);
    else this.pendingStdin.push(data);
  }

  endStdin(): void {
    if (this.stdinEnded) return;
    this.stdinEnded = true;
    this.stream?.end();
  }

  signal(sig: string): void {
    this.ops.signal(sig);
  }

  resize(rows: number, cols: number): void {
    this.ops.resize(rows, cols);
  }
}
