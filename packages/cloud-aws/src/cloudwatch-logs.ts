import {
  type CloudWatchLogsClient,
  DescribeLogStreamsCommand,
  FilterLogEventsCommand,
  GetLogEventsCommand,
  type OutputLogEvent,
} from "@aws-sdk/client-cloudwatch-logs";
import { logMarkLine } from "@sockerless/agent";
import { log } from "@sockerless/api";
import { type LogQuery, type LogRecord, selectRecords } from "@sockerless/engine";

/**
 * `docker logs` from CloudWatch Logs: every stream of a container (one per task run or Lambda
 * execution environment) merged by time. CloudWatch keeps lines, not streams: everything reads as
 * stdout, and each event gets its newline back.
 */
export interface CloudWatchSource {
  client: CloudWatchLogsClient;
  group: string;
  /** streams whose names start with this belong to the container */
  streamPrefix: string;
  /** platform lines that are not the container's output (Lambda's START/END/REPORT) */
  skip?: (message: string) => boolean;
}

const POLL_MS = 250;

/** The agent's own messages (it wraps the container's process and shares its stderr): not output. */
export const isAgentLine = (message: string) => message.startsWith("sockerless-agent: ");

async function streamNames(src: CloudWatchSource): Promise<string[]> {
  const out: string[] = [];
  let nextToken: string | undefined;
  do {
    let page;
    try {
      page = await src.client.send(
        new DescribeLogStreamsCommand({
          logGroupName: src.group,
          logStreamNamePrefix: src.streamPrefix || undefined,
          nextToken,
        }),
      );
    } catch (e) {
      if ((e as Error).name === "ResourceNotFoundException") return out; // no group yet: no logs yet
      throw e;
    }
    for (const s of page.logStreams ?? []) if (s.logStreamName) out.push(s.logStreamName);
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
}

/** Reads each stream forward from where it was left; the token repeats when a stream is drained. */
class StreamCursor {
  private token: string | undefined;
  constructor(
    private readonly src: CloudWatchSource,
    readonly name: string,
    private readonly startTime: number | undefined,
  ) {}

  async next(): Promise<OutputLogEvent[]> {
    const out: OutputLogEvent[] = [];
    for (;;) {
      const page = await this.src.client.send(
        new GetLogEventsCommand({
          logGroupName: this.src.group,
          logStreamName: this.name,
          startFromHead: true,
          startTime: this.token ? undefined : this.startTime,
          nextToken: this.token,
        }),
      );
      out.push(...(page.events ?? []));
      const repeated = page.nextForwardToken === this.token;
      this.token = page.nextForwardToken ?? this.token;
      if (repeated || !page.events?.length) return out;
    }
  }
}

let lastNs = 0n;
/** CloudWatch times are ms: spread events of one ms over ns so `since`/`until` stay exact. */
function toRecord(e: OutputLogEvent): LogRecord {
  let ns = BigInt(e.timestamp ?? 0) * 1_000_000n;
  if (ns <= lastNs && lastNs - ns < 1_000_000n) ns = lastNs + 1n;
  lastNs = ns > lastNs ? ns : lastNs;
  return { stream: 1, timeNs: ns, data: Buffer.from(`${e.message ?? ""}\n`) };
}

export async function readCloudWatchLogs(
  src: CloudWatchSource,
  q: LogQuery,
  follow: { ended: Promise<unknown> } | undefined,
  onRecord: (r: LogRecord) => void | Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const startTime = q.sinceNs !== undefined ? Number(q.sinceNs / 1_000_000n) : undefined;
  const cursors = new Map<string, StreamCursor>();
  const round = async (): Promise<LogRecord[]> => {
    for (const name of await streamNames(src))
      if (!cursors.has(name)) cursors.set(name, new StreamCursor(src, name, startTime));
    const events = (await Promise.all([...cursors.values()].map((c) => c.next()))).flat();
    return events
      .filter((e) => !src.skip?.(e.message ?? ""))
      .sort(
        (a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0) || (a.ingestionTime ?? 0) - (b.ingestionTime ?? 0),
      )
      .map(toRecord);
  };
  for (const r of selectRecords(await round(), q)) await onRecord(r);
  if (!follow) return;
  let ended = false;
  let wake: () => void = () => {};
  void follow.ended.then(() => {
    ended = true;
    wake();
  });
  const live = { ...q, tail: undefined };
  while (!signal.aborted) {
    // poll; once the container ended, one last round right away: what was shipped just before
    const last = ended;
    if (!last) await new Promise<void>((r) => ((wake = r), setTimeout(r, POLL_MS)));
    for (const r of selectRecords(await round(), live)) await onRecord(r);
    if (last) return;
  }
}

/** How long the platform may take to deliver a workload's last lines (awslogs batches every 5 s). */
const LOG_MARK_TIMEOUT_MS = 15_000;
/** first poll interval, doubled up to a second: FilterLogEvents allows only 5 calls/s per account */
const LOG_MARK_POLL_MS = 10;
const LOG_MARK_POLL_MAX_MS = 1000;

/**
 * Wait until CloudWatch Logs holds both end-of-output markers the agent wrote after the main
 * process's output (stdout's and stderr's): each stream arrives in order, so then every line of
 * the container is there. dockerd also reports a container exited only after its log driver took
 * all of its output. Gives up with a warning after LOG_MARK_TIMEOUT_MS (logs are then incomplete,
 * the exit itself is not held up for ever).
 */
export async function waitForLogMark(src: CloudWatchSource, mark: string): Promise<void> {
  const pattern = `"${logMarkLine(mark)}"`;
  const deadline = Date.now() + LOG_MARK_TIMEOUT_MS;
  for (let delay = LOG_MARK_POLL_MS; ; delay = Math.min(delay * 2, LOG_MARK_POLL_MAX_MS)) {
    let found = 0;
    try {
      let nextToken: string | undefined;
      do {
        const page = await src.client.send(
          new FilterLogEventsCommand({
            logGroupName: src.group,
            logStreamNamePrefix: src.streamPrefix || undefined,
            filterPattern: pattern,
            nextToken,
          }),
        );
        found += page.events?.length ?? 0;
        nextToken = page.nextToken;
      } while (nextToken && found < 2);
    } catch (e) {
      // the SDK already retried throttling and 5xx; the container's exit must not wait on this
      if ((e as Error).name !== "ResourceNotFoundException") {
        log.warn({ err: e, group: src.group }, "reading CloudWatch Logs for the end of output failed");
        return;
      }
    }
    if (found >= 2) return;
    if (Date.now() >= deadline) {
      log.warn(
        { group: src.group, streamPrefix: src.streamPrefix, mark },
        "the container's last log lines did not reach CloudWatch Logs in time: docker logs may miss some",
      );
      return;
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}
