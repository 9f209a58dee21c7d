/**
 * The agent as an image layer that runs in any Linux image (glibc, musl, no shell, no libc):
 * the bundled agent, the host's node binary, the shared libraries it needs and the dynamic loader,
 * all under /.sockerless/, started through that loader so the image's own libc is never used.
 * A static tini starts it: as the workload's PID 1 it reaps orphaned processes, which node (whose
 * libuv waits only for its own children) cannot do.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, promises as fs, readdirSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import tar from "tar-stream";

import { AGENT_ROOT } from "./paths.js";

export { AGENT_ROOT };

export interface AgentLayer {
  /** uncompressed layer tar */
  tarPath: string;
  /** sha256 of the tar, as in rootfs.diff_ids */
  diffId: string;
  /** the argv prefix that starts the agent (append agent flags, `--` and the user's argv) */
  entrypoint: string[];
}

export interface LayerOptions {
  /** where built layers are kept (default $SOCKERLESS_AGENT_CACHE or ~/.cache/sockerless/agent) */
  cacheDir?: string;
  /** the node binary to ship (default: the one running this code) */
  nodePath?: string;
  /** a statically linked tini (default $SOCKERLESS_AGENT_TINI or Debian's /usr/bin/tini-static) */
  tiniPath?: string;
}

interface FileEntry {
  name: string; // path inside the layer, without the leading slash
  source?: string;
  content?: Buffer;
  mode: number;
  symlink?: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** The agent program bundled into one CommonJS file (node-pty stays outside: it has a native part). */
async function bundle(): Promise<Buffer> {
  const { build } = await import("esbuild");
  const entry = ["main.js", "main.ts"].map((f) => path.join(here, "agent", f)).find(existsSync);
  if (!entry) throw new Error(`agent entry point not found under ${path.join(here, "agent")}`);
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    external: ["node-pty"],
    write: false,
    logLevel: "error",
    legalComments: "none",
  });
  return Buffer.from(out.outputFiles[0].contents);
}

/** Shared libraries of an ELF file as `ldd` resolves them: [soname, path], plus the loader. */
function sharedLibraries(file: string): { libs: [string, string][]; loader: string } {
  let out: string;
  try {
    out = execFileSync("ldd", [file], { encoding: "utf8" });
  } catch (e) {
    throw new Error(`cannot list the shared libraries of ${file} (ldd): ${(e as Error).message}`, {
      cause: e,
    });
  }
  const libs: [string, string][] = [];
  let loader = "";
  for (const line of out.split("\n")) {
    const arrow = /^\s*(\S+)\s+=>\s+(\/\S+)/.exec(line);
    if (arrow) libs.push([arrow[1], arrow[2]]);
    else {
      const abs = /^\s*(\/\S+ld-linux\S*)\s/.exec(line);
      if (abs) loader = abs[1];
    }
    if (/not found/.test(line)) throw new Error(`${file}: missing shared library: ${line.trim()}`);
  }
  if (!loader) throw new Error(`${file} names no dynamic loader (is it a static or non-glibc binary?)`);
  return { libs, loader };
}

function nodePtyFiles(): FileEntry[] {
  const require = createRequire(import.meta.url);
  const pkgDir = path.dirname(require.resolve("node-pty/package.json"));
  const native = path.join(pkgDir, "build", "Release", "pty.node");
  if (!existsSync(native)) throw new Error(`node-pty has no native build at ${native}`);
  const files: FileEntry[] = [
    { name: "package.json", source: path.join(pkgDir, "package.json"), mode: 0o644 },
    { name: "build/Release/pty.node", source: native, mode: 0o755 },
  ];
  const lib = path.join(pkgDir, "lib");
  const walk = (dir: string, rel: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) walk(path.join(dir, d.name), r);
      else if (d.name.endsWith(".js") && !d.name.endsWith(".test.js"))
        files.push({ name: `lib/${r}`, source: path.join(dir, d.name), mode: 0o644 });
    }
  };
  walk(lib, "");
  return files.map((f) => ({ ...f, name: `node_modules/node-pty/${f.name}` }));
}

async function layerFiles(
  nodePath: string,
  tiniPath: string,
): Promise<{ files: FileEntry[]; loaderName: string }> {
  const files: FileEntry[] = [];
  const root = AGENT_ROOT.slice(1);
  if (!existsSync(tiniPath))
    throw new Error(
      `the agent layer needs a statically linked tini at ${tiniPath} (it reaps orphaned processes as the workload's PID 1): install Debian's tini package or set SOCKERLESS_AGENT_TINI`,
    );
  files.push({ name: `${root}/bin/tini`, source: await fs.realpath(tiniPath), mode: 0o755 });
  files.push({ name: `${root}/agent.cjs`, content: await bundle(), mode: 0o644 });
  files.push({ name: `${root}/bin/node`, source: nodePath, mode: 0o755 });
  const pty = nodePtyFiles();
  for (const f of pty) files.push({ ...f, name: `${root}/${f.name}` });
  const ptyNative = pty.find((f) => f.name.endsWith("pty.node"))!.source!;
  const libs = new Map<string, string>();
  let loader = "";
  for (const elf of [nodePath, ptyNative]) {
    const r = sharedLibraries(elf);
    for (const [soname, p] of r.libs) libs.set(soname, p);
    loader = r.loader;
  }
  for (const [soname, p] of libs)
    files.push({ name: `${root}/lib/${soname}`, source: await fs.realpath(p), mode: 0o755 });
  const loaderName = path.basename(loader);
  files.push({ name: `${root}/lib/${loaderName}`, source: await fs.realpath(loader), mode: 0o755 });
  return { files, loaderName };
}

