import { randomInt } from "node:crypto";
import { AwsError, checkString, constraintMessage } from "../errors.js";
import { members } from "../protocols/query.js";
import type { Simulator } from "../sim.js";
import type { Persistent } from "../store.js";

export interface Tag {
  Key: string;
  Value: string;
}

export interface Role {
  name: string;
  path: string;
  id: string;
  arn: string;
  created: string;
  /** the trust policy, as JSON text */
  trust: string;
  description?: string;
  maxSessionDuration: number;
  permissionsBoundary?: string;
  tags: Tag[];
  /** managed policy ARNs */
  attached: string[];
  /** inline policies: name → JSON text */
  inline: Record<string, string>;
}

export interface PolicyVersion {
  id: string;
  document: string;
  created: string;
}

export interface ManagedPolicy {
  name: string;
  path: string;
  id: string;
  arn: string;
  description?: string;
  created: string;
  updated: string;
  defaultVersion: string;
  versions: PolicyVersion[];
  nextVersion: number;
  tags: Tag[];
}

export interface AccessKey {
  id: string;
  secret: string;
  status: "Active" | "Inactive";
  created: string;
}

export interface User {
  name: string;
  path: string;
  id: string;
  arn: string;
  created: string;
  tags: Tag[];
  keys: AccessKey[];
}

/** IAM is global: one set of entities per account, keyed by lower-cased name (names are case-insensitive). */
export interface IamState {
  roles: Record<string, Role>;
  policies: Record<string, ManagedPolicy>;
  users: Record<string, User>;
  /** when the simulated account (its root user) came into being */
  accountCreated?: string;
}

const states = new WeakMap<Simulator, Persistent<IamState>>();

export function iamState(sim: Simulator): Persistent<IamState> {
  let s = states.get(sim);
  if (!s) {
    s = sim.state<IamState>("iam", { roles: {}, policies: {}, users: {} });
    states.set(sim, s);
  }
  return s;
}

const ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/** IAM unique ids: a type prefix (AROA role, ANPA policy, AIDA user) and 17 characters. */
export function iamId(prefix: string): string {
  let s = prefix;
  for (let i = 0; i < 17; i++) s += ID_CHARS[randomInt(ID_CHARS.length)];
  return s;
}

/** IAM's timestamps have no milliseconds. */
export const isoNow = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

export const noSuchEntity = (message: string) => new AwsError("NoSuchEntity", message, 404);
export const alreadyExists = (message: string) => new AwsError("EntityAlreadyExists", message, 409);
export const deleteConflict = (message: string) => new AwsError("DeleteConflict", message, 409);
export const limitExceeded = (message: string) => new AwsError("LimitExceeded", message, 409);
export const malformed = (message: string) => new AwsError("MalformedPolicyDocument", message, 400);

const validationError = (message: string) => new AwsError("ValidationError", message);
const violation = (value: string | undefined, field: string, constraint: string) =>
  validationError(constraintMessage(value, field, constraint));

/** A required parameter with IAM's pattern and length constraints. */
export function param(
  params: Record<string, string>,
  name: string,
  opts: { pattern?: RegExp; max?: number; optional?: boolean } = {},
): string {
  const field = name.charAt(0).toLowerCase() + name.slice(1);
  return checkString(params[name], field, { ...opts, emptyIsMissing: true }, validationError);
}

export const NAME = /^[\w+=,.@-]+$/;
export const PATH = /^(\/|\/[\u0021-\u007E]+\/)$/;

/** The Path parameter, "/" when absent. */
export const pathParam = (params: Record<string, string>, name = "Path") =>
  param(params, name, { pattern: PATH, max: 512, optional: true }) ?? "/";

/** A policy document must be JSON with a Statement of Effect-bearing entries. */
export function policyDocument(params: Record<string, string>, name: string): string {
  const text = param(params, name, { max: 131072 });
  let doc: any;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed("This policy contains invalid Json");
  }
  const statements = Array.isArray(doc?.Statement) ? doc.Statement : doc?.Statement ? [doc.Statement] : [];
  if (typeof doc !== "object" || Array.isArray(doc) || statements.length === 0)
    throw malformed("Syntax errors in policy.");
  for (const s of statements)
    if (s?.Effect !== "Allow" && s?.Effect !== "Deny") throw malformed("Syntax errors in policy.");
  return text;
}

/** Documents are returned URL-encoded, as IAM does. */
export const encodeDoc = (doc: string) => encodeURIComponent(doc);

export const tagsXml = (tags: Tag[]) => (tags.length ? { Tags: members(tags) } : {});

export function validTags(tags: Record<string, string>[]): Tag[] {
  for (const t of tags) {
    if (!t.Key) throw violation(undefined, "tags.member.key", "Member must not be null");
    if (t.Key.startsWith("aws:"))
      throw new AwsError("InvalidInput", "User-defined tag keys can't start with 'aws:'.");
  }
  return tags.map((t) => ({ Key: t.Key, Value: t.Value ?? "" }));
}

/** Merge tags, at most 50 per entity. */
export function mergeTags(current: Tag[], add: Tag[]): Tag[] {
  const byKey = new Map(current.map((t) => [t.Key, t]));
  for (const t of add) byKey.set(t.Key, t);
  if (byKey.size > 50) throw limitExceeded("The number of tags has reached the maximum limit.");
  return [...byKey.values()];
}

/** Marker/MaxItems paging over a list ordered by a key; the marker is the last key returned. */
export function listPage<T>(
  items: T[],
  key: (x: T) => string,
  params: Record<string, string>,
): { items: T[]; IsTruncated: boolean; Marker?: string } {
  const max = params.MaxItems ? Number(params.MaxItems) : 100;
  if (!Number.isInteger(max) || max < 1 || max > 1000)
    throw violation(params.MaxItems, "maxItems", "Member must have value between 1 and 1000");
  const sorted = [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  let after: string | undefined;
  if (params.Marker) after = Buffer.from(params.Marker, "base64url").toString("utf8");
  const rest = after === undefined ? sorted : sorted.filter((x) => key(x) > after);
  const out = rest.slice(0, max);
  const truncated = rest.length > max;
  return {
    items: out,
    IsTruncated: truncated,
    Marker: truncated ? Buffer.from(key(out[out.length - 1])).toString("base64url") : undefined,
  };
}
