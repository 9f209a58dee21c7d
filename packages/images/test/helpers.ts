import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import * as tar from "tar-stream";

export const sha256 = (b: Buffer | string) => "sha256:" + createHash("sha256").update(b).digest("hex");

export async function tmpDir(prefix = "sockerless-images-"): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
}

export interface TarEntry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link";
  content?: string | Buffer;
  mode?: number;
  linkname?: string;
  mtime?: Date;
  uid?: number;
  gid?: number;
}

export const FIXED_MTIME = new Date("2020-05-06T07:08:09Z");

/** Builds an uncompressed tar. */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (c: unknown) => chunks.push(c as Buffer));
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  for (const e of entries) {
    const type = e.type ?? "file";
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === "directory" ? 0o755 : 0o644),
      mtime: e.mtime ?? FIXED_MTIME,
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
    };
    if (type === "file") {
      await new Promise<void>((resolve, reject) =>
        pack.entry(header, e.content ?? "", (err) => (err ? reject(err) : resolve())),
      );
    } else {
      await new Promise<void>((resolve, reject) =>
        pack.entry(header, (err) => (err ? reject(err) : resolve())),
      );
    }
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

// ---- the Debian docker registry -------------------------------------------------------------------

export interface Registry {
  host: string; // "127.0.0.1:port"
  base: string; // "http://127.0.0.1:port"
  stop(): Promise<void>;
}

/** A bcrypt htpasswd line for the registry's htpasswd auth. */
export async function htpasswdLine(user: string, password: string): Promise<string> {
  const bcrypt = await import("bcryptjs");
  return `${user}:${bcrypt.hashSync(password, 6)}\n`;
}

