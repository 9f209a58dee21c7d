import { EventEmitter } from "node:events";
import { LogFile } from "./logs.js";
import type { RunningProcess } from "./types.js";

export type OutputListener = (stream: "stdout" | "stderr", data: Buffer) => void;

/**
 * In-memory companion of a container record: its process, log file, attached clients and waiters.
 * Events: "exit" (code) after every exit, "removed" when the container is gone.
 */
export class Runtime extends EventEmitter {
  proc: RunningProcess | undefined;
  readonly attached = new Set<OutputListener>();
  /** stdin written by attach clients before the process started */
  private pendingStdin: Buffer[] = [];
  private pendingEnd = false;
  stopping = false;
  restartTimer: NodeJS.Timeout | undefined;
  healthTimer: NodeJS.Timeout | undefined;
  pid = 0;

  constructor(readonly log: LogFile) {
    super();
    this.setMaxListeners(0);
  }

  bind(proc: RunningProcess, pid: number): void {
    this.proc = proc;
    this.pid = pid;
    proc.onOutput((stream, data) => {
      this.log.write(stream === "stdout" ? 1 : 2, data);
      for (const l of this.attached) l(stream, data);
    });
    for (const b of this.pendingStdin) proc.writeStdin(b);
    if (this.pendingEnd) proc.endStdin();
    this.pendingStdin = [];
    this.pendingEnd = false;
  }

  writeStdin(data: Buffer): void {
    if (this.proc) this.proc.writeStdin(data);
    else this.pendingStdin.push(data);
  }

  endStdin(): void {
    if (this.proc) this.proc.endStdin();
    else this.pendingEnd = true;
  }

  /** Resolves at the next exit (or removal) of the container. */
  nextExit(): Promise<number | undefined> {
    return new Promise((resolve) => {
      const onExit = (code: number) => {
        this.off("removed", onRemoved);
        resolve(code);
      };
      const onRemoved = () => {
        this.off("exit", onExit);
        resolve(undefined);
      };
      this.once("exit", onExit);
      this.once("removed", onRemoved);
    });
  }
}
