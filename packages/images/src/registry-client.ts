import { promises as dns } from "node:dns";
import { isIP } from "node:net";
import { DockerError, notFound, serverError, log } from "@sockerless/api";
import {
  basicHeader,
  describeErrorBody,
  fetchBearerToken,
  parseChallenges,
  pickChallenge,
  type Challenge,
} from "./auth.js";
import { DEFAULT_DOMAIN } from "./reference.js";
import { MANIFEST_ACCEPT, MAX_MANIFEST_SIZE } from "./manifest.js";
import { sha256 } from "./digest.js";
import type { RegistryAuth, RegistryOptions } from "./types.js";

/** Docker Hub's actual registry host. */
export const DOCKER_HUB_REGISTRY = "https://registry-1.docker.io";

export interface RegistryEndpoint {
  /** Base URL without trailing slash, e.g. "http://127.0.0.1:5000". */
  base: string;
  mirror: boolean;
}

/** Splits "host:port" / "[::1]:5000" into host (without brackets). */
function hostOf(domain: string): string {
  if (domain.startsWith("[")) return domain.slice(1, domain.indexOf("]"));
  const i = domain.lastIndexOf(":");
  return i >= 0 ? domain.slice(0, i) : domain;
}

function ipToBigInt(ip: string): { v: bigint; bits: number } | undefined {
  if (isIP(ip) === 4) {
    const parts = ip.split(".").map((x) => BigInt(parseInt(x, 10)));
    return { v: parts.reduce((a, b) => (a << 8n) | b, 0n), bits: 32 };
  }
  if (isIP(ip) === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped) return ipToBigInt(mapped[1]);
    const noZone = ip.replace(/%.*$/, "");
    const [head, tail] = noZone.includes("::") ? noZone.split("::") : [noZone, undefined];
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const groups: string[] =
      tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
    return { v: groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g || "0", 16)), 0n), bits: 128 };
  }
  return undefined;
}

/** True if `ip` lies in `cidr` ("10.0.0.0/8", "::1/128"). */
export function cidrContains(cidr: string, ip: string): boolean {
  const [net, lenStr] = cidr.split("/");
  const a = ipToBigInt(net);
  const b = ipToBigInt(ip);
  if (!a || !b || a.bits !== b.bits) return false;
  const len = lenStr === undefined ? a.bits : parseInt(lenStr, 10);
  if (!(len >= 0 && len <= a.bits)) return false;
  const shift = BigInt(a.bits - len);
  return a.v >> shift === b.v >> shift;
}

const LOOPBACK_CIDRS = ["127.0.0.0/8", "::1/128"];

/**
 * Like dockerd's isSecureIndex: a registry is insecure (plain HTTP allowed) when listed by name in
 * insecureRegistries, or when its host (resolved, if a name) lies in a listed CIDR or in loopback.
 */
export async function isInsecureRegistry(domain: string, opts: RegistryOptions): Promise<boolean> {
  const entries = opts.insecureRegistries.map((e) => e.replace(/^https?:\/\//, "").replace(/\/+$/, ""));
  if (entries.includes(domain)) return true;
  const host = hostOf(domain);
  if (host === "localhost") return true;
  const cidrs = [...LOOPBACK_CIDRS, ...entries.filter((e) => e.includes("/"))];
  let ips: string[];
  if (isIP(host)) ips = [host];
  else {
    try {
      ips = (await dns.lookup(host, { all: true })).map((a) => a.address);
    } catch {
      ips = [];
    }
  }
  return ips.some((ip) => cidrs.some((c) => cidrContains(c, ip)));
}

/** The endpoints to try for a registry domain, in order (mirrors first for Docker Hub). */
export async function registryEndpoints(domain: string, opts: RegistryOptions): Promise<RegistryEndpoint[]> {
  if (domain === DEFAULT_DOMAIN) {
    const mirrors = opts.mirrors.map((m) => ({
      base: (/^https?:\/\//.test(m) ? m : `https://${m}`).replace(/\/+$/, ""),
      mirror: true,
    }));
    return [...mirrors, { base: DOCKER_HUB_REGISTRY, mirror: false }];
  }
  if (await isInsecureRegistry(domain, opts)) {
    // dockerd tries TLS first; we cannot skip certificate verification with fetch, so plain HTTP
    // (the usual case for insecure registries) is tried first, HTTPS as a fallback.
    return [
      { base: `http://${domain}`, mirror: false },
      { base: `https://${domain}`, mirror: false },
    ];
  }
  return [{ base: `https://${domain}`, mirror: false }];
}

const goMethod = (m: string) => m.charAt(0).toUpperCase() + m.slice(1).toLowerCase();

function causeMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const inner = (cause as Error & { errors?: unknown[] }).errors;
      if (Array.isArray(inner) && inner[0] instanceof Error) return inner[0].message;
      return cause.message || err.message;
    }
    return err.message;
  }
  return String(err);
}