/** Starts Debian's docker-registry on an ephemeral port; with `htpasswd`, Basic auth is required. */
export async function startRegistry(opts: { htpasswd?: string } = {}): Promise<Registry> {
  const dir = await tmpDir("sockerless-registry-");
  const port = await freePort();
  const auth: string[] = [];
  if (opts.htpasswd !== undefined) {
    await fsp.writeFile(path.join(dir, "htpasswd"), opts.htpasswd);
    auth.push(
      "auth:",
      "  htpasswd:",
      "    realm: sockerless-test",
      `    path: ${path.join(dir, "htpasswd")}`,
    );
  }
  const config = [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${path.join(dir, "data")}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    ...auth,
    "",
  ].join("\n");
  await fsp.writeFile(path.join(dir, "config.yml"), config);
  const child: ChildProcess = spawn("/usr/bin/docker-registry", ["serve", path.join(dir, "config.yml")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`${base}/v2/`);
      if (res.status === 200 || (opts.htpasswd !== undefined && res.status === 401)) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`docker-registry did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: `127.0.0.1:${port}`,
    base,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

export async function pushBlob(base: string, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  if (start.status !== 202) throw new Error(`upload start: ${start.status} ${await start.text()}`);
  const loc = new URL(start.headers.get("location") as string, base);
  loc.searchParams.set("digest", digest);
  const put = await fetch(loc, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: new Uint8Array(data),
  });
  if (put.status !== 201) throw new Error(`upload put: ${put.status} ${await put.text()}`);
  return digest;
}

export async function pushManifest(
  base: string,
  repo: string,
  ref: string,
  body: Buffer,
  mediaType: string,
): Promise<string> {
  const res = await fetch(`${base}/v2/${repo}/manifests/${ref}`, {
    method: "PUT",
    headers: { "content-type": mediaType },
    body: new Uint8Array(body),
  });
  if (res.status !== 201) throw new Error(`manifest put ${ref}: ${res.status} ${await res.text()}`);
  return sha256(body);
}

export interface BuiltImage {
  configBytes: Buffer;
  id: string;
  layers: { compressed: Buffer; tar: Buffer; digest: string; diffId: string; mediaType: string }[];
  manifest: Buffer;
  manifestDigest: string;
  manifestMediaType: string;
}

/** Pushes layers + config + manifest (docker schema2 or OCI) and returns what was pushed. */
export async function pushImage(
  base: string,
  repo: string,
  opts: {
    layers: { tar: Buffer; gzip: boolean }[];
    architecture: string;
    variant?: string;
    oci?: boolean;
    labels?: Record<string, string>;
    created?: string;
  },
): Promise<BuiltImage> {
  const layers: BuiltImage["layers"] = [];
  for (const l of opts.layers) {
    const compressed = l.gzip ? gzipSync(l.tar) : l.tar;
    const mediaType = opts.oci
      ? l.gzip
        ? "application/vnd.oci.image.layer.v1.tar+gzip"
        : "application/vnd.oci.image.layer.v1.tar"
      : "application/vnd.docker.image.rootfs.diff.tar.gzip";
    const digest = await pushBlob(base, repo, compressed);
    layers.push({ compressed, tar: l.tar, digest, diffId: sha256(l.tar), mediaType });
  }
  const config = {
    architecture: opts.architecture,
    ...(opts.variant ? { variant: opts.variant } : {}),
    os: "linux",
    created: opts.created ?? "2024-01-02T03:04:05.123456789Z",
    author: "sockerless tests",
    config: {
      Env: ["PATH=/usr/local/bin:/usr/bin:/bin"],
      Cmd: ["/bin/sh"],
      WorkingDir: "/",
      Labels: opts.labels ?? { "org.example.arch": opts.architecture },
    },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history: [
      { created: "2024-01-01T00:00:00Z", created_by: "/bin/sh -c #(nop) ADD file:abc in / " },
      { created: "2024-01-01T00:00:01Z", created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
      ...layers.slice(1).map((_, i) => ({
        created: "2024-01-02T03:04:05Z",
        created_by: `RUN layer ${i + 2}`,
        comment: "buildkit.dockerfile.v0",
      })),
    ],
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = await pushBlob(base, repo, configBytes);
  const manifestMediaType = opts.oci
    ? "application/vnd.oci.image.manifest.v1+json"
    : "application/vnd.docker.distribution.manifest.v2+json";
  const manifestObj = {
    schemaVersion: 2,
    mediaType: manifestMediaType,
    config: {
      mediaType: opts.oci
        ? "application/vnd.oci.image.config.v1+json"
        : "application/vnd.docker.container.image.v1+json",
      size: configBytes.length,
      digest: configDigest,
    },
    layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.compressed.length, digest: l.digest })),
  };
  const manifest = Buffer.from(JSON.stringify(manifestObj, null, 3));
  const manifestDigest = await pushManifest(base, repo, sha256(manifest), manifest, manifestMediaType);
  return { configBytes, id: configDigest, layers, manifest, manifestDigest, manifestMediaType };
}

export async function pushIndex(
  base: string,
  repo: string,
  tag: string,
  entries: { img: BuiltImage; architecture: string; variant?: string }[],
): Promise<{ digest: string; body: Buffer }> {
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: entries.map((e) => ({
      mediaType: e.img.manifestMediaType,
      size: e.img.manifest.length,
      digest: e.img.manifestDigest,
      platform: { architecture: e.architecture, os: "linux", ...(e.variant ? { variant: e.variant } : {}) },
    })),
  };
  const body = Buffer.from(JSON.stringify(index));
  const digest = await pushManifest(base, repo, tag, body, index.mediaType);
  return { digest, body };
}

// ---- a small registry front (auth / tampering) ------------------------------------------------------

export interface Front {
  host: string;
  base: string;
  tokenRequests: { authorization?: string; query: Record<string, string>; scopes: string[] }[];
  requests: string[];
  /** Body size of each request in `requests`. */
  requestSizes: number[];
  stop(): Promise<void>;
}

export async function startFront(
  backend: string,
  opts: {
    auth?: "bearer" | "basic";
    users?: Record<string, string>;
    tamperDigest?: string;
    failManifests?: boolean;
    /** answer the first this-many blob upload PUT/PATCH requests with a 503 */
    failUploads?: number;
    /** answer blob GETs with a 307 to the backend (like registries redirecting to object storage) */
    redirectBlobs?: boolean;
  } = {},
): Promise<Front> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const users = opts.users ?? { alice: "secret" };
  const validTokens = new Set<string>();
  const tokenRequests: Front["tokenRequests"] = [];
  const requests: string[] = [];
  const requestSizes: number[] = [];
  const basicOk = (h: string | undefined) => {
    if (!h?.startsWith("Basic ")) return undefined;
    const [u, p] = Buffer.from(h.slice(6), "base64").toString().split(":");
    return users[u] === p ? u : undefined;
  };
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", base);
      requests.push(`${req.method} ${url.pathname}`);
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const reqBody = Buffer.concat(chunks);
      requestSizes.push(reqBody.length);
      if (url.pathname === "/token") {
        tokenRequests.push({
          authorization: req.headers.authorization,
          query: Object.fromEntries(url.searchParams.entries()),
          scopes: url.searchParams.getAll("scope"),
        });
        const user = basicOk(req.headers.authorization);
        if (!user) {
          res.writeHead(401, { "content-type": "application/json" });
          res.end(JSON.stringify({ details: "incorrect username or password" }));
          return;
        }
        const token = `tok-${user}-${validTokens.size}`;
        validTokens.add(token);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ token, expires_in: 300 }));
        return;
      }
      if (opts.auth) {
        const h = req.headers.authorization;
        const ok = opts.auth === "bearer" ? !!h && validTokens.has(h.replace(/^Bearer /, "")) : !!basicOk(h);
        if (!ok) {
          const m = /^\/v2\/(.+)\/(manifests|blobs)\//.exec(url.pathname);
          const challenge =
            opts.auth === "bearer"
              ? `Bearer realm="${base}/token",service="front"${m ? `,scope="repository:${m[1]}:pull"` : ""}`
              : `Basic realm="front"`;
          res.writeHead(401, { "content-type": "application/json", "www-authenticate": challenge });
          res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
          return;
        }
      }
      if (opts.redirectBlobs && url.pathname.includes("/blobs/")) {
        res.writeHead(307, { location: `${backend}${url.pathname}` });
        res.end();
        return;
      }
      if (
        opts.failUploads &&
        (req.method === "PUT" || req.method === "PATCH") &&
        url.pathname.includes("/blobs/uploads/")
      ) {
        opts.failUploads--;
        res.writeHead(503, { "content-type": "application/json" });
        res.end(JSON.stringify({ errors: [{ code: "UNAVAILABLE", message: "try again" }] }));
        return;
      }
      if (opts.failManifests && url.pathname.includes("/manifests/")) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end("boom");
        return;
      }
      const headers: Record<string, string> = {};
      for (const h of ["accept", "content-type", "content-range"]) {
        const v = req.headers[h];
        if (typeof v === "string") headers[h] = v;
      }
      const up = await fetch(`${backend}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        ...(reqBody.length > 0 || req.method === "PUT" || req.method === "PATCH"
          ? { body: new Uint8Array(reqBody) }
          : {}),
      });
      let body = Buffer.from(await up.arrayBuffer());
      if (opts.tamperDigest && url.pathname.endsWith(`/blobs/${opts.tamperDigest}`) && body.length > 0) {
        body = Buffer.from(body);
        body[body.length - 1] ^= 0xff;
      }
      const outHeaders: Record<string, string> = {};
      up.headers.forEach((v, k) => {
        if (!["content-length", "transfer-encoding", "connection", "content-encoding"].includes(k))
          outHeaders[k] = k === "location" ? v.replace(backend, base) : v;
      });
      res.writeHead(up.status, outHeaders);
      res.end(body);
    })().catch((err: unknown) => {
      res.writeHead(502);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    host: `127.0.0.1:${port}`,
    base,
    tokenRequests,
    requests,
    requestSizes,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
