import * as fs from "node:fs";
import { createReadStream, type Stats } from "node:fs";
import * as path from "node:path";
import { Transform, type Duplex, type Readable, type TransformCallback } from "node:stream";
import * as tar from "tar-stream";
import { log, serverError } from "@sockerless/api";
import { HashingStream } from "./digest.js";
import { decompressor, fileCompression, type Compression } from "./compression.js";
import { errnoCode } from "./fsutil.js";

/**
 * Safe extraction of OCI/docker image layers into a directory that stands for the image's "/".
 *
 * - entries with absolute names or names escaping the root with ".." are skipped;
 * - parent paths are resolved physically inside the root, symlinks followed as if the root were
 *   "/" (chroot semantics), so nothing is ever written outside the root;
 * - absolute symlink targets are rewritten to equivalent relative ones (and relative targets that
 *   would climb above the root are clamped), so the tree never points outside itself;
 * - OCI whiteouts (.wh.<name>, .wh..wh..opq) are applied;
 * - modes (incl. setuid/setgid/sticky), mtimes and — when running as root — owners are kept.
 */

export interface UnpackLayerOptions {
  /** Called with the number of (compressed) layer bytes consumed so far. */
  onProgress?: (current: number) => void;
  signal?: AbortSignal;
}

export interface UnpackLayerResult {
  /** sha256 of the uncompressed tar stream. */
  diffId: string;
  /** dockerd's DiffSize: bytes of regular files (hard links counted once) + symlink target lengths. */
  size: number;
}

const WHITEOUT_PREFIX = ".wh.";
const WHITEOUT_OPAQUE = ".wh..wh..opq";
const MAX_SYMLINK_HOPS = 255;

/** Layers may be gzip, zstd or plain (the OCI layer media types); others are refused. */
async function layerCompression(file: string): Promise<Compression> {
  const kind = await fileCompression(file);
  if (kind === "bzip2" || kind === "xz") throw serverError(`unsupported layer compression: ${kind}`);
  return kind;
}

class Counter extends Transform {
  bytes = 0;
  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
    cb(null, chunk);
  }
}

/**
 * The relative symlink target equivalent (inside the root) to `target` for a link that lives in
 * the directory `linkDir` (relative to the root, "" for the root itself).
 * Absolute targets become relative; relative targets that would climb above the root are clamped
 * at the root the way a chroot resolves them. Other relative targets are returned unchanged.
 */
export function containedSymlinkTarget(linkDir: string, target: string): string {
  if (target === "") return target;
  const dirAbs = "/" + linkDir;
  if (target.startsWith("/")) {
    const abs = path.posix.normalize(target);
    return path.posix.relative(dirAbs, abs) || ".";
  }
  let depth = linkDir === "" ? 0 : linkDir.split("/").length;
  let escapes = false;
  for (const c of target.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      depth--;
      if (depth < 0) {
        escapes = true;
        break;
      }
    } else depth++;
  }
  if (!escapes) return target;
  // posix.normalize of an absolute path clamps ".." at "/"
  const abs = path.posix.normalize(path.posix.join(dirAbs, ...target.split("/").map((c) => c || ".")));
  const rel = path.posix.relative(dirAbs, abs) || ".";
  return target.endsWith("/") && rel !== "." ? rel + "/" : rel;
}

/** Cleans a tar entry name; undefined when it is absolute or escapes the root. "" is the root itself. */
export function cleanEntryName(name: string): string | undefined {
  if (name.startsWith("/")) return undefined;
  const n = path.posix.normalize(name.replace(/\/+$/, "") || ".");
  if (n === ".." || n.startsWith("../")) return undefined;
  return n === "." ? "" : n;
}

interface DeferredDir {
  rel: string;
  mode: number;
  mtime?: Date;
  uid?: number;
  gid?: number;
}

