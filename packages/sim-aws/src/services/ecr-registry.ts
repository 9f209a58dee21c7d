import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import type { RestRequest, Simulator } from "../sim.js";
import type { EcrAuth } from "./ecr-auth.js";
import { blobUnknown, digestInvalid, manifestUnknown, nameUnknown, RegistryError } from "./ecr-errors.js";
import { DIGEST_RE } from "./ecr-manifest.js";
import { own, type EcrStore, type RepositoryRecord } from "./ecr-store.js";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
const API_VERSION = { "Docker-Distribution-API-Version": "registry/2.0" };

/**
 * The registry side of ECR (OCI distribution spec) on the simulator's own port, so the Docker
 * Engine can `docker login`, push and pull with the credentials GetAuthorizationToken issues.
 */
export function registerRegistry(sim: Simulator, store: EcrStore, auth: EcrAuth): void {
  const handler = async (r: RestRequest) => {
    try {
      if (!auth.verify(r.req.headers.authorization))
        throw new RegistryError("UNAUTHORIZED", "Not Authorized", 401);
      const rest = r.params["*"];
      if (!rest) return void send(r.res, 200, {}, "{}");
      await route(sim, store, r, rest);
    } catch (e) {
      sendError(r.req, r.res, e);
    }
    return undefined;
  };
  for (const m of ["GET", "HEAD"]) sim.registerRest("ecr", m, "/v2/", handler);
  for (const m of METHODS) sim.registerRest("ecr", m, "/v2/*", handler);
}

/** Split "<name with slashes>/<blobs|manifests|tags>/…" and serve it. */
async function route(sim: Simulator, store: EcrStore, r: RestRequest, rest: string): Promise<void> {
  const m = /^(.+?)\/(?:blobs\/uploads(?:\/([^/]+))?|blobs\/([^/]+)|manifests\/([^/]+)|(tags\/list))$/.exec(
    rest,
  );
  if (!m) throw new RegistryError("UNSUPPORTED", `no registry route for /v2/${rest}`, 404);
  const [, name, uploadId, blobDigest, reference, tags] = m;
  const repo = store.repo(name);
  if (!repo) throw nameUnknown(name, sim.opts.account);
  const method = r.req.method ?? "GET";
  const isUpload = uploadId !== undefined || /\/blobs\/uploads$/.test(rest);
  if (isUpload) return uploads(store, repo, r, method, uploadId);
  if (blobDigest !== undefined) return blob(store, repo, r, method, blobDigest);
  if (reference !== undefined) return manifest(store, repo, r, method, reference);
  if (tags && method === "GET") return tagList(repo, r);
  throw unsupported(method, rest);
}

async function blob(store: EcrStore, repo: RepositoryRecord, r: RestRequest, method: string, digest: string) {
  if (method !== "GET" && method !== "HEAD") throw unsupported(method, "blobs");
  if (!DIGEST_RE.test(digest)) throw digestInvalid(`invalid digest ${digest}`);
  const size = own(repo.blobs, digest) !== undefined ? store.blobs.size(digest) : undefined;
  if (size === undefined) throw blobUnknown(digest);
  r.res.writeHead(200, {
    ...API_VERSION,
    "Content-Type": "application/octet-stream",
    "Content-Length": size,
    "Docker-Content-Digest": digest,
  });
  if (method === "HEAD") return void r.res.end();
  await pipeline(store.blobs.read(digest), r.res);
}

async function uploads(
  store: EcrStore,
  repo: RepositoryRecord,
  r: RestRequest,
  method: string,
  id: string | undefined,
) {
  const base = `/v2/${repo.name}/blobs`;
  const finished = (digest: string, size: number) => {
    store.linkBlob(repo, digest, size);
    send(r.res, 201, { Location: `${base}/${digest}`, "Docker-Content-Digest": digest });
  };
  if (method === "POST" && id === undefined) {
    // Cross-repository mount: only when the source repository really has the blob.
    const mount = r.query.get("mount");
    const from = r.query.get("from");
    if (mount && from) {
      const src = store.repo(from);
      const size = src && own(src.blobs, mount) !== undefined ? store.blobs.size(mount) : undefined;
      if (size !== undefined) return finished(mount, size);
    }
    const u = store.blobs.startUpload(repo.name);
    const digest = r.query.get("digest");
    if (digest) {
      // monolithic upload in the POST itself
      await store.blobs.append(u, r.req);
      return finished(digest, await store.blobs.commit(u, checkDigest(digest)));
    }
    return send(r.res, 202, progress(base, u.id, 0));
  }
  const u = id ? store.blobs.upload(id) : undefined;
  if (!u || u.repository !== repo.name)
    throw new RegistryError("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", 404);
  switch (method) {
    case "GET":
      return send(r.res, 204, progress(base, u.id, u.size));
    case "PATCH": {
      const range = /^(\d+)-(\d+)$/.exec(String(r.req.headers["content-range"] ?? ""));
      if (range && Number(range[1]) !== u.size) {
        r.req.resume();
        return send(r.res, 416, progress(base, u.id, u.size));
      }
      await store.blobs.append(u, r.req);
      return send(r.res, 202, progress(base, u.id, u.size));
    }
    case "PUT": {
      const digest = checkDigest(r.query.get("digest") ?? "");
      await store.blobs.append(u, r.req);
      return finished(digest, await store.blobs.commit(u, digest));
    }
    case "DELETE":
      await store.blobs.cancel(u);
      return send(r.res, 204, {});
  }
  throw unsupported(method, "blobs/uploads");
}