/** A registry error response (4xx/5xx) as distribution's errcode, for error translation. */
export class RegistryResponseError extends DockerError {
  constructor(
    status: number,
    message: string,
    readonly httpStatus: number,
    readonly code: string | undefined,
  ) {
    super(status, message);
  }
}

/** The registry's error code and message of a failed response (distribution's errcode text). */
export async function describeResponse(res: Response): Promise<{ code?: string; text: string }> {
  const body = await res.text().catch(() => "");
  let { code, text } = describeErrorBody(res.status, body);
  const ch = pickChallenge(parseChallenges(res.headers.get("www-authenticate")));
  if (ch?.scheme === "bearer" && (res.status === 401 || res.status === 403)) {
    if (ch.params.error === "insufficient_scope") {
      code = "DENIED";
      text = `denied: ${ch.params.error_description || "requested access to the resource is denied"}`;
    } else if (ch.params.error === "invalid_token") {
      code = "UNAUTHORIZED";
      text = `unauthorized: ${ch.params.error_description || "authentication required"}`;
    }
  }
  return { code, text };
}

/** Marks an error that happened talking to an endpoint (network/ping), so a caller may fall back. */
export class EndpointError extends DockerError {}

/** A request body: bytes, or a factory of a byte stream (called again when the request is retried). */
export type RequestBody = Buffer | (() => AsyncIterable<Uint8Array>);

/** What a client asks the token server for: pull only, or pull and push (plus pull on mount sources). */
export interface RegistryAccess {
  push?: boolean;
  /** Other repositories of the same registry to read from (cross-repository blob mounts). */
  mountFrom?: string[];
}

/** An OCI distribution client for one repository on one endpoint, handling Basic and Bearer token auth. */
export class RegistryClient {
  private pinged = false;
  private challenge: Challenge | undefined;
  private authorization: string | undefined;
  /** Base URL in use; follows a redirect of the ping to another origin (e.g. http → https). */
  private base: string;

  constructor(
    readonly endpoint: RegistryEndpoint,
    readonly repoPath: string,
    private readonly auth: RegistryAuth | undefined,
    private readonly signal?: AbortSignal,
    private readonly access: RegistryAccess = {},
  ) {
    this.base = endpoint.base;
  }

  get scope(): string {
    return `repository:${this.repoPath}:${this.access.push ? "pull,push" : "pull"}`;
  }

  /** The token scopes to request: this repository, and pull on the mount sources. */
  private get scopes(): string[] {
    if (!this.repoPath) return []; // registry-wide (login)
    return [this.scope, ...(this.access.mountFrom ?? []).map((r) => `repository:${r}:pull`)];
  }

  /** The base URL in use (after a redirected ping). */
  get baseUrl(): string {
    return this.base;
  }

  /** True when the registry asks for Basic auth and we have no credentials (dockerd's ErrNoBasicAuthCredentials). */
  async lacksBasicCredentials(): Promise<boolean> {
    await this.ping();
    return this.challenge?.scheme === "basic" && !basicHeader(this.auth);
  }

  /** fetch with Go-style error wrapping: `Get "url": cause`. */
  private async rawFetch(url: string, init: RequestInit): Promise<Response> {
    this.signal?.throwIfAborted();
    try {
      return await fetch(url, { ...init, redirect: "follow", signal: this.signal });
    } catch (err) {
      if (this.signal?.aborted) throw err;
      throw new EndpointError(500, `${goMethod(init.method ?? "GET")} "${url}": ${causeMessage(err)}`);
    }
  }

  /** GET /v2/ — learns whether and how the registry wants authentication. */
  async ping(): Promise<void> {
    if (this.pinged) return;
    const url = `${this.base}/v2/`;
    const res = await this.rawFetch(url, { method: "GET" });
    await res.arrayBuffer().catch(() => undefined);
    if (res.redirected && res.url.endsWith("/v2/")) {
      const moved = res.url.slice(0, -"/v2/".length);
      if (moved !== this.base) {
        log.debug({ from: this.base, to: moved }, "registry endpoint redirected");
        this.base = moved;
      }
    }
    if (res.status === 401) {
      this.challenge = pickChallenge(parseChallenges(res.headers.get("www-authenticate")));
    } else if (res.status === 400 && this.base.startsWith("http://")) {
      // "Client sent an HTTP request to an HTTPS server."
      throw new EndpointError(500, `Get "${url}": http: server gave HTTP response ${res.status}`);
    } else if (!res.ok && res.status !== 404) {
      throw new EndpointError(500, `Get "${url}": unexpected status code ${res.status}`);
    }
    log.debug({ url, status: res.status, challenge: this.challenge?.scheme }, "registry ping");
    this.pinged = true;
  }

