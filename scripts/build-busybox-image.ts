// Build small test images from Debian's static busybox WITHOUT any Docker
// Engine, and push them to a plain-HTTP registry with the distribution API.
//
//   node --import tsx scripts/build-busybox-image.ts [--registry 127.0.0.1:5000] [--repo busybox] [--tag latest]
//
// Pushes:
//   <registry>/<repo>:<tag>     Docker schema2 manifest, linux/amd64, one layer
//   <registry>/<repo>:multi     OCI image index: linux/amd64 + linux/arm64/v8
//                               (same layer; only the config's architecture
//                               differs) for platform-selection tests
//   <registry>/hello-sh:latest  busybox layer + a layer with /usr/local/bin/hello,
//                               and a config with most fields set
//
// Everything is deterministic (fixed mtimes, uid/gid 0, sorted entries), so
// digests are stable across runs on the same busybox binary.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";

const BUSYBOX = "/bin/busybox";
const MTIME = new Date("2024-01-01T00:00:00Z");
const CREATED = MTIME.toISOString();
const PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
const MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json";

type Entry =
  | { type: "directory"; name: string; mode: number }
  | { type: "file"; name: string; mode: number; data: Buffer }
  | { type: "symlink"; name: string; target: string };

interface Blob {
  digest: string;
  size: number;
  data: Buffer;
}

interface Layer {
  blob: Blob; // gzipped tar, what the registry stores
  diffId: string; // sha256 of the uncompressed tar, what the config lists
}

function sha256(data: Buffer | string): string {
  return "sha256:" + createHash("sha256").update(data).digest("hex");
}

function blobOf(data: Buffer): Blob {
  return { digest: sha256(data), size: data.length, data };
}

function parseArgs(argv: string[]): { registry: string; repo: string; tag: string } {
  const opts = {
    registry: process.env.SOCKERLESS_TEST_REGISTRY || "127.0.0.1:5000",
    repo: "busybox",
    tag: "latest",
  };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, "");
    const value = argv[i + 1];
    if (!(key in opts) || !argv[i].startsWith("--") || value === undefined) {
      throw new Error(`usage: build-busybox-image.ts [--registry HOST:PORT] [--repo NAME] [--tag TAG]`);
    }
    opts[key as keyof typeof opts] = value;
    i++;
  }
  return opts;
}

// Serialize entries (already in the desired order) into an uncompressed tar.
async function makeTar(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    p.on("data", (c: unknown) => chunks.push(c as Buffer));
    p.on("end", () => resolve());
    p.on("error", reject);
  });
  const common = { uid: 0, gid: 0, uname: "root", gname: "root", mtime: MTIME };
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.type === "file") p.entry({ ...common, name: e.name, type: "file", mode: e.mode }, e.data, cb);
      else if (e.type === "directory")
        p.entry({ ...common, name: e.name, type: "directory", mode: e.mode }, cb);
      else p.entry({ ...common, name: e.name, type: "symlink", mode: 0o777, linkname: e.target }, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function makeLayer(entries: Entry[]): Promise<Layer> {
  const tar = await makeTar(entries);
  // gzip output is deterministic for identical input and level (mtime field 0).
  return { blob: blobOf(gzipSync(tar, { level: 9 })), diffId: sha256(tar) };
}

// Every parent directory of the given paths, parents first.
function parentDirs(paths: string[]): string[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    for (let d = path.posix.dirname(p); d !== "."; d = path.posix.dirname(d)) dirs.add(d);
  }
  return [...dirs].sort();
}