async function manifest(
  store: EcrStore,
  repo: RepositoryRecord,
  r: RestRequest,
  method: string,
  reference: string,
) {
  if (method === "PUT") {
    const body = await r.body();
    const image = await store.putManifest(repo, reference, body, r.req.headers["content-type"]);
    return send(r.res, 201, {
      Location: `/v2/${repo.name}/manifests/${image.digest}`,
      "Docker-Content-Digest": image.digest,
    });
  }
  const image = store.resolve(repo, reference);
  if (!image) throw manifestUnknown(reference);
  if (method === "DELETE") {
    if (DIGEST_RE.test(reference)) {
      const parent = store.referencedBy(repo, image.digest);
      if (parent) throw new RegistryError("DENIED", `image is referenced by manifest list ${parent}`, 403);
      await store.deleteImage(repo, image.digest);
    } else await store.untag(repo, reference);
    return send(r.res, 202, {});
  }
  if (method !== "GET" && method !== "HEAD") throw unsupported(method, "manifests");
  const body = await store.blobs.readAll(image.digest);
  r.res.writeHead(200, {
    ...API_VERSION,
    "Content-Type": image.mediaType,
    "Content-Length": body.length,
    "Docker-Content-Digest": image.digest,
    ETag: `"${image.digest}"`,
  });
  if (method === "HEAD") return void r.res.end();
  image.lastPulledAt = Date.now();
  store.changed();
  r.res.end(body);
}

function tagList(repo: RepositoryRecord, r: RestRequest) {
  let tags = Object.keys(repo.tagIndex).sort();
  const last = r.query.get("last");
  if (last) tags = tags.filter((t) => t > last);
  const n = Number(r.query.get("n") ?? 0);
  const headers: Record<string, string> = {};
  if (n > 0 && tags.length > n) {
    tags = tags.slice(0, n);
    headers.Link = `</v2/${repo.name}/tags/list?n=${n}&last=${encodeURIComponent(tags[n - 1])}>; rel="next"`;
  }
  send(r.res, 200, headers, JSON.stringify({ name: repo.name, tags }));
}

function progress(base: string, id: string, size: number): Record<string, string> {
  return {
    Location: `${base}/uploads/${id}`,
    Range: `0-${Math.max(0, size - 1)}`,
    "Docker-Upload-UUID": id,
  };
}

function checkDigest(digest: string): string {
  if (!DIGEST_RE.test(digest)) throw digestInvalid(`invalid or unsupported digest "${digest}"`);
  return digest;
}

const unsupported = (method: string, what: string) =>
  new RegistryError("UNSUPPORTED", `${method} is not supported on ${what}`, 405);

function send(res: ServerResponse, status: number, headers: Record<string, string>, body = "") {
  res.writeHead(status, {
    ...API_VERSION,
    ...(body ? { "Content-Type": "application/json" } : {}),
    "Content-Length": Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function sendError(req: IncomingMessage, res: ServerResponse, e: unknown) {
  if (res.headersSent) return void res.destroy();
  const err =
    e instanceof RegistryError
      ? e
      : new RegistryError("UNKNOWN", e instanceof Error ? e.message : String(e), 500);
  const headers: Record<string, string> = {};
  if (err.status === 401)
    headers["WWW-Authenticate"] =
      `Basic realm="http://${req.headers.host ?? "localhost"}/",service="ecr.amazonaws.com"`;
  req.resume(); // drop an unread body so the connection stays usable
  send(
    res,
    err.status,
    headers,
    JSON.stringify({ errors: [{ code: err.code, message: err.message, detail: err.detail ?? null }] }),
  );
}