  private async authorize(challenge: Challenge | undefined, scopes: string[]): Promise<void> {
    if (!challenge) {
      this.authorization = basicHeader(this.auth);
      return;
    }
    if (challenge.scheme === "basic") {
      this.authorization = basicHeader(this.auth);
      return;
    }
    const token = await fetchBearerToken(challenge, scopes, this.auth, (u, i) => this.rawFetch(u, i));
    this.authorization = `Bearer ${token}`;
  }

  /** An authorized request; on a 401 with a (new) challenge, re-authorizes once and retries. */
  async request(
    method: string,
    pathOrUrl: string,
    headers: Record<string, string> = {},
    body?: RequestBody,
  ): Promise<Response> {
    await this.ping();
    if (this.challenge && this.authorization === undefined) await this.authorize(this.challenge, this.scopes);
    const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.base}${pathOrUrl}`;
    const send = () => {
      const h: Record<string, string> = { ...headers };
      // credentials only go to the registry itself, not to another origin an upload URL names
      if (this.authorization && new URL(url).origin === new URL(this.base).origin)
        h.authorization = this.authorization;
      const init: RequestInit & { duplex?: "half" } = { method, headers: h };
      if (Buffer.isBuffer(body)) init.body = new Uint8Array(body) as unknown as BodyInit;
      else if (body) {
        init.body = body() as unknown as ReadableStream<Uint8Array>;
        init.duplex = "half";
      }
      return this.rawFetch(url, init);
    };
    let res = await send();
    if (res.status === 401) {
      const ch = pickChallenge(parseChallenges(res.headers.get("www-authenticate")));
      const errorParam = ch?.params.error;
      // retry unless the registry already told us the token lacks the scope
      if (ch && errorParam !== "insufficient_scope") {
        await res.arrayBuffer().catch(() => undefined);
        const scopes = this.scopes;
        if (ch.params.scope && !scopes.includes(ch.params.scope)) scopes.push(ch.params.scope);
        this.challenge = ch;
        await this.authorize(ch, scopes);
        res = await send();
      }
    }
    return res;
  }

  /** Builds the error for a failed response, translated as dockerd's translatePullError does. */
  async responseError(res: Response, method: string, url: string, refForMsgs?: string): Promise<DockerError> {
    const { code, text } = await describeResponse(res);
    if (refForMsgs !== undefined) {
      if (code === "DENIED") {
        return new RegistryResponseError(
          404,
          `pull access denied for ${refForMsgs.replace(/[:@].*$/, "")}, repository does not exist or may require 'docker login': ${text}`,
          res.status,
          code,
        );
      }
      if (code === "MANIFEST_UNKNOWN" || (res.status === 404 && code === undefined)) {
        const t = code === undefined ? "manifest unknown: manifest unknown" : text;
        return new RegistryResponseError(404, `manifest for ${refForMsgs} not found: ${t}`, res.status, code);
      }
      if (code === "NAME_UNKNOWN") {
        return new RegistryResponseError(
          404,
          `repository ${refForMsgs.replace(/[:@].*$/, "")} not found: ${text}`,
          res.status,
          code,
        );
      }
    }
    return new RegistryResponseError(500, `${goMethod(method)} "${url}": ${text}`, res.status, code);
  }

  /** GET a manifest by tag or digest. `refForMsgs` is the familiar reference for error messages. */
  async getManifest(
    tagOrDigest: string,
    refForMsgs: string,
  ): Promise<{ body: Buffer; contentType: string | null; digest: string }> {
    const p = `/v2/${this.repoPath}/manifests/${tagOrDigest}`;
    const res = await this.request("GET", p, { accept: MANIFEST_ACCEPT });
    if (!res.ok) throw await this.responseError(res, "GET", `${this.base}${p}`, refForMsgs);
    const len = Number(res.headers.get("content-length") ?? "0");
    if (len > MAX_MANIFEST_SIZE) throw serverError(`manifest too large: ${len} bytes`);
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length > MAX_MANIFEST_SIZE) throw serverError(`manifest too large: ${body.length} bytes`);
    return { body, contentType: res.headers.get("content-type"), digest: sha256(body) };
  }

  /** GET a blob; the returned response is ok and its body not yet consumed. */
  async getBlob(digest: string): Promise<Response> {
    const p = `/v2/${this.repoPath}/blobs/${digest}`;
    const res = await this.request("GET", p);
    if (!res.ok) {
      const err = await this.responseError(res, "GET", `${this.base}${p}`);
      if (res.status === 404) throw notFound(`blob ${digest} not found: ${err.message}`);
      throw err;
    }
    if (!res.body) throw serverError(`GET blob ${digest}: empty response body`);
    return res;
  }

  // ---- push side ---------------------------------------------------------------------------------

  /** A push-side failure: the registry's own message, as distribution's client reports it. */
  private async pushError(res: Response): Promise<DockerError> {
    const { code, text } = await describeResponse(res);
    return new RegistryResponseError(500, text, res.status, code);
  }

  /** HEAD a blob: does this repository already have it? */
  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.request("HEAD", `/v2/${this.repoPath}/blobs/${digest}`);
    await res.arrayBuffer().catch(() => undefined);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.pushError(res);
  }

  /** Starts a blob upload session; returns its URL. */
  async startUpload(): Promise<URL> {
    const r = await this.postUpload("");
    if (r === "mounted") throw serverError("registry answered an upload start with 201");
    return r;
  }

  /**
   * Asks the registry to mount `digest` from repository `from` of the same registry. Returns
   * "mounted", or the URL of the normal upload session the registry opened instead.
   */
  mountBlob(digest: string, from: string): Promise<"mounted" | URL> {
    return this.postUpload(`?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`);
  }

  private async postUpload(query: string): Promise<"mounted" | URL> {
    const p = `/v2/${this.repoPath}/blobs/uploads/${query}`;
    const res = await this.request("POST", p, { "content-length": "0" });
    await res.arrayBuffer().catch(() => undefined);
    if (query && res.status === 201) return "mounted";
    if (res.status !== 202) throw await this.pushError(res);
    return this.location(res, `${this.base}${p}`);
  }

  private location(res: Response, requestUrl: string): URL {
    const loc = res.headers.get("location");
    if (!loc) throw serverError(`registry did not return an upload location for ${this.repoPath}`);
    return new URL(loc, requestUrl);
  }

  /** PATCHes one chunk (bytes start..start+len-1) to an upload session; returns the session's next URL. */
  async uploadChunk(session: URL, body: RequestBody, start: number, length: number): Promise<URL> {
    const res = await this.request(
      "PATCH",
      session.toString(),
      {
        "content-type": "application/octet-stream",
        "content-length": String(length),
        "content-range": `${start}-${start + length - 1}`,
      },
      body,
    );
    await res.arrayBuffer().catch(() => undefined);
    if (res.status !== 202) throw await this.pushError(res);
    return this.location(res, session.toString());
  }

  /** Completes an upload session with PUT ?digest= (carrying the whole blob when `body` is given). */
  async finishUpload(
    session: URL,
    digest: string,
    body?: { data: RequestBody; length: number },
  ): Promise<void> {
    const u = new URL(session);
    u.searchParams.set("digest", digest);
    const headers: Record<string, string> = {
      "content-type": "application/octet-stream",
      "content-length": String(body?.length ?? 0),
    };
    const res = await this.request("PUT", u.toString(), headers, body?.data);
    await res.arrayBuffer().catch(() => undefined);
    if (res.status !== 201 && res.status !== 204) throw await this.pushError(res);
  }

  /** PUTs a manifest under a tag; returns the digest the registry reports (or the body's). */
  async putManifest(tag: string, body: Buffer, mediaType: string): Promise<string> {
    const res = await this.request(
      "PUT",
      `/v2/${this.repoPath}/manifests/${tag}`,
      { "content-type": mediaType, "content-length": String(body.length) },
      body,
    );
    await res.arrayBuffer().catch(() => undefined);
    if (res.status !== 201 && res.status !== 200) throw await this.pushError(res);
    return res.headers.get("docker-content-digest") ?? sha256(body);
  }

  /** GET /v2/ with the credentials (and the token flow): does the registry accept them? */
  async checkLogin(): Promise<{ status: number; url: string }> {
    const res = await this.request("GET", "/v2/");
    await res.arrayBuffer().catch(() => undefined);
    return { status: res.status, url: `${this.base}/v2/` };
  }
}
