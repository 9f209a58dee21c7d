import { AwsError, invalidParameter } from "../errors.js";
import type { JsonHandler } from "../sim.js";
import { compileFilter } from "./logs-filter.js";
import { compileJsonFilter } from "./logs-json-filter.js";
import { groupFrom } from "./logs-groups.js";
import { filterLogEvents, getLogEvents } from "./logs-read.js";
import type { LogGroup, LogStream, LogsStore } from "./logs-store.js";
import { enumValue, groupName, int, page, str, streamName } from "./logs-validate.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MAX_BATCH_BYTES = 1_048_576;

function describe(store: LogsStore, g: LogGroup, s: LogStream) {
  return {
    logStreamName: s.name,
    creationTime: s.creationTime,
    firstEventTimestamp: s.firstEventTimestamp,
    lastEventTimestamp: s.lastEventTimestamp,
    lastIngestionTime: s.lastIngestionTime,
    uploadSequenceToken: s.uploadSequenceToken,
    arn: store.streamArn(g, s),
    storedBytes: 0, // deprecated by AWS, which now always reports 0 here
  };
}

interface InputEvent {
  timestamp: number;
  message: string;
}

/** PutLogEvents' batch rules; the first broken rule is the error AWS reports. */
function validateBatch(events: unknown): InputEvent[] {
  if (!Array.isArray(events))
    throw invalidParameter(
      "1 validation error detected: Value null at 'logEvents' failed to satisfy constraint: Member must not be null",
    );
  if (events.length < 1 || events.length > 10_000)
    throw invalidParameter(
      `1 validation error detected: Value '${events.length} events' at 'logEvents' failed to satisfy constraint: Member must have length ${events.length < 1 ? "greater than or equal to 1" : "less than or equal to 10000"}`,
    );
  let bytes = 0;
  events.forEach((e, i) => {
    if (typeof e?.timestamp !== "number" || typeof e?.message !== "string" || e.message.length < 1)
      throw invalidParameter(
        `1 validation error detected: Value at 'logEvents.${i + 1}.member' failed to satisfy constraint: timestamp and a non-empty message are required`,
      );
    bytes += Buffer.byteLength(e.message) + 26;
  });
  if (bytes > MAX_BATCH_BYTES)
    throw invalidParameter(`Upload too large: ${bytes} bytes exceeds limit of ${MAX_BATCH_BYTES}`);
  for (let i = 1; i < events.length; i++)
    if (events[i].timestamp < events[i - 1].timestamp)
      throw invalidParameter("Log events in a single PutLogEvents request must be in chronological order.");
  if (events[events.length - 1].timestamp - events[0].timestamp > DAY)
    throw invalidParameter(
      "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
    );
  return events as InputEvent[];
}

/**
 * Events AWS refuses without failing the call: older than 14 days or than the retention period
 * (a prefix, since the batch is chronological) and more than 2 hours ahead (a suffix).
 */
function partition(events: InputEvent[], retentionInDays: number | undefined) {
  const now = Date.now();
  const expiredBefore = retentionInDays ? now - retentionInDays * DAY : -Infinity;
  const tooOldBefore = now - 14 * DAY;
  let start = 0;
  let expiredEnd = 0;
  let tooOldEnd = 0;
  while (start < events.length) {
    const ts = events[start].timestamp;
    if (ts < expiredBefore) expiredEnd = start + 1;
    else if (ts < tooOldBefore) tooOldEnd = start + 1;
    else break;
    start++;
  }
  let end = events.length;
  while (end > start && events[end - 1].timestamp > now + 2 * HOUR) end--;
  const info: Record<string, number> = {};
  if (tooOldEnd) info.tooOldLogEventEndIndex = tooOldEnd;
  if (expiredEnd) info.expiredLogEventEndIndex = expiredEnd;
  if (end < events.length) info.tooNewLogEventStartIndex = end;
  return { accepted: events.slice(start, end), rejected: Object.keys(info).length ? info : undefined };
}

export function streamHandlers(store: LogsStore): Record<string, JsonHandler> {
  return {
    CreateLogStream(input) {
      const g = store.group(groupName(input));
      const name = streamName(input);
      if (g.streams[name])
        throw new AwsError("ResourceAlreadyExistsException", "The specified log stream already exists");
      store.createStream(g, name);
      return {};
    },

    DeleteLogStream(input) {
      const g = store.group(groupName(input));
      store.deleteStream(g, streamName(input));
      return {};
    },

    DescribeLogStreams(input) {
      const g = groupFrom(store, input);
      const prefix = str(input, "logStreamNamePrefix", { optional: true, max: 512 });
      enumValue(input, "orderBy", ["LogStreamName", "LastEventTime"]);
      const byTime = input.orderBy === "LastEventTime";
      if (byTime && prefix)
        throw invalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.");
      const limit = int(input, "limit", 1, 50) ?? 50;
      const streams = Object.values(g.streams).filter((s) => !prefix || s.name.startsWith(prefix));
      const p = page(streams, (s) => (byTime ? [s.lastEventTimestamp ?? 0, s.name] : [s.name]), {
        nextToken: input.nextToken,
        limit,
        descending: input.descending === true,
      });
      return { logStreams: p.items.map((s) => describe(store, g, s)), nextToken: p.nextToken };
    },

    PutLogEvents(input) {
      const name = groupName(input);
      const sName = streamName(input);
      const events = validateBatch(input.logEvents);
      const g = store.group(name);
      const s = store.stream(g, sName);
      // sequenceToken is accepted and ignored: AWS stopped enforcing it in 2023
      const { accepted, rejected } = partition(events, g.retentionInDays);
      store.append(s, accepted);
      s.uploadSequenceToken = store.nextSequenceToken();
      return { nextSequenceToken: s.uploadSequenceToken, rejectedLogEventsInfo: rejected };
    },

    GetLogEvents(input) {
      const g = groupFrom(store, input);
      const s = store.stream(g, streamName(input));
      return getLogEvents(s, {
        startTime: int(input, "startTime", 0, Number.MAX_SAFE_INTEGER),
        endTime: int(input, "endTime", 0, Number.MAX_SAFE_INTEGER),
        nextToken: input.nextToken,
        limit: int(input, "limit", 1, 10_000),
        startFromHead: input.startFromHead === true,
      });
    },

    FilterLogEvents(input) {
      const g = groupFrom(store, input);
      const names = input.logStreamNames as string[] | undefined;
      const prefix = str(input, "logStreamNamePrefix", { optional: true, max: 512 });
      if (names && prefix)
        throw invalidParameter("You cannot specify both LogStreamNames and LogStreamNamePrefix");
      if (names && (names.length < 1 || names.length > 100))
        throw invalidParameter(
          "1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: Member must have length between 1 and 100",
        );
      const streams = Object.values(g.streams).filter(
        (s) => (!names || names.includes(s.name)) && (!prefix || s.name.startsWith(prefix)),
      );
      if (input.filterPattern !== undefined && typeof input.filterPattern !== "string")
        throw invalidParameter("filterPattern must be a string");
      const match = compileFilter(input.filterPattern, compileJsonFilter);
      return filterLogEvents(streams, match, {
        startTime: int(input, "startTime", 0, Number.MAX_SAFE_INTEGER),
        endTime: int(input, "endTime", 0, Number.MAX_SAFE_INTEGER),
        nextToken: input.nextToken,
        limit: int(input, "limit", 1, 10_000),
      });
    },
  };
}
