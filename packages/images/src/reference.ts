import { badRequest } from "@sockerless/api";
import type { ParsedReference } from "./types.js";

/**
 * Image reference parsing with docker's normalisation rules
 * (github.com/distribution/reference: ParseNormalizedNamed / FamiliarName).
 */

export const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
const OFFICIAL_REPO_PREFIX = "library/";
const NAME_TOTAL_LENGTH_MAX = 255;

const alphanumeric = "[a-z0-9]+";
const separator = "(?:[._]|__|[-]+)";
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainNameComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const ipv6address = "\\[(?:[a-fA-F0-9:]+)\\]";
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const domainAndPort = `(?:${domainName}|${ipv6address})(?::[0-9]+)?`;
const tagPat = "[\\w][\\w.-]{0,127}";
const digestPat = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const remoteNamePat = `${pathComponent}(?:/${pathComponent})*`;

const domainRe = new RegExp(`^${domainAndPort}$`);
const remainderRe = new RegExp(`^(${remoteNamePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const tagRe = new RegExp(`^${tagPat}$`);
const anchoredIdentifierRe = /^[a-f0-9]{64}$/;

const DIGEST_LENGTHS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** Validates "algo:hex" (as github.com/opencontainers/go-digest does). Returns an error message or undefined. */
export function digestError(d: string): string | undefined {
  const i = d.indexOf(":");
  if (i <= 0 || i === d.length - 1) return "invalid checksum digest format";
  const algo = d.slice(0, i);
  const hex = d.slice(i + 1);
  const len = DIGEST_LENGTHS[algo];
  if (len === undefined) return "unsupported digest algorithm";
  if (hex.length !== len) return "invalid checksum digest length";
  if (!/^[a-f0-9]+$/.test(hex)) return "invalid checksum digest format";
  return undefined;
}

/** docker's splitDockerDomain. */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf("/");
  let domain: string;
  let remainder: string;
  const first = i === -1 ? "" : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== "localhost" && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes("/")) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/** "docker.io/library/busybox" → "busybox"; other registries keep their domain. */
export function familiarNameOf(domain: string, path: string): string {
  if (domain !== DEFAULT_DOMAIN) return `${domain}/${path}`;
  if (path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes("/")) return rest;
  }
  return path;
}

/**
 * Parses a reference WITHOUT adding a default tag (docker's ParseNormalizedNamed).
 * Throws badRequest with dockerd's messages on invalid input.
 */
export function parseNamed(ref: string): ParsedReference {
  if (ref === "") throw badRequest("invalid reference format");
  if (anchoredIdentifierRe.test(ref)) {
    throw badRequest(`invalid repository name (${ref}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, remainder } = splitDockerDomain(ref);
  const tagSep = remainder.indexOf(":");
  const remoteName = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remoteName.toLowerCase() !== remoteName) {
    throw badRequest(`invalid reference format: repository name (${remoteName}) must be lowercase`);
  }
  if (!domainRe.test(domain)) throw badRequest("invalid reference format");
  const m = remainderRe.exec(remainder);
  if (!m) {
    if (remainderRe.test(remainder.toLowerCase())) {
      throw badRequest("invalid reference format: repository name must be lowercase");
    }
    throw badRequest("invalid reference format");
  }
  const path = m[1];
  if (domain.length + 1 + path.length > NAME_TOTAL_LENGTH_MAX) {
    throw badRequest("invalid reference format: repository name must not be more than 255 characters");
  }
  const tag = m[2] || undefined;
  const digest = m[3] || undefined;
  if (digest !== undefined) {
    const err = digestError(digest);
    if (err) throw badRequest(`invalid reference format: ${err}`);
  }
  const out: ParsedReference = { domain, path, familiarName: familiarNameOf(domain, path) };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** Parses and normalises a reference; a reference without tag or digest gets the tag "latest". */
export function parseReference(ref: string): ParsedReference {
  const p = parseNamed(ref);
  if (p.tag === undefined && p.digest === undefined) p.tag = "latest";
  return p;
}

/** Validates a tag as docker's reference.WithTag does. */
export function validateTag(tag: string): void {
  if (!tagRe.test(tag)) throw badRequest("invalid tag format");
}

/** The fully qualified name "docker.io/library/busybox". */
export function fullName(p: ParsedReference): string {
  return `${p.domain}/${p.path}`;
}

/**
 * docker's FamiliarString: "busybox:latest", "busybox@sha256:..", "127.0.0.1:5000/x:1".
 * When both tag and digest are present both are printed (name:tag@digest).
 */
export function familiarString(p: ParsedReference): string {
  let s = p.familiarName;
  if (p.tag !== undefined) s += `:${p.tag}`;
  if (p.digest !== undefined) s += `@${p.digest}`;
  return s;
}

/** The key under which the image store records a reference: tag refs as name:tag, digest refs as name@digest (digest wins, as dockerd's favorDigest). */
export function storeKey(p: ParsedReference): { kind: "tag" | "digest"; key: string } {
  if (p.digest !== undefined) return { kind: "digest", key: `${p.familiarName}@${p.digest}` };
  return { kind: "tag", key: `${p.familiarName}:${p.tag ?? "latest"}` };
}

/** Splits a stored familiar reference ("busybox:latest" / "x@sha256:..") into its familiar name. */
export function nameOfStoredRef(ref: string): string {
  const at = ref.indexOf("@");
  if (at >= 0) return ref.slice(0, at);
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  return colon > slash ? ref.slice(0, colon) : ref;
}

/** The fully qualified form of a stored familiar reference, for sorting like dockerd's reference store. */
export function qualifiedStoredRef(ref: string): string {
  try {
    const p = parseNamed(ref);
    let s = fullName(p);
    if (p.tag !== undefined) s += `:${p.tag}`;
    if (p.digest !== undefined) s += `@${p.digest}`;
    return s;
  } catch {
    return ref;
  }
}