function busyboxEntries(): Entry[] {
  const binary = readFileSync(BUSYBOX);
  // e.g. "bin/sh", "usr/bin/env", "sbin/ip", "linuxrc"; includes "bin/busybox" itself.
  const applets = execFileSync(BUSYBOX, ["--list-full"], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && l !== "bin/busybox");
  if (applets.length < 100 || !applets.includes("bin/sh")) {
    throw new Error(`${BUSYBOX} --list-full returned an unexpected list (${applets.length} applets)`);
  }

  const dirModes: Record<string, number> = {
    tmp: 0o1777,
    root: 0o700,
  };
  const extraDirs = ["tmp", "root", "home", "var", "etc", "proc", "sys", "dev", "usr/local/bin"];
  const dirs = new Set([...parentDirs([...applets, "bin/busybox", ...extraDirs]), ...extraDirs]);

  const entries: Entry[] = [];
  for (const d of [...dirs].sort()) entries.push({ type: "directory", name: d, mode: dirModes[d] ?? 0o755 });
  entries.push({ type: "file", name: "bin/busybox", mode: 0o755, data: binary });
  entries.push({
    type: "file",
    name: "etc/passwd",
    mode: 0o644,
    data: Buffer.from("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"),
  });
  entries.push({
    type: "file",
    name: "etc/group",
    mode: 0o644,
    data: Buffer.from("root:x:0:\nnobody:x:65534:\n"),
  });
  // Relative targets (usr/bin/env -> ../../bin/busybox) so the links resolve
  // wherever the rootfs is unpacked, even without chroot/pivot_root.
  for (const a of [...applets].sort()) {
    entries.push({
      type: "symlink",
      name: a,
      target: path.posix.relative(path.posix.dirname(a), "bin/busybox"),
    });
  }
  return entries;
}

function imageConfig(architecture: string, layers: Layer[], config: object, history: object[]): Buffer {
  const cfg: Record<string, unknown> = {
    architecture,
    os: "linux",
    created: CREATED,
    config,
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history,
  };
  if (architecture === "arm64") cfg.variant = "v8";
  return Buffer.from(JSON.stringify(cfg));
}

function schema2Manifest(config: Blob, layers: Layer[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT_DOCKER_MANIFEST,
      config: { mediaType: MT_DOCKER_CONFIG, size: config.size, digest: config.digest },
      layers: layers.map((l) => ({ mediaType: MT_DOCKER_LAYER, size: l.blob.size, digest: l.blob.digest })),
    }),
  );
}

class Registry {
  constructor(private readonly host: string) {}

  private url(p: string): string {
    return `http://${this.host}${p}`;
  }

  private async request(method: string, url: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(url, { method, redirect: "follow", ...init });
    } catch (err) {
      // fetch() hides the reason (e.g. ECONNREFUSED) in err.cause.
      const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
      const why = cause
        ? `${(err as Error).message}: ${cause.code ?? cause.message}`
        : (err as Error).message;
      throw new Error(`${method} ${url} failed: ${why}`, { cause: err });
    }
  }

  private static async fail(what: string, res: Response): Promise<never> {
    throw new Error(`${what}: HTTP ${res.status} ${await res.text().catch(() => "")}`);
  }

  async pushBlob(repo: string, blob: Blob): Promise<void> {
    const head = await this.request("HEAD", this.url(`/v2/${repo}/blobs/${blob.digest}`));
    if (head.status === 200) return; // already there
    const start = await this.request("POST", this.url(`/v2/${repo}/blobs/uploads/`));
    if (start.status !== 202) await Registry.fail(`start upload to ${repo}`, start);
    await start.arrayBuffer();
    const location = start.headers.get("location");
    if (!location) throw new Error(`start upload to ${repo}: no Location header`);
    // Location may be relative; it may already carry query parameters (_state).
    const put = new URL(location, this.url("/"));
    put.searchParams.set("digest", blob.digest);
    const res = await this.request("PUT", put.toString(), {
      headers: { "content-type": "application/octet-stream", "content-length": String(blob.size) },
      body: new Uint8Array(blob.data),
    });
    if (res.status !== 201) await Registry.fail(`upload ${blob.digest} to ${repo}`, res);
    await res.arrayBuffer();
  }

  // reference is a tag or a digest; returns the digest the registry reports.
  async pushManifest(repo: string, reference: string, mediaType: string, body: Buffer): Promise<string> {
    const res = await this.request("PUT", this.url(`/v2/${repo}/manifests/${reference}`), {
      headers: { "content-type": mediaType },
      body: new Uint8Array(body),
    });
    if (res.status !== 201) await Registry.fail(`put manifest ${repo}:${reference}`, res);
    await res.arrayBuffer();
    const digest = res.headers.get("docker-content-digest");
    if (digest !== sha256(body)) {
      throw new Error(`put manifest ${repo}:${reference}: registry digest ${digest} != ${sha256(body)}`);
    }
    return digest;
  }

  // Push config + layers, then the schema2 manifest by tag (or by digest when tag is null).
  async pushImage(repo: string, tag: string | null, config: Blob, layers: Layer[]): Promise<Blob> {
    for (const l of layers) await this.pushBlob(repo, l.blob);
    await this.pushBlob(repo, config);
    const manifest = blobOf(schema2Manifest(config, layers));
    await this.pushManifest(repo, tag ?? manifest.digest, MT_DOCKER_MANIFEST, manifest.data);
    return manifest;
  }
}

