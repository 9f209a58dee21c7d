export interface SandboxMount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
}

export interface SandboxSpec {
  /** Host directory that becomes "/" inside the sandbox (the container's merged filesystem). */
  rootfs: string;
  mounts: SandboxMount[];
  /** "/" refuses writes (docker run --read-only); mounts keep their own mode. */
  readOnlyRootfs?: boolean;
  /** Full command line: entrypoint + cmd, already resolved by the engine. */
  argv: string[];
  env: string[]; // "K=V"
  cwd: string; // absolute path inside the sandbox, "/" if empty
  user?: string; // "root", "1000", "user:group"
  hostname: string;
  tty: boolean;
  /** stdin is connected (docker -i): data arrives via writeStdin/endStdin. */
  openStdin: boolean;
  /** Containers copied from one image may share cached lookups under this key (the image id). */
  shareKey?: string;
  /** true for the container's main process (PID 1 semantics for signals), false for exec. */
  isInit: boolean;
  limits?: {
    memoryBytes?: number;
    timeoutMs?: number;
    /** Per-command cap on stdout and on stderr (bytes); output beyond it is discarded. Default 256 MiB. */
    outputBytes?: number;
  };
}

export type OutputStream = "stdout" | "stderr";

export interface SandboxProcess {
  /** Output as it is produced. In TTY mode everything is reported as "stdout". */
  onOutput(listener: (stream: OutputStream, data: Buffer) => void): void;
  writeStdin(data: Buffer): void;
  endStdin(): void;
  /**
   * Deliver a signal ("SIGTERM", "SIGKILL", "SIGINT", ...). Docker semantics: SIGKILL always ends the
   * process (exit 137); other signals end a non-init process with 128+signo, while an init process
   * (isInit) ignores signals it has no handler for, as PID 1 does in a real container.
   */
  signal(sig: string): void;
  resize(rows: number, cols: number): void;
  /** Resolves once with the exit code when the process ends (never rejects). */
  readonly exited: Promise<number>;
}