/** fs.rmSync, making directories writable first when removal fails with EACCES (non-root unpacks). */
function removeTreeSync(p: string): void {
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch (err) {
    if (errnoCode(err) !== "EACCES" && errnoCode(err) !== "EPERM") throw err;
    const walk = (q: string) => {
      let st: Stats;
      try {
        st = fs.lstatSync(q);
      } catch {
        return;
      }
      if (!st.isDirectory()) return;
      try {
        fs.chmodSync(q, (st.mode & 0o7777) | 0o700);
      } catch {
        // best effort
      }
      for (const e of fs.readdirSync(q)) walk(path.join(q, e));
    };
    walk(p);
    fs.rmSync(p, { recursive: true, force: true });
  }
}

/**
 * State for unpacking one layer into a root.
 *
 * Metadata and file writes use synchronous syscalls on purpose: each blocks for microseconds on a
 * local disk, while a thread-pool hop per call made unpacking several times slower (small files).
 * The tar stream itself stays asynchronous, so the event loop is yielded between chunks.
 */
class LayerUnpacker {
  private readonly isRoot = process.getuid?.() === 0;
  private readonly unpacked = new Set<string>();
  private readonly dirs: DeferredDir[] = [];
  /** Regular files written by this layer (for hard link size accounting). */
  private readonly layerFiles = new Set<string>();
  /** Cleaned archive directory → resolved physical directory known to exist; cleared on any removal. */
  private readonly dirCache = new Map<string, string>();
  size = 0;

  constructor(private readonly root: string) {}

  private abs(rel: string): string {
    return rel === "" ? this.root : path.join(this.root, rel);
  }

  private lstat(rel: string): Stats | undefined {
    return fs.lstatSync(this.abs(rel), { throwIfNoEntry: false });
  }

