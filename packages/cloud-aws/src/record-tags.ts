import { gunzipSync, gzipSync } from "node:zlib";
import type { ContainerRecord } from "@sockerless/engine";

/**
 * A container record kept in a cloud resource's tags, so a restarted daemon (or another one with
 * the same settings) can rebuild the container: gzip + base64 (every character is allowed in an
 * AWS tag value), cut into 256-character values under numbered keys.
 */

export const TAG_MANAGED = "sockerless-managed";
export const TAG_ID = "sockerless-container-id";
export const TAG_BACKEND = "sockerless-backend";
const TAG_RECORD = "sockerless-record-";
const VALUE_MAX = 256;
/** AWS allows 50 tags per resource; keep room for the user's and the fixed ones. */
const CHUNKS_MAX = 40;

export type Tags = Record<string, string>;

/** What the platform must not keep: the state is the platform's own, and the runtime pid is ours. */
function persistable(rec: ContainerRecord): Omit<ContainerRecord, "State"> {
  const { State: _state, ...rest } = rec;
  return rest;
}

export function recordTags(rec: ContainerRecord, backend: string): Tags {
  const blob = gzipSync(JSON.stringify(persistable(rec))).toString("base64");
  const chunks = Math.ceil(blob.length / VALUE_MAX);
  if (chunks > CHUNKS_MAX)
    throw new Error(
      `the container's configuration is too large to keep in cloud tags (${blob.length} bytes compressed, at most ${CHUNKS_MAX * VALUE_MAX})`,
    );
  const tags: Tags = { [TAG_MANAGED]: "true", [TAG_ID]: rec.Id, [TAG_BACKEND]: backend };
  for (let i = 0; i < chunks; i++)
    tags[`${TAG_RECORD}${String(i).padStart(2, "0")}`] = blob.slice(i * VALUE_MAX, (i + 1) * VALUE_MAX);
  return tags;
}

/** The record (without State) kept in tags, or undefined when the tags are not ours or are damaged. */
export function recordFromTags(tags: Tags, backend: string): Omit<ContainerRecord, "State"> | undefined {
  if (tags[TAG_MANAGED] !== "true" || tags[TAG_BACKEND] !== backend) return undefined;
  const keys = Object.keys(tags)
    .filter((k) => k.startsWith(TAG_RECORD))
    .sort();
  if (!keys.length) return undefined;
  try {
    const rec = JSON.parse(gunzipSync(Buffer.from(keys.map((k) => tags[k]).join(""), "base64")).toString());
    return rec.Id === tags[TAG_ID] ? rec : undefined;
  } catch {
    return undefined;
  }
}

/** The record's tags that a new version no longer has (a shorter record needs fewer chunks). */
export function staleRecordKeys(old: Tags, next: Tags): string[] {
  return Object.keys(old).filter((k) => k.startsWith(TAG_RECORD) && !(k in next));
}

export const toTagList = (t: Tags) => Object.entries(t).map(([key, value]) => ({ key, value }));
export const fromTagList = (l: { key?: string; value?: string }[] | undefined): Tags =>
  Object.fromEntries((l ?? []).map((t) => [t.key ?? "", t.value ?? ""]));
