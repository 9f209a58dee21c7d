import { Writable } from "node:stream";
import type Docker from "dockerode";
import type { LogSink, LogSinkOptions } from "../sim.js";

/**
 * The awslogs log driver: follow a container's stdout/stderr in the engine and append each line,
 * with the engine's timestamp, to CloudWatch Logs while the container runs.
 */

export interface ShipOptions {
  group: string;
  stream: string;
  /** region and awslogs-create-group */
  sinkOptions: LogSinkOptions;
  tty: boolean;
  /** engine timestamp of the last line already shipped (after a simulator restart) */
  after?: string;
  signal: AbortSignal;
  /** read at each flush: the logs service may set it after ECS starts */
  sink: () => LogSink | undefined;
  onShipped: (engineTimestamp: string) => void;
}

/** RFC 3339 with up to 9 fractional digits -> ns since the epoch (docker trims trailing zeros). */
export function engineNanos(ts: string): bigint {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(ts);
  if (!m) return 0n;
  const secs = BigInt(Math.floor(Date.parse(`${m[1]}Z`) / 1000));
  return secs * 1_000_000_000n + BigInt((m[2] ?? "").padEnd(9, "0").slice(0, 9));
}

/** Resolves when the engine ends the log stream (the container stopped) or on abort. */
export async function followLogs(docker: Docker, id: string, o: ShipOptions): Promise<void> {
  const after = o.after ? engineNanos(o.after) : undefined;
  const stream = (await docker.getContainer(id).logs({
    follow: true,
    stdout: true,
    stderr: true,
    timestamps: true,
    since: after === undefined ? 0 : Number(after / 1_000_000_000n),
    abortSignal: o.signal,
  } as Docker.ContainerLogsOptions & { follow: true })) as unknown as NodeJS.ReadableStream;

  let pending: { timestamp: number; message: string; ns: bigint }[] = [];
  let lastTs = "";
  let lastNs = 0n;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (!pending.length) return;
    // like docker's awslogs driver, send a batch in chronological order (stdout and stderr interleave)
    const events = pending.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
    pending = [];
    try {
      o.sink()?.append(
        o.group,
        o.stream,
        events.map(({ timestamp, message }) => ({ timestamp, message })),
        o.sinkOptions,
      );
    } catch {
      // the group was deleted while the container runs: like the driver, drop the batch and go on
    }
    o.onShipped(lastTs);
  };
  const line = (raw: string) => {
    const sp = raw.indexOf(" ");
    if (sp < 0) return;
    const ts = raw.slice(0, sp);
    const message = raw.slice(sp + 1).replace(/\r?\n$/, "");
    const ns = engineNanos(ts);
    if (after !== undefined && ns <= after) return;
    // CloudWatch Logs rejects empty messages; the awslogs driver skips them too
    if (!message) return;
    pending.push({ timestamp: Number(ns / 1_000_000n), message, ns });
    if (ns > lastNs) [lastNs, lastTs] = [ns, ts];
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };

  if (o.tty) {
    // a TTY stream is raw bytes: split it into lines
    let buf = "";
    stream.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        line(buf.slice(0, nl + 1));
        buf = buf.slice(nl + 1);
      }
    });
    stream.on("end", () => buf && line(buf));
  } else {
    // each multiplexed frame is one log message, stdout and stderr alike
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        line(chunk.toString("utf8"));
        cb();
      },
    });
    docker.modem.demuxStream(stream, sink, sink);
  }
  await new Promise<void>((resolve) => {
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", () => resolve());
  });
  flush();
}
