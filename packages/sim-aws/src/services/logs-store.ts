import { AwsError } from "../errors.js";
import type { Simulator } from "../sim.js";
import type { Persistent } from "../store.js";

/** One stored event: [timestamp, ingestionTime, seq, message] (a tuple keeps the state file small). */
export type StoredEvent = [number, number, number, string];

export interface LogStream {
  name: string;
  creationTime: number;
  firstEventTimestamp?: number;
  lastEventTimestamp?: number;
  lastIngestionTime?: number;
  uploadSequenceToken?: string;
  /** per-stream counter; (timestamp, seq) orders events and positions paging tokens */
  seq: number;
  storedBytes: number;
  /** sorted by (timestamp, seq) */
  events: StoredEvent[];
}

export interface LogGroup {
  name: string;
  creationTime: number;
  region: string;
  retentionInDays?: number;
  kmsKeyId?: string;
  logGroupClass: string;
  tags: Record<string, string>;
  streams: Record<string, LogStream>;
}

export interface LogsState {
  groups: Record<string, LogGroup>;
  /** source of nextSequenceToken values */
  uploads: number;
}

/**
 * Bounds that keep the state file (rewritten whole after changes) reasonable; AWS keeps
 * everything until retention expires. Past them the oldest events go first.
 */
export const MAX_EVENTS_PER_STREAM = 10_000;
export const MAX_EVENTS_TOTAL = 100_000;

export const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export const groupMissing = () =>
  new AwsError("ResourceNotFoundException", "The specified log group does not exist.");
export const streamMissing = () =>
  new AwsError("ResourceNotFoundException", "The specified log stream does not exist.");

/** The logs state and the operations on it that both the API and the sink use. */
export class LogsStore {
  private total = 0;

  constructor(
    private readonly sim: Simulator,
    readonly st: Persistent<LogsState>,
  ) {
    for (const g of Object.values(st.data.groups))
      for (const s of Object.values(g.streams)) this.total += s.events.length;
  }

  get groups(): Record<string, LogGroup> {
    return this.st.data.groups;
  }

  changed(): void {
    this.st.changed();
  }

  group(name: string): LogGroup {
    const g = this.groups[name];
    if (!g) throw groupMissing();
    this.expire(g);
    return g;
  }

  stream(group: LogGroup, name: string): LogStream {
    const s = group.streams[name];
    if (!s) throw streamMissing();
    return s;
  }

  createGroup(name: string, region: string, extra: Partial<LogGroup> = {}): LogGroup {
    const g: LogGroup = {
      name,
      creationTime: Date.now(),
      region,
      logGroupClass: "STANDARD",
      tags: {},
      streams: {},
      ...extra,
    };
    this.groups[name] = g;
    this.changed();
    return g;
  }

  deleteGroup(name: string): void {
    const g = this.group(name);
    for (const s of Object.values(g.streams)) this.total -= s.events.length;
    delete this.groups[name];
    this.changed();
  }

  createStream(group: LogGroup, name: string): LogStream {
    const s: LogStream = { name, creationTime: Date.now(), seq: 0, storedBytes: 0, events: [] };
    group.streams[name] = s;
    this.changed();
    return s;
  }

  deleteStream(group: LogGroup, name: string): void {
    const s = this.stream(group, name);
    this.total -= s.events.length;
    delete group.streams[name];
    this.changed();
  }

  groupArn(g: LogGroup): string {
    return this.sim.arn("logs", `log-group:${g.name}`, g.region);
  }

  streamArn(g: LogGroup, s: LogStream): string {
    return this.sim.arn("logs", `log-group:${g.name}:log-stream:${s.name}`, g.region);
  }

  nextSequenceToken(): string {
    this.st.data.uploads++;
    // AWS's tokens are 56-digit numbers; clients only pass them back
    return String(this.st.data.uploads).padStart(56, "4");
  }

  /** Insert events (any order), keeping the stream sorted by (timestamp, seq). */
  append(stream: LogStream, events: { timestamp: number; message: string }[]): void {
    const now = Date.now();
    for (const e of events) {
      const ev: StoredEvent = [e.timestamp, now, ++stream.seq, e.message];
      const list = stream.events;
      if (!list.length || list[list.length - 1][0] <= e.timestamp) list.push(ev);
      else list.splice(upperBound(list, e.timestamp), 0, ev);
      stream.storedBytes += Buffer.byteLength(e.message);
      stream.firstEventTimestamp = Math.min(stream.firstEventTimestamp ?? e.timestamp, e.timestamp);
      stream.lastEventTimestamp = Math.max(stream.lastEventTimestamp ?? e.timestamp, e.timestamp);
      this.total++;
    }
    if (events.length) stream.lastIngestionTime = now;
    this.trim(stream, stream.events.length - MAX_EVENTS_PER_STREAM);
    if (this.total > MAX_EVENTS_TOTAL) this.trimOldest();
    this.changed();
  }

  /** Drop events older than the group's retention, as AWS does (lazily, when the group is used). */
  expire(g: LogGroup): void {
    if (!g.retentionInDays) return;
    const cutoff = Date.now() - g.retentionInDays * 86_400_000;
    for (const s of Object.values(g.streams)) {
      let n = 0;
      while (n < s.events.length && s.events[n][0] < cutoff) n++;
      if (n) {
        this.trim(s, n);
        this.changed();
      }
    }
  }

  private trim(s: LogStream, n: number): void {
    if (n <= 0) return;
    for (const e of s.events.splice(0, n)) s.storedBytes -= Buffer.byteLength(e[3]);
    this.total -= n;
  }

  /** Over the global bound: drop the oldest tenth of all events. */
  private trimOldest(): void {
    const all: number[] = [];
    const streams = Object.values(this.groups).flatMap((g) => Object.values(g.streams));
    for (const s of streams) for (const e of s.events) all.push(e[0]);
    all.sort((a, b) => a - b);
    const cutoff = all[Math.floor(all.length / 10)];
    for (const s of streams) {
      let n = 0;
      while (n < s.events.length && s.events[n][0] <= cutoff) n++;
      this.trim(s, n);
    }
  }
}

/** Index of the first event with a timestamp greater than ts. */
function upperBound(list: StoredEvent[], ts: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid][0] <= ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
