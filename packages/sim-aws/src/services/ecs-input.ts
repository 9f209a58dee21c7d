import { AwsError, expectType } from "../errors.js";
import type { Json, Tag } from "./ecs-model.js";

/** Input checks and the error shapes ECS answers with. */

export const invalidParam = (m: string) => new AwsError("InvalidParameterException", m);
export const clientError = (m: string) => new AwsError("ClientException", m);
export const clusterNotFound = () => new AwsError("ClusterNotFoundException", "Cluster not found.");

export function str(input: Json, name: string): string | undefined {
  expectType(input, name, "string");
  return input[name] ?? undefined;
}

/** A required string; ECS answers a missing one with InvalidParameterException. */
export function reqStr(input: Json, name: string, message = `${name} can not be blank.`): string {
  const v = str(input, name);
  if (v === undefined || v === "") throw invalidParam(message);
  return v;
}

export function int(input: Json, name: string): number | undefined {
  expectType(input, name, "number");
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (!Number.isInteger(v)) throw new AwsError("SerializationException", `${name} must be an integer`);
  return v;
}

export function bool(input: Json, name: string): boolean | undefined {
  expectType(input, name, "boolean");
  return input[name] ?? undefined;
}

export function obj(input: Json, name: string): Json | undefined {
  expectType(input, name, "object");
  return input[name] ?? undefined;
}

export function list<T = Json>(input: Json, name: string): T[] | undefined {
  expectType(input, name, "array");
  return input[name] ?? undefined;
}

export function strList(input: Json, name: string): string[] | undefined {
  const v = list<unknown>(input, name);
  if (v && v.some((s) => typeof s !== "string"))
    throw new AwsError("SerializationException", `${name} must be a list of strings`);
  return v as string[] | undefined;
}

export function oneOf<T extends string>(input: Json, name: string, values: readonly T[]): T | undefined {
  const v = str(input, name);
  if (v !== undefined && !values.includes(v as T))
    throw invalidParam(`${name} must be one of: ${values.join(", ")}.`);
  return v as T | undefined;
}

/** ECS tags: at most 50, keys 1..128, values 0..256, "aws:" reserved. */
export function tags(input: Json, name = "tags"): Tag[] | undefined {
  const v = list<Json>(input, name);
  if (!v) return undefined;
  if (v.length > 50) throw invalidParam("Tags can not exceed 50 in number.");
  return v.map((t) => {
    if (typeof t !== "object" || t === null)
      throw new AwsError("SerializationException", "tag must be an object");
    const key = str(t, "key");
    const value = str(t, "value") ?? "";
    if (!key || key.length > 128) throw invalidParam("Tag key must be between 1 and 128 characters.");
    if (value.length > 256) throw invalidParam("Tag value must be at most 256 characters.");
    if (key.toLowerCase().startsWith("aws:"))
      throw invalidParam("Tag keys prefixed with 'aws:' are reserved.");
    return { key, value };
  });
}

/** Merge tags by key, the later winning. */
export function mergeTags(base: Tag[], add: Tag[]): Tag[] {
  const m = new Map(base.map((t) => [t.key, t.value]));
  for (const t of add) m.set(t.key, t.value);
  return [...m].map(([key, value]) => ({ key, value }));
}

/** nextToken/maxResults pagination over a list in its final order. */
export function paginate<T>(items: T[], input: Json, max = 100): { page: T[]; nextToken?: string } {
  const maxResults = int(input, "maxResults");
  if (maxResults !== undefined && (maxResults < 1 || maxResults > max))
    throw invalidParam(`maxResults must be between 1 and ${max}.`);
  const token = str(input, "nextToken");
  let offset = 0;
  if (token) {
    try {
      offset = JSON.parse(Buffer.from(token, "base64url").toString("utf8")).offset;
    } catch {
      offset = NaN;
    }
    if (!Number.isInteger(offset) || offset < 0) throw invalidParam("Invalid nextToken.");
  }
  const n = maxResults ?? max;
  const page = items.slice(offset, offset + n);
  const next = offset + n < items.length ? offset + n : undefined;
  return {
    page,
    nextToken:
      next === undefined ? undefined : Buffer.from(JSON.stringify({ offset: next })).toString("base64url"),
  };
}
