import type { Readable } from "node:stream";
import type { Simulator } from "../sim.js";

/** "2024/01/31/[$LATEST]<32 hex>", the stream name Lambda gives each execution environment. */
export function logStreamName(envId: string, d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/[$LATEST]${envId}`;
}

/**
 * The log of one execution environment: container output split into lines plus the platform's
 * own lines (START/END/REPORT), each sent to CloudWatch Logs and to whoever listens (the
 * running invocation, for X-Amz-Log-Result).
 */
export class EnvironmentLog {
  /** called for every line, after it is sent to CloudWatch Logs */
  onLine: (line: string) => void = () => {};
  private lastOutputAt = 0;

  constructor(
    private readonly sim: Simulator,
    readonly group: string,
    readonly stream: string,
  ) {}

  write(line: string): void {
    try {
      // The CloudWatch Logs sink is optional: without it, logs reach only X-Amz-Log-Result.
      // Lambda creates its function's log group on first write (with the role's logs:CreateLogGroup)
      this.sim.logSink?.append(this.group, this.stream, [{ timestamp: Date.now(), message: line }], {
        createGroup: true,
      });
    } catch {
      // a failing log sink must not fail the invocation
    }
    this.onLine(line);
  }

  /** Follow a container output stream line by line. */
  follow(out: Readable): void {
    let partial = "";
    out.setEncoding("utf8");
    out.on("data", (chunk: string) => {
      this.lastOutputAt = Date.now();
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) this.write(l.replace(/\r$/, ""));
    });
    out.on("end", () => {
      if (partial) this.write(partial);
      partial = "";
    });
  }

  /**
   * Wait for the output a runtime printed before posting its response: it travels through the
   * engine (shim, dockerd, attach stream) while the response takes a direct connection, so it
   * can arrive later. Nothing marks its end; wait at least `minMs` after the response, then for
   * `quietMs` without output (at most `maxMs`). Costs ~40 ms per invocation, measured to hold
   * under load.
   */
  async settle(since: number, minMs = 40, quietMs = 20, maxMs = 500): Promise<void> {
    for (;;) {
      const now = Date.now();
      const wait = Math.max(since + minMs - now, this.lastOutputAt + quietMs - now);
      if (wait <= 0 || now - since >= maxMs) return;
      await new Promise((r) => setTimeout(r, Math.min(wait, since + maxMs - now)));
    }
  }
}

/** The platform's REPORT line. */
export function reportLine(
  requestId: string,
  durationMs: number,
  memorySize: number,
  initMs: number | undefined,
  status?: { status: string; errorType?: string },
): string {
  const parts = [
    `REPORT RequestId: ${requestId}`,
    `Duration: ${durationMs.toFixed(2)} ms`,
    `Billed Duration: ${Math.max(1, Math.ceil(durationMs + (initMs ?? 0)))} ms`,
    `Memory Size: ${memorySize} MB`,
  ];
  if (initMs !== undefined) parts.push(`Init Duration: ${initMs.toFixed(2)} ms`);
  if (status) parts.push(`Status: ${status.status}`);
  if (status?.errorType) parts.push(`Error Type: ${status.errorType}`);
  return parts.join("\t");
}

/** The last 4 KB of an invocation's log, base64, as X-Amz-Log-Result carries it. */
export function logTail(lines: string[]): string {
  const text = Buffer.from(lines.map((l) => `${l}\n`).join(""), "utf8");
  return text.subarray(Math.max(0, text.length - 4096)).toString("base64");
}
