import { badRequest } from "@sockerless/api";

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go duration ("1h30m", "-5s", "300ms"); undefined if not a duration. */
export function parseGoDuration(s: string): number | undefined {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
  if (!m && s !== "0") return undefined;
  if (s === "0") return 0;
  let total = 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;
  let part: RegExpExecArray | null;
  while ((part = re.exec(s)) !== null) total += parseFloat(part[1]) * UNIT_MS[part[2]];
  return m && m[1] === "-" ? -total : total;
}

/**
 * docker's timetypes.GetTimestamp as used by `until` filters: a Go duration is relative to now,
 * otherwise a unix timestamp ("1700000000" or "1700000000.5") or an RFC3339 / date string.
 * Returns milliseconds since the epoch.
 */
export function parseTimestamp(value: string, now = Date.now()): number {
  const d = parseGoDuration(value);
  if (d !== undefined) return now - d;
  if (/^\d+(\.\d+)?$/.test(value)) return parseFloat(value) * 1000;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw badRequest(`failed to parse value as time or duration: "${value}"`);
  return t;
}

/** dockerd's label filter: every `label` ("k" or "k=v") must match, no `label!` may. */
export function matchLabels(
  labels: Record<string, string> | undefined | null,
  want: string[] | undefined,
  notWant: string[] | undefined,
): boolean {
  const has = (f: string) => {
    const i = f.indexOf("=");
    const k = i < 0 ? f : f.slice(0, i);
    if (!labels || !(k in labels)) return false;
    return i < 0 || labels[k] === f.slice(i + 1);
  };
  if (want && !want.every(has)) return false;
  if (notWant && notWant.some(has)) return false;
  return true;
}
