import type { RunningProcess } from "@sockerless/engine";

type Listener = (stream: "stdout" | "stderr", data: Buffer) => void;

/** What a cloud workload can do with its main process; anything missing is not possible there. */
export interface ProcessControls {
  signal(sig: string): void;
  writeStdin?(data: Buffer): void;
  endStdin?(): void;
  resize?(rows: number, cols: number): void;
}

/** A cloud workload's main process as the engine sees it: output fed by the backend, exit settled once. */
export class CloudProcess implements RunningProcess {
  private readonly listeners: Listener[] = [];
  /** output that came before anyone listened (the engine binds after start returns) */
  private early: ["stdout" | "stderr", Buffer][] | undefined = [];
  private settle!: (code: number) => void;
  private done = false;
  exitError?: string;
  readonly exited = new Promise<number>((r) => (this.settle = r));

  constructor(private controls: ProcessControls) {}

  /** Swap the controls (the agent connected: signals and stdin go through it now). */
  setControls(c: ProcessControls): void {
    this.controls = c;
  }

  onOutput(l: Listener): void {
    this.listeners.push(l);
    const early = this.early;
    this.early = undefined;
    for (const [stream, data] of early ?? []) l(stream, data);
  }

  emit(stream: "stdout" | "stderr", data: Buffer): void {
    if (this.early) this.early.push([stream, data]);
    else for (const l of this.listeners) l(stream, data);
  }

  writeStdin(data: Buffer): void {
    this.controls.writeStdin?.(data);
  }

  endStdin(): void {
    this.controls.endStdin?.();
  }

  signal(sig: string): void {
    if (!this.done) this.controls.signal(sig);
  }

  resize(rows: number, cols: number): void {
    this.controls.resize?.(rows, cols);
  }

  get finished(): boolean {
    return this.done;
  }

  finish(code: number, error?: string): void {
    if (this.done) return;
    this.done = true;
    this.exitError = error;
    this.settle(code);
  }
}
