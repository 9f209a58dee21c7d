import { invalidParameter } from "../errors.js";
import type { Matcher } from "./logs-filter.js";
import type { LogStream, StoredEvent } from "./logs-store.js";

/** AWS caps a GetLogEvents / FilterLogEvents response at 10,000 events or 1 MB (message bytes + 26 each). */
const MAX_EVENTS = 10_000;
const MAX_BYTES = 1_048_576;

interface Pos {
  ts: number;
  seq: number;
}
/** Before every event: real events have seq >= 1. */
const START: Pos = { ts: 0, seq: 0 };

/** Tokens look like AWS's: "f/<56 digits>/s" and "b/<56 digits>/s"; the digits are (timestamp, seq). */
const token = (dir: "f" | "b", p: Pos) =>
  `${dir}/${String(p.ts).padStart(20, "0")}${String(p.seq).padStart(36, "0")}/s`;

function parseToken(t: string): { dir: "f" | "b"; pos: Pos } {
  const m = /^([fb])\/(\d{20})(\d{36})\/s$/.exec(t);
  if (!m) throw invalidParameter("The specified nextToken is invalid.");
  return { dir: m[1] as "f" | "b", pos: { ts: Number(m[2]), seq: Number(m[3]) } };
}

const cmp = (e: StoredEvent, p: Pos) => e[0] - p.ts || e[2] - p.seq;
const posOf = (e: StoredEvent): Pos => ({ ts: e[0], seq: e[2] });
const size = (e: StoredEvent) => Buffer.byteLength(e[3]) + 26;

export interface TimeRange {
  startTime?: number;
  endTime?: number;
}

/** startTime is inclusive, endTime exclusive, as in AWS. */
const inRange = (r: TimeRange) => (ts: number) =>
  (r.startTime === undefined || ts >= r.startTime) && (r.endTime === undefined || ts < r.endTime);

function head<T>(list: T[], limit: number, bytes: (x: T) => number): T[] {
  let total = 0;
  let n = 0;
  while (n < list.length && n < limit) {
    total += bytes(list[n]);
    if (total > MAX_BYTES && n > 0) break;
    n++;
  }
  return list.slice(0, n);
}

function tail<T>(list: T[], limit: number, bytes: (x: T) => number): T[] {
  return head([...list].reverse(), limit, bytes).reverse();
}

/** GetLogEvents: a window of one stream, read from the head, the tail, or either side of a token. */
export function getLogEvents(
  stream: LogStream,
  opts: TimeRange & { nextToken?: string; limit?: number; startFromHead?: boolean },
) {
  const limit = opts.limit ?? MAX_EVENTS;
  const ok = inRange(opts);
  const events = stream.events.filter((e) => ok(e[0]));
  const t = opts.nextToken ? parseToken(opts.nextToken) : undefined;
  let page: StoredEvent[];
  if (t?.dir === "f")
    page = head(
      events.filter((e) => cmp(e, t.pos) > 0),
      limit,
      size,
    );
  else if (t?.dir === "b")
    page = tail(
      events.filter((e) => cmp(e, t.pos) < 0),
      limit,
      size,
    );
  else page = opts.startFromHead ? head(events, limit, size) : tail(events, limit, size);
  // an empty page hands back the token it was given, which is how paginators know to stop
  const forward = page.length ? posOf(page[page.length - 1]) : t?.dir === "f" ? t.pos : START;
  const backward = page.length ? posOf(page[0]) : (t?.pos ?? START);
  return {
    events: page.map((e) => ({ timestamp: e[0], message: e[3], ingestionTime: e[1] })),
    nextForwardToken: token("f", forward),
    nextBackwardToken: token("b", backward),
  };
}

interface Hit {
  stream: string;
  ev: StoredEvent;
}
type Key = [number, string, number];
const keyOf = (h: Hit): Key => [h.ev[0], h.stream, h.ev[2]];
const cmpKey = (a: Key, b: Key) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) || a[2] - b[2];

function parseFilterToken(t: string): Key {
  try {
    const k = JSON.parse(Buffer.from(t, "base64url").toString("utf8"));
    if (Array.isArray(k) && k.length === 3 && typeof k[1] === "string") return k as Key;
  } catch {
    // fall through
  }
  throw invalidParameter("The specified nextToken is invalid.");
}

/** A 56-digit event id, unique per (stream, timestamp, seq) like AWS's. */
function eventId(h: Hit): string {
  let hash = 0;
  for (const c of h.stream) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return `${String(h.ev[0]).padStart(20, "0")}${String(hash).padStart(16, "0")}${String(h.ev[2]).padStart(20, "0")}`;
}

/** FilterLogEvents: matching events of several streams, interleaved by time. */
export function filterLogEvents(
  streams: LogStream[],
  match: Matcher,
  opts: TimeRange & { nextToken?: string; limit?: number },
) {
  const ok = inRange(opts);
  const after = opts.nextToken ? parseFilterToken(opts.nextToken) : undefined;
  const hits: Hit[] = [];
  for (const s of streams)
    for (const ev of s.events) {
      const h = { stream: s.name, ev };
      if (ok(ev[0]) && (!after || cmpKey(keyOf(h), after) > 0) && match(ev[3])) hits.push(h);
    }
  hits.sort((a, b) => cmpKey(keyOf(a), keyOf(b)));
  const page = head(hits, opts.limit ?? MAX_EVENTS, (h) => size(h.ev));
  const more = page.length < hits.length;
  return {
    events: page.map((h) => ({
      logStreamName: h.stream,
      timestamp: h.ev[0],
      message: h.ev[3],
      ingestionTime: h.ev[1],
      eventId: eventId(h),
    })),
    searchedLogStreams: streams.map((s) => ({ logStreamName: s.name, searchedCompletely: !more })),
    nextToken: more
      ? Buffer.from(JSON.stringify(keyOf(page[page.length - 1]))).toString("base64url")
      : undefined,
  };
}