  /**
   * Resolves `rel` (already cleaned) physically within the root, following symlinks in every
   * component with the root as "/". Returns the resolved relative path, which contains no symlink
   * (components that do not exist yet are kept literally), or undefined on a symlink loop.
   */
  resolve(rel: string): string | undefined {
    const pending = rel.split("/").filter((c) => c !== "" && c !== ".");
    const resolved: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const c = pending.shift() as string;
      if (c === "..") {
        resolved.pop();
        continue;
      }
      const candidate = [...resolved, c].join("/");
      let st: Stats | undefined;
      try {
        st = this.lstat(candidate);
      } catch (err) {
        if (errnoCode(err) !== "ENOTDIR") throw err;
        st = undefined;
      }
      if (st?.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) return undefined;
        const target = fs.readlinkSync(this.abs(candidate));
        if (target.startsWith("/")) resolved.length = 0;
        pending.unshift(...target.split("/").filter((x) => x !== "" && x !== "."));
        continue;
      }
      resolved.push(c);
    }
    return resolved.join("/");
  }

  /** Creates missing directories of a resolved (symlink-free) path; false if a component is not a directory. */
  private ensureDir(rel: string): boolean {
    if (rel === "") return true;
    let cur = "";
    for (const c of rel.split("/")) {
      cur = cur ? `${cur}/${c}` : c;
      const st = this.lstat(cur);
      if (!st) {
        fs.mkdirSync(this.abs(cur), { mode: 0o755 });
        this.markUnpacked(cur);
      } else if (!st.isDirectory()) return false;
    }
    return true;
  }

  private markUnpacked(rel: string): void {
    let r = rel;
    while (r !== "" && !this.unpacked.has(r)) {
      this.unpacked.add(r);
      const i = r.lastIndexOf("/");
      r = i < 0 ? "" : r.slice(0, i);
    }
  }

  private remove(rel: string): void {
    this.dirCache.clear();
    this.layerFiles.delete(rel);
    removeTreeSync(this.abs(rel));
  }

  /** Resolves and creates the parent directory of an entry; undefined if impossible (loop, non-dir). */
  private parentDir(dirName: string, name: string): string | undefined {
    const cached = this.dirCache.get(dirName);
    if (cached !== undefined) return cached;
    const parent = this.resolve(dirName);
    if (parent === undefined) {
      log.warn({ name }, "layer entry below a symlink loop skipped");
      return undefined;
    }
    if (!this.ensureDir(parent)) {
      log.warn({ name }, "layer entry below a non-directory skipped");
      return undefined;
    }
    this.dirCache.set(dirName, parent);
    return parent;
  }

  private chown(abs: string, uid: number | undefined, gid: number | undefined, link: boolean): void {
    if (!this.isRoot || uid === undefined || gid === undefined) return;
    try {
      if (link) fs.lchownSync(abs, uid, gid);
      else fs.chownSync(abs, uid, gid);
    } catch {
      // ignore (e.g. user namespaces without the id mapped)
    }
  }

  private fileMode(mode: number | undefined): number {
    const m = (mode ?? 0o644) & 0o7777;
    return this.isRoot ? m : m | 0o600;
  }

  private dirMode(mode: number | undefined): number {
    const m = (mode ?? 0o755) & 0o7777;
    return this.isRoot ? m : m | 0o700;
  }

  /** Applies a whiteout entry found in directory `dirRel`. */
  private whiteout(dirRel: string, base: string): void {
    if (!this.lstat(dirRel)?.isDirectory()) return;
    if (base === WHITEOUT_OPAQUE) {
      this.opaque(dirRel);
      return;
    }
    const victim = base.slice(WHITEOUT_PREFIX.length);
    if (victim === "" || victim === "." || victim === ".." || victim.includes("/")) return;
    this.remove(dirRel ? `${dirRel}/${victim}` : victim);
  }

  /** Removes everything below `dirRel` that was not written by this layer. */
  private opaque(dirRel: string): void {
    for (const child of fs.readdirSync(this.abs(dirRel))) {
      const rel = dirRel ? `${dirRel}/${child}` : child;
      if (!this.unpacked.has(rel)) this.remove(rel);
      else if (this.lstat(rel)?.isDirectory()) this.opaque(rel);
    }
  }

  private writeAll(fd: number, chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
  }

  async entry(header: Partial<tar.Header> & { name: string }, body: AsyncIterable<unknown>): Promise<void> {
    const name = cleanEntryName(header.name);
    if (name === undefined) {
      log.warn({ name: header.name }, "layer entry outside the root skipped");
      return drain(body);
    }
    const type = header.type ?? "file";
    if (name === "") {
      if (type === "directory") {
        this.dirs.push({
          rel: "",
          mode: header.mode ?? 0o755,
          mtime: header.mtime,
          uid: header.uid,
          gid: header.gid,
        });
      }
      return drain(body);
    }
    const base = path.posix.basename(name);
    const dirName = path.posix.dirname(name);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      const dir = this.resolve(dirName === "." ? "" : dirName);
      if (dir !== undefined) this.whiteout(dir, base);
      return drain(body);
    }
    const parent = this.parentDir(dirName === "." ? "" : dirName, header.name);
    if (parent === undefined) return drain(body);
    const rel = parent ? `${parent}/${base}` : base;
    const abs = this.abs(rel);

    if (type === "directory") {
      const existing = this.lstat(rel);
      if (existing && !existing.isDirectory()) this.remove(rel);
      if (!existing?.isDirectory()) fs.mkdirSync(abs, { mode: 0o700 });
      this.dirs.push({
        rel,
        mode: header.mode ?? 0o755,
        mtime: header.mtime,
        uid: header.uid,
        gid: header.gid,
      });
      this.markUnpacked(rel);
      return drain(body);
    }

    if (type === "file" || type === "contiguous-file") {
      let fd: number;
      try {
        fd = fs.openSync(abs, "wx", 0o600);
      } catch (err) {
        if (errnoCode(err) !== "EEXIST") throw err;
        this.remove(rel);
        fd = fs.openSync(abs, "wx", 0o600);
      }
      try {
        for await (const c of body) this.writeAll(fd, c as Buffer);
        if (this.isRoot && header.uid !== undefined && header.gid !== undefined) {
          try {
            fs.fchownSync(fd, header.uid, header.gid);
          } catch {
            // ignore
          }
        }
        fs.fchmodSync(fd, this.fileMode(header.mode));
        if (header.mtime) fs.futimesSync(fd, header.mtime, header.mtime);
      } finally {
        fs.closeSync(fd);
      }
      this.size += header.size ?? 0;
      this.layerFiles.add(rel);
      this.markUnpacked(rel);
      return;
    }

    if (type === "symlink") {
      await drain(body);
      const original = header.linkname ?? "";
      const target = containedSymlinkTarget(parent, original);
      if (this.lstat(rel)) this.remove(rel);
      fs.symlinkSync(target, abs);
      this.chown(abs, header.uid, header.gid, true);
      if (header.mtime) {
        try {
          fs.lutimesSync(abs, header.mtime, header.mtime);
        } catch {
          // ignore
        }
      }
      this.size += Buffer.byteLength(original);
      this.markUnpacked(rel);
      return;
    }

    if (type === "link") {
      await drain(body);
      const linkName = cleanEntryName((header.linkname ?? "").replace(/^\/+/, ""));
      if (!linkName) {
        log.warn({ name: header.name, linkname: header.linkname }, "hard link outside the root skipped");
        return;
      }
      const tDir = path.posix.dirname(linkName);
      const tParent = this.resolve(tDir === "." ? "" : tDir);
      if (tParent === undefined) return;
      const tBase = path.posix.basename(linkName);
      const tRel = tParent ? `${tParent}/${tBase}` : tBase;
      let tStat: Stats | undefined;
      try {
        tStat = this.lstat(tRel);
      } catch {
        tStat = undefined;
      }
      if (!tStat || tStat.isDirectory()) {
        log.warn({ name: header.name, linkname: header.linkname }, "hard link to a missing target skipped");
        return;
      }
      if (tRel === rel) return;
      if (this.lstat(rel)) this.remove(rel);
      fs.linkSync(this.abs(tRel), abs);
      if (tStat.isFile() && !this.layerFiles.has(tRel)) {
        // linking to a file of a lower layer: dockerd's directory size counts it in this layer
        this.size += tStat.size;
        this.layerFiles.add(tRel);
      }
      if (tStat.isFile()) this.layerFiles.add(rel);
      this.markUnpacked(rel);
      return;
    }

    // character/block devices and fifos cannot be created without mknod; skip them
    log.debug({ name: header.name, type }, "layer entry type not supported, skipped");
    return drain(body);
  }

  /** Applies deferred directory metadata (after the layer's files, so mtimes stick). */
  finish(): void {
    for (const d of this.dirs.reverse()) {
      const abs = this.abs(d.rel);
      if (!this.lstat(d.rel)?.isDirectory()) continue; // replaced meanwhile; never chmod through a symlink
      this.chown(abs, d.uid, d.gid, false);
      try {
        fs.chmodSync(abs, this.dirMode(d.mode));
        if (d.mtime) fs.utimesSync(abs, d.mtime, d.mtime);
      } catch {
        // ignore
      }
    }
  }
}