async function main(): Promise<void> {
  const { registry: host, repo, tag } = parseArgs(process.argv.slice(2));
  const registry = new Registry(host);

  const base = await makeLayer(busyboxEntries());
  const baseHistory = [{ created: CREATED, created_by: "build-busybox-image.ts: busybox-static rootfs" }];
  const baseConfig = { Env: [PATH_ENV], Cmd: ["sh"] };

  // <repo>:<tag> — linux/amd64
  const amd64Config = blobOf(imageConfig("amd64", [base], baseConfig, baseHistory));
  const amd64 = await registry.pushImage(repo, tag, amd64Config, [base]);
  console.log(
    `pushed ${host}/${repo}:${tag} ${amd64.digest} (layer ${base.blob.digest}, ${base.blob.size} bytes)`,
  );

  // <repo>:multi — OCI index over amd64 and arm64/v8 (children pushed by digest).
  const arm64Config = blobOf(imageConfig("arm64", [base], baseConfig, baseHistory));
  const arm64 = await registry.pushImage(repo, null, arm64Config, [base]);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT_OCI_INDEX,
      manifests: [
        {
          mediaType: MT_DOCKER_MANIFEST,
          size: amd64.size,
          digest: amd64.digest,
          platform: { architecture: "amd64", os: "linux" },
        },
        {
          mediaType: MT_DOCKER_MANIFEST,
          size: arm64.size,
          digest: arm64.digest,
          platform: { architecture: "arm64", os: "linux", variant: "v8" },
        },
      ],
    }),
  );
  const indexDigest = await registry.pushManifest(repo, "multi", MT_OCI_INDEX, index);
  console.log(`pushed ${host}/${repo}:multi ${indexDigest} (amd64 ${amd64.digest}, arm64 ${arm64.digest})`);

  // hello-sh:latest — busybox layer + /usr/local/bin/hello, richer config.
  const hello = await makeLayer([
    { type: "directory", name: "srv", mode: 0o755 },
    { type: "directory", name: "usr", mode: 0o755 },
    { type: "directory", name: "usr/local", mode: 0o755 },
    { type: "directory", name: "usr/local/bin", mode: 0o755 },
    {
      type: "file",
      name: "usr/local/bin/hello",
      mode: 0o755,
      data: Buffer.from('#!/bin/sh\necho "hello from script $@"\n'),
    },
  ]);
  const helloConfig = blobOf(
    imageConfig(
      "amd64",
      [base, hello],
      {
        Env: [PATH_ENV, "GREETING=hi"],
        Cmd: ["hello"],
        WorkingDir: "/srv",
        Labels: { "org.example.kind": "test" },
        ExposedPorts: { "8080/tcp": {} },
        Healthcheck: { Test: ["CMD-SHELL", "true"], Interval: 1000000000, Retries: 2 },
      },
      [
        ...baseHistory,
        { created: CREATED, created_by: "build-busybox-image.ts: add /usr/local/bin/hello" },
        { created: CREATED, created_by: "build-busybox-image.ts: config", empty_layer: true },
      ],
    ),
  );
  const helloManifest = await registry.pushImage("hello-sh", "latest", helloConfig, [base, hello]);
  console.log(`pushed ${host}/hello-sh:latest ${helloManifest.digest}`);
}

main().catch((err: Error) => {
  console.error(`build-busybox-image: ERROR: ${err.message}`);
  process.exit(1);
});