async function fingerprint(files: FileEntry[]): Promise<string> {
  const h = createHash("sha256");
  for (const f of files) {
    h.update(`${f.name}\0${f.mode}\0`);
    if (f.content) h.update(f.content);
    else {
      const st = await fs.stat(f.source!);
      h.update(`${f.source}\0${st.size}\0${st.mtimeMs}\0`);
    }
  }
  return h.digest("hex").slice(0, 32);
}

/** Write a reproducible tar (fixed times, root owner, parent directories first). */
async function writeTar(files: FileEntry[], out: string): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, createWriteStream(out));
  const mtime = new Date(0);
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.name.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  const add = (h: Partial<tar.Header> & { name: string }, body: Buffer = Buffer.alloc(0)) =>
    new Promise<void>((res, rej) =>
      pack.entry({ uid: 0, gid: 0, mtime, ...h } as tar.Header, body, (e) => (e ? rej(e) : res())),
    );
  for (const d of [...dirs].sort()) await add({ name: `${d}/`, type: "directory", mode: 0o755 });
  for (const f of [...files].sort((a, b) => a.name.localeCompare(b.name))) {
    if (f.content) {
      await add({ name: f.name, type: "file", mode: f.mode, size: f.content.length }, f.content);
      continue;
    }
    const st = await fs.stat(f.source!);
    await new Promise<void>((res, rej) => {
      const w = pack.entry(
        { name: f.name, type: "file", mode: f.mode, size: st.size, uid: 0, gid: 0, mtime },
        (e) => (e ? rej(e) : res()),
      );
      createReadStream(f.source!).on("error", rej).pipe(w);
    });
  }
  pack.finalize();
  await done;
}

async function sha256File(p: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
  return `sha256:${h.digest("hex")}`;
}

const building = new Map<string, Promise<AgentLayer>>();

/** Build (once, cached by content) the agent layer tar. */
export async function agentLayer(opts: LayerOptions = {}): Promise<AgentLayer> {
  const nodePath = await fs.realpath(opts.nodePath ?? process.execPath);
  const cacheDir =
    opts.cacheDir ??
    process.env.SOCKERLESS_AGENT_CACHE ??
    path.join(homedir(), ".cache", "sockerless", "agent");
  const tiniPath = opts.tiniPath ?? process.env.SOCKERLESS_AGENT_TINI ?? "/usr/bin/tini-static";
  const { files, loaderName } = await layerFiles(nodePath, tiniPath);
  const key = await fingerprint(files);
  const tarPath = path.join(cacheDir, `agent-layer-${key}.tar`);
  const entrypoint = [
    // -s: reap as a subreaper also where the workload's PID 1 is the platform's (Lambda's init)
    `${AGENT_ROOT}/bin/tini`,
    "-s",
    "--",
    `${AGENT_ROOT}/lib/${loaderName}`,
    "--library-path",
    `${AGENT_ROOT}/lib`,
    `${AGENT_ROOT}/bin/node`,
    `${AGENT_ROOT}/agent.cjs`,
  ];
  const pending = await building.get(tarPath)?.catch(() => undefined);
  if (pending && existsSync(pending.tarPath)) return pending;
  const job = (async () => {
    const meta = `${tarPath}.json`;
    try {
      const m = JSON.parse(await fs.readFile(meta, "utf8")) as { diffId: string };
      if (existsSync(tarPath)) return { tarPath, diffId: m.diffId, entrypoint };
    } catch {
      // not built yet
    }
    await fs.mkdir(cacheDir, { recursive: true });
    const tmp = `${tarPath}.${process.pid}.tmp`;
    await writeTar(files, tmp);
    const diffId = await sha256File(tmp);
    await fs.rename(tmp, tarPath);
    await fs.writeFile(meta, JSON.stringify({ diffId }));
    // layers of earlier agent builds are ~100 MB each: keep only this one
    for (const f of await fs.readdir(cacheDir)) {
      if (/^agent-layer-[0-9a-f]+\.tar(\.json)?$/.test(f) && !f.startsWith(path.basename(tarPath)))
        await fs.rm(path.join(cacheDir, f), { force: true });
    }
    return { tarPath, diffId, entrypoint };
  })();
  building.set(tarPath, job);
  job.catch(() => building.delete(tarPath));
  return job;
}

/** An OCI/Docker image config (the parts this module touches; the rest is kept as is). */
export interface ImageConfigFile {
  config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; [k: string]: unknown };
  rootfs?: { type: string; diff_ids: string[] };
  history?: { created?: string; created_by?: string; empty_layer?: boolean; comment?: string }[];
  [k: string]: unknown;
}

export interface WrapOptions {
  layer: Pick<AgentLayer, "diffId" | "entrypoint">;
  /** agent flags placed before `--` (e.g. ["--listen", ":9111"]); secrets belong in the env */
  args?: string[];
}

/**
 * The image config of "user image + agent layer": the layer appended to rootfs, and the agent
 * wrapping the original entrypoint. Cmd stays as it was, so a container's own Cmd still replaces
 * it: the workload runs `agent … -- <Entrypoint…> <Cmd…>`.
 */
export function wrapImageConfig(image: ImageConfigFile, opts: WrapOptions): ImageConfigFile {
  const out = structuredClone(image);
  const cfg = (out.config ??= {});
  cfg.Entrypoint = [
    ...opts.layer.entrypoint,
    ...(opts.args ?? []),
    "--",
    ...(image.config?.Entrypoint ?? []),
  ];
  cfg.Cmd = image.config?.Cmd ?? null;
  out.rootfs = { type: "layers", diff_ids: [...(image.rootfs?.diff_ids ?? []), opts.layer.diffId] };
  out.history = [
    ...(image.history ?? []),
    {
      created: new Date(0).toISOString(),
      created_by: "sockerless: add agent layer",
      comment: "sockerless agent",
    },
  ];
  return out;
}