async function drain(body: AsyncIterable<unknown>): Promise<void> {
  for await (const _chunk of body) {
    // discard
  }
}

/** Unpacks one layer blob (gzip, zstd when supported, or plain tar) on top of `root`. */
export async function unpackLayer(
  root: string,
  blobFile: string,
  opts: UnpackLayerOptions = {},
): Promise<UnpackLayerResult> {
  const compression = await layerCompression(blobFile);
  const file = createReadStream(blobFile, { highWaterMark: 256 * 1024 });
  const counter = new Counter(opts.onProgress);
  const dec = decompressor(compression);
  const hasher = new HashingStream();
  const extract = tar.extract();
  const chain: (Readable | Transform | Duplex)[] = [file, counter, ...(dec ? [dec] : []), hasher];
  const fail = (err: unknown) => {
    for (const s of chain) s.destroy();
    extract.destroy(err instanceof Error ? err : new Error(String(err)));
  };
  for (let i = 0; i < chain.length; i++) {
    chain[i].on("error", fail);
    if (i + 1 < chain.length) chain[i].pipe(chain[i + 1] as Transform);
  }
  hasher.pipe(extract);
  const unpacker = new LayerUnpacker(root);
  try {
    for await (const entry of extract) {
      opts.signal?.throwIfAborted();
      await unpacker.entry(entry.header, entry);
    }
    unpacker.finish();
  } catch (err) {
    fail(err);
    if (opts.signal?.aborted) throw err;
    throw err instanceof Error && !("status" in err)
      ? serverError(`failed to register layer: ${err.message}`)
      : err;
  }
  return { diffId: hasher.digest(), size: unpacker.size };
}
