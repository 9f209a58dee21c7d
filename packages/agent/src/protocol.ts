/**
 * Wire protocol between the daemon and the agent, over one WebSocket per link.
 *
 * Binary frames carry data: an 11-byte header (kind u8, channel u32, sequence u48) and the payload.
 * Text frames carry JSON control messages. Link-level messages (`hello`, `welcome`, `ack`) have no
 * sequence number; every other message has one (`seq`), is kept by its sender until the peer
 * acknowledges it, and is replayed after a reconnect, so a network blip loses nothing.
 */
import { timingSafeEqual as cryptoEqual } from "node:crypto";

/** Data frame kinds. */
export const KIND = { stdin: 1, stdout: 2, stderr: 3, data: 4 } as const;
export type DataKind = (typeof KIND)[keyof typeof KIND];

export const HEADER_BYTES = 11;
/** Largest payload per data frame; bigger writes are split. */
export const MAX_FRAME = 64 * 1024;
/** Channel 0 carries link-wide messages (main process exit). */
export const LINK_CHANNEL = 0;

export function encodeData(kind: DataKind, ch: number, seq: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  b.writeUInt8(kind, 0);
  b.writeUInt32BE(ch, 1);
  b.writeUIntBE(seq, 5, 6);
  payload.copy(b, HEADER_BYTES);
  return b;
}

export interface DataFrame {
  kind: DataKind;
  ch: number;
  seq: number;
  payload: Buffer;
}

export function decodeData(b: Buffer): DataFrame {
  if (b.length < HEADER_BYTES) throw new Error(`short data frame (${b.length} bytes)`);
  const kind = b.readUInt8(0);
  if (kind < KIND.stdin || kind > KIND.data) throw new Error(`unknown data frame kind ${kind}`);
  return {
    kind: kind as DataKind,
    ch: b.readUInt32BE(1),
    seq: b.readUIntBE(5, 6),
    payload: b.subarray(HEADER_BYTES),
  };
}

/** Link handshake: the dialling side sends `hello`, the accepting side answers `welcome`. */
export interface Hello {
  t: "hello";
  /** the link to resume, absent for a new link */
  link?: string;
  /** last sequence number received in order on that link */
  recv: number;
}
export interface Welcome {
  t: "welcome";
  link: string;
  recv: number;
  /** false when `hello.link` was unknown (expired): the old link is gone */
  resumed: boolean;
}
export interface Ack {
  t: "ack";
  recv: number;
}

export interface PathStatWire {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** the workload's resource usage (`docker stats`) */
export interface UsageWire {
  cpuNanos: number;
  memoryBytes: number;
  pids: number;
}

export interface ExecSpecWire {
  cmd: string[];
  env: string[];
  workdir: string;
  user: string;
  tty: boolean;
  stdin: boolean;
  rows?: number;
  cols?: number;
}

/** Channel-scoped control messages (sequenced). */
export type Control =
  // daemon -> agent: open a channel; `window` = bytes the agent may send before more credit
  | { t: "open"; ch: number; op: "exec"; window: number; spec: ExecSpecWire }
  | { t: "open"; ch: number; op: "attach"; window: number }
  | { t: "open"; ch: number; op: "start"; window: number }
  | { t: "open"; ch: number; op: "signal"; window: number; sig: string }
  | { t: "open"; ch: number; op: "stat"; window: number; path: string }
  | { t: "open"; ch: number; op: "stats"; window: number }
  | { t: "open"; ch: number; op: "get"; window: number; path: string }
  | {
      t: "open";
      ch: number;
      op: "put";
      window: number;
      path: string;
      noOverwriteDirNonDir: boolean;
    }
  // both ways
  | { t: "credit"; ch: number; n: number }
  | { t: "eof"; ch: number }
  // daemon -> agent
  | { t: "signal"; ch: number; sig: string }
  | { t: "resize"; ch: number; rows: number; cols: number }
  | { t: "close"; ch: number }
  // agent -> daemon
  | { t: "ready"; ch: number; window: number; stat?: PathStatWire }
  | { t: "done"; ch: number; stat?: PathStatWire; usage?: UsageWire }
  /** exitCode: an exec that could not start (runc's words, or the user's own output when `stdout`) */
  | { t: "error"; ch: number; message: string; status?: number; exitCode?: number; stdout?: boolean }
  | { t: "exit"; ch: number; code: number }
  | ({ t: "main-exit"; ch: 0 } & MainExitWire);

/** How the main process ended (or why it did not start: `error`). */
export interface MainExitWire {
  code: number;
  error?: string;
  /** `error` is runc's lookup failure of the container's user or group */
  unknownUser?: boolean;
  /** the id of the end-of-output marker lines the agent wrote to its stdout and stderr */
  logMark?: string;
}

export type Sequenced = Control & { seq: number };
export type OpenMsg = Extract<Control, { t: "open" }>;

export function parseText(text: string): Hello | Welcome | Ack | Sequenced {
  const m = JSON.parse(text) as { t?: unknown };
  if (!m || typeof m !== "object" || typeof m.t !== "string")
    throw new Error("control message without a type");
  return m as Hello | Welcome | Ack | Sequenced;
}

/** Constant-time token comparison. */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && cryptoEqual(a, b);
}
/** The token from `Authorization: Bearer …`. */
export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? "");
  return m ? m[1].trim() : undefined;
}

/**
 * The line that marks the end of the main process's output in the workload's log (one on stdout,
 * one on stderr). It starts like the agent's own messages, which readers of the log leave out.
 */
export const logMarkLine = (id: string) => `sockerless-agent: end of output ${id}`;
