import { checkString, constraintMessage, invalidParameter } from "../errors.js";

/** CloudWatch Logs reports model constraint violations as InvalidParameterException. */
const violation = (value: unknown, field: string, constraint: string) =>
  invalidParameter(constraintMessage(value, field, constraint));

export const GROUP_NAME = /^[.\-_/#A-Za-z0-9]+$/;
export const STREAM_NAME = /^[^:*]*$/;

/** A required (or, with optional, absent-allowed) string with AWS's length and pattern constraints. */
export function str(
  input: Record<string, any>,
  field: string,
  opts: { pattern?: RegExp; max?: number; optional?: boolean } = {},
): string {
  return checkString(input[field], field, opts, invalidParameter);
}

export const groupName = (input: Record<string, any>, field = "logGroupName") =>
  str(input, field, { pattern: GROUP_NAME, max: 512 });
export const streamName = (input: Record<string, any>, field = "logStreamName") =>
  str(input, field, { pattern: STREAM_NAME, max: 512 });

/** An optional integer within [min, max]. */
export function int(input: Record<string, any>, field: string, min: number, max: number): number | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) throw violation(v, field, "Member must be an integer");
  if (v < min) throw violation(v, field, `Member must have value greater than or equal to ${min}`);
  if (v > max) throw violation(v, field, `Member must have value less than or equal to ${max}`);
  return v;
}

/** Tags: a string map of at most 50 entries. */
export function tags(input: Record<string, any>, field = "tags"): Record<string, string> {
  const v = input[field] ?? {};
  if (typeof v !== "object" || Array.isArray(v)) throw violation(v, field, "Member must be a map");
  const entries = Object.entries(v);
  if (entries.length > 50) throw violation("{…}", field, "Member must have length less than or equal to 50");
  for (const [k, val] of entries)
    if (typeof val !== "string" || !k || k.startsWith("aws:")) throw invalidParameter(`Invalid tag: ${k}`);
  return v as Record<string, string>;
}

export function enumValue(input: Record<string, any>, field: string, allowed: unknown[]): void {
  const v = input[field];
  if (v !== undefined && !allowed.includes(v))
    throw violation(v, field, `Member must satisfy enum value set: [${allowed.join(", ")}]`);
}

/**
 * One page of items ordered by a key, continuing after the key in the token (so pages stay
 * stable when items are added or removed between calls).
 */
export function page<T>(
  items: T[],
  key: (x: T) => (string | number)[],
  opts: { nextToken?: string; limit: number; descending?: boolean },
): { items: T[]; nextToken?: string } {
  const cmp = (a: (string | number)[], b: (string | number)[]) => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
  };
  const dir = opts.descending ? -1 : 1;
  const sorted = [...items].sort((a, b) => dir * cmp(key(a), key(b)));
  let rest = sorted;
  if (opts.nextToken) {
    let after: (string | number)[];
    try {
      after = JSON.parse(Buffer.from(opts.nextToken, "base64url").toString("utf8"));
      if (!Array.isArray(after)) throw new Error("not a key");
    } catch {
      throw invalidParameter("The specified nextToken is invalid.");
    }
    rest = sorted.filter((x) => dir * cmp(key(x), after) > 0);
  }
  const out = rest.slice(0, opts.limit);
  return {
    items: out,
    nextToken:
      rest.length > opts.limit
        ? Buffer.from(JSON.stringify(key(out[out.length - 1]))).toString("base64url")
        : undefined,
  };
}
