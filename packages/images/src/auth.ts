import { DockerError, serverError } from "@sockerless/api";
import type { RegistryAuth } from "./types.js";

/** One challenge of a WWW-Authenticate header. */
export interface Challenge {
  scheme: string; // lower case: "bearer", "basic"
  params: Record<string, string>;
}

/** Parses a WWW-Authenticate header value (RFC 7235), possibly holding several challenges. */
export function parseChallenges(header: string | null): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t")) i++;
  };
  const readToken = () => {
    const start = i;
    while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(s[i])) i++;
    return s.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < s.length) {
    skipWs();
    if (s[i] === ",") {
      i++;
      continue;
    }
    const tok = readToken();
    if (!tok) {
      i++;
      continue;
    }
    skipWs();
    if (s[i] === "=" && current) {
      i++;
      skipWs();
      let value = "";
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        const start = i;
        while (i < s.length && s[i] !== "," && s[i] !== " ") i++;
        value = s.slice(start, i);
      }
      current.params[tok.toLowerCase()] = value;
    } else {
      current = { scheme: tok.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}

/** The first challenge we can answer: Bearer preferred, then Basic. */
export function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "basic");
}

export function basicHeader(auth: RegistryAuth | undefined): string | undefined {
  if (!auth?.username && !auth?.password) return undefined;
  return "Basic " + Buffer.from(`${auth.username ?? ""}:${auth.password ?? ""}`).toString("base64");
}

/** Formats an error from a token endpoint or registry response body the way distribution's client does. */
export function describeErrorBody(status: number, body: string): { code?: string; text: string } {
  try {
    const j = JSON.parse(body) as {
      errors?: { code?: string; message?: string }[];
      details?: string;
      error?: string;
      error_description?: string;
    };
    if (Array.isArray(j.errors) && j.errors.length > 0) {
      const e = j.errors[0];
      const code = e.code ?? "UNKNOWN";
      return { code, text: `${code.toLowerCase().replace(/_/g, " ")}: ${e.message ?? ""}` };
    }
    if (typeof j.details === "string") {
      return status === 401
        ? { code: "UNAUTHORIZED", text: `unauthorized: ${j.details}` }
        : { text: j.details };
    }
    if (typeof j.error === "string") {
      return { text: j.error_description ? `${j.error}: ${j.error_description}` : j.error };
    }
  } catch {
    // not JSON
  }
  if (status === 401) return { code: "UNAUTHORIZED", text: "unauthorized: authentication required" };
  if (status === 403) return { code: "DENIED", text: "denied: requested access to the resource is denied" };
  const snippet = body.trim().slice(0, 200);
  return { text: `unexpected status code ${status}${snippet ? `: ${snippet}` : ""}` };
}

export type Fetcher = (url: string, init: RequestInit) => Promise<Response>;

/**
 * Obtains a bearer token for a challenge (docker's token auth spec): registrytoken is used as is,
 * identitytoken via the OAuth2 refresh_token grant, otherwise GET with basic auth (or anonymous).
 */
export async function fetchBearerToken(
  challenge: Challenge,
  scopes: string[],
  auth: RegistryAuth | undefined,
  doFetch: Fetcher,
): Promise<string> {
  if (auth?.registrytoken) return auth.registrytoken;
  const realm = challenge.params.realm;
  if (!realm) throw serverError("bearer auth challenge without realm");
  const service = challenge.params.service;
  let res: Response;
  let url: string;
  let method: string;
  if (auth?.identitytoken) {
    url = realm;
    method = "Post";
    const form = new URLSearchParams();
    form.set("grant_type", "refresh_token");
    form.set("refresh_token", auth.identitytoken);
    form.set("client_id", "docker");
    if (service) form.set("service", service);
    if (scopes.length) form.set("scope", scopes.join(" "));
    res = await doFetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
    });
  } else {
    const u = new URL(realm);
    if (service) u.searchParams.set("service", service);
    for (const s of scopes) u.searchParams.append("scope", s);
    if (auth?.username) u.searchParams.set("account", auth.username);
    url = u.toString();
    method = "Get";
    const headers: Record<string, string> = {};
    const basic = basicHeader(auth);
    if (basic) headers.authorization = basic;
    res = await doFetch(url, { method: "GET", headers });
  }
  const text = await res.text();
  if (!res.ok) {
    const { text: msg } = describeErrorBody(res.status, text);
    throw new DockerError(500, `${method} "${url}": ${msg}`);
  }
  let j: { token?: string; access_token?: string };
  try {
    j = JSON.parse(text) as { token?: string; access_token?: string };
  } catch {
    throw serverError(`${method} "${url}": invalid token response`);
  }
  const token = j.token || j.access_token;
  if (!token)
    throw serverError(`${method} "${url}": authorization server did not include a token in the response`);
  return token;
}
