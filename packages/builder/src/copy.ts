import { createHash } from "node:crypto";
import fs, { promises as fsp } from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import picomatch from "picomatch";
import tar from "tar-stream";
import { badRequest } from "@sockerless/api";
import { cleanEntryName, compressionOf, decompress, type Compression } from "@sockerless/images";

/** Upper bound of an xz archive that ADD decodes in memory. */
const MAX_ARCHIVE = 1024 ** 3;

/**
 * COPY and ADD: sources are resolved inside their root (the build context, or another stage's or
 * image's filesystem) with chroot semantics, so a symlink can never lead a source out of it;
 * symlinks inside copied directories are copied as links. The result is a layer tar holding only
 * the copied files and the directories leading to them.
 */
export interface CopyRequest {
  keyword: "COPY" | "ADD";
  /** Source patterns as written (after variable expansion), relative to `srcRoot`. */
  sources: string[];
  /** Absolute destination; a trailing "/" means a directory. */
  dest: string;
  srcRoot: string;
  /** The filesystem the layer goes on (undefined for an empty scratch stage). */
  destRoot: string | undefined;
  uid: number;
  gid: number;
  chmod?: number;
  fromContext: boolean;
}

export interface CopyPlan {
  /** "file:<hash> in /dest" as dockerd writes it into history. */
  description: string;
  /** Builds the layer tar at `tarPath`. */
  writeLayer(tarPath: string, workDir: string): Promise<void>;
}

const MAX_HOPS = 40;

/** Resolves `rel` inside `root` following symlinks as if root were "/"; returns the path relative to root. */
export function resolveInRoot(root: string, rel: string, followLast = true): string {
  let pending = rel.split("/").filter((c) => c && c !== ".");
  const out: string[] = [];
  let hops = 0;
  while (pending.length) {
    const c = pending.shift() as string;
    if (c === "..") {
      out.pop();
      continue;
    }
    const candidate = [...out, c].join("/");
    const st = fs.lstatSync(path.join(root, candidate), { throwIfNoEntry: false });
    if (st?.isSymbolicLink() && (pending.length > 0 || followLast)) {
      if (++hops > MAX_HOPS) throw badRequest(`too many levels of symbolic links: ${rel}`);
      const target = fs.readlinkSync(path.join(root, candidate));
      if (target.startsWith("/")) out.length = 0;
      pending = [...target.split("/").filter((x) => x && x !== "."), ...pending];
      continue;
    }
    out.push(c);
  }
  return out.join("/");
}

const hasGlob = (s: string) => /[*?[]/.test(s);

function walkAll(root: string, rel = "", out: string[] = []): string[] {
  for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    out.push(r);
    if (e.isDirectory()) walkAll(root, r, out);
  }
  return out;
}

function notFound(req: CopyRequest, src: string): Error {
  return req.fromContext
    ? badRequest(
        `${req.keyword} failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`,
      )
    : badRequest(`${req.keyword} failed: stat ${src}: file does not exist`);
}

/** The paths (relative to srcRoot, symlinks resolved) that the source patterns name. */
function expandSources(req: CopyRequest): string[] {
  const out: string[] = [];
  for (const raw of req.sources) {
    if (req.keyword === "ADD" && /^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
      throw badRequest(
        `ADD failed: fetching ${raw} is not supported by Sockerless builds: download it into the build context and ADD or COPY the file`,
      );
    }
    const norm = path.posix.normalize(raw);
    if (req.fromContext && (norm === ".." || norm.startsWith("../"))) {
      throw badRequest(`${req.keyword} failed: forbidden path outside the build context: ${raw}`);
    }
    const clean = path.posix.normalize("/" + raw).slice(1);
    if (hasGlob(clean)) {
      const isMatch = picomatch(clean, { dot: true, noextglob: true, nobrace: true });
      const matches = walkAll(req.srcRoot).filter((p) => isMatch(p));
      if (matches.length === 0) throw notFound(req, raw);
      out.push(...matches.map((m) => resolveInRoot(req.srcRoot, m)));
    } else {
      const r = resolveInRoot(req.srcRoot, clean);
      if (!fs.existsSync(path.join(req.srcRoot, r)) && r !== "") throw notFound(req, raw);
      out.push(r);
    }
  }
  return out;
}

/** Content hash of a source tree (paths, modes, contents, link targets; not times). */
function hashTree(root: string, rel: string, h: ReturnType<typeof createHash>): void {
  const abs = path.join(root, rel);
  const st = fs.lstatSync(abs);
  h.update(`${rel}\0${st.mode}\0`);
  if (st.isSymbolicLink()) h.update(fs.readlinkSync(abs));
  else if (st.isFile()) h.update(fs.readFileSync(abs));
  else if (st.isDirectory()) {
    for (const e of fs.readdirSync(abs).sort()) hashTree(root, rel ? `${rel}/${e}` : e, h);
  }
  h.update("\0");
}

/** A local archive ADD extracts: a tar, plain or gzip/bzip2/xz-compressed. */
function archiveKind(file: string): Compression | undefined {
  const fd = fs.openSync(file, "r");
  try {
    const b = Buffer.alloc(512);
    const n = fs.readSync(fd, b, 0, 512, 0);
    const kind = compressionOf(b.subarray(0, n));
    if (kind !== "none") return kind;
    return n >= 262 && b.toString("latin1", 257, 262) === "ustar" ? "none" : undefined;
  } finally {
    fs.closeSync(fd);
  }
}

async function extractArchive(file: string, kind: Compression, destDir: string): Promise<void> {
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const rel = cleanEntryName(entry.header.name);
      if (rel === undefined || rel === "") {
        entry.resume();
        continue;
      }
      const parent = resolveInRoot(destDir, path.posix.dirname(rel));
      const target = path.join(destDir, parent, path.posix.basename(rel));
      fs.mkdirSync(path.dirname(target), { recursive: true });
      const mode = (entry.header.mode ?? 0o644) & 0o7777;
      if (entry.header.type === "directory") {
        fs.mkdirSync(target, { recursive: true });
        fs.chmodSync(target, mode);
        entry.resume();
      } else if (entry.header.type === "file") {
        fs.rmSync(target, { recursive: true, force: true });
        await pipeline(entry, fs.createWriteStream(target, { mode }));
        if (entry.header.mtime) fs.utimesSync(target, entry.header.mtime, entry.header.mtime);
      } else if (entry.header.type === "symlink") {
        fs.rmSync(target, { recursive: true, force: true });
        fs.symlinkSync(entry.header.linkname ?? "", target);
        entry.resume();
      } else entry.resume();
    }
  })();
  const src = await decompress(kind, fs.createReadStream(file), MAX_ARCHIVE);
  await Promise.all([pipeline(src, extract), done]);
}

/** Copies a tree into staging: directories recursively, symlinks as links, files with their mode and mtime. */
function copyInto(src: string, dst: string): void {
  const st = fs.lstatSync(src);
  if (st.isSymbolicLink()) {
    fs.rmSync(dst, { recursive: true, force: true });
    fs.symlinkSync(fs.readlinkSync(src), dst);
  } else if (st.isDirectory()) {
    fs.mkdirSync(dst, { recursive: true });
    fs.chmodSync(dst, st.mode & 0o7777);
    for (const e of fs.readdirSync(src)) copyInto(path.join(src, e), path.join(dst, e));
    fs.utimesSync(dst, st.atime, st.mtime);
  } else if (st.isFile()) {
    fs.rmSync(dst, { recursive: true, force: true });
    fs.copyFileSync(src, dst);
    fs.chmodSync(dst, st.mode & 0o7777);
    fs.utimesSync(dst, st.atime, st.mtime);
  }
}

export function planCopy(req: CopyRequest): CopyPlan {
  const srcs = expandSources(req);
  const h = createHash("sha256");
  for (const s of srcs) hashTree(req.srcRoot, s, h);
  h.update(`${req.uid}:${req.gid}:${req.chmod ?? ""}`);
  const hash = h.digest("hex");
  const single = srcs.length === 1 ? fs.lstatSync(path.join(req.srcRoot, srcs[0])) : undefined;
  const kind = srcs.length > 1 ? "multi" : single?.isDirectory() ? "dir" : "file";
  const destIsDirSyntax = req.dest.endsWith("/") || req.dest.endsWith("/.");
  if (srcs.length > 1 && !destIsDirSyntax) {
    throw badRequest(
      `When using ${req.keyword} with more than one source file, the destination must be a directory and end with a /`,
    );
  }
  const dest = path.posix.normalize(req.dest);
  return {
    description: `${kind}:${hash} in ${req.dest}`,
    async writeLayer(tarPath, workDir) {
      const staging = path.join(workDir, "stage");
      fs.mkdirSync(staging, { recursive: true });
      const destRel = dest.replace(/^\/+/, "");
      const destExistingDir =
        req.destRoot !== undefined &&
        fs
          .statSync(path.join(req.destRoot, resolveInRoot(req.destRoot, destRel)), { throwIfNoEntry: false })
          ?.isDirectory();
      for (const s of srcs) {
        const abs = path.join(req.srcRoot, s);
        const st = fs.lstatSync(abs);
        if (st.isDirectory()) {
          const target = path.join(staging, destRel);
          fs.mkdirSync(target, { recursive: true });
          for (const e of fs.readdirSync(abs)) copyInto(path.join(abs, e), path.join(target, e));
          continue;
        }
        const intoDir = destIsDirSyntax || destExistingDir || srcs.length > 1;
        const archive = req.keyword === "ADD" && st.isFile() ? archiveKind(abs) : undefined;
        if (archive) {
          const target = path.join(staging, destRel);
          fs.mkdirSync(target, { recursive: true });
          await extractArchive(abs, archive, target);
          continue;
        }
        const target = intoDir
          ? path.join(staging, destRel, path.posix.basename(s))
          : path.join(staging, destRel);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        copyInto(abs, target);
      }
      await writeLayerTar(staging, tarPath, req);
    },
  };
}

/**
 * The staged tree as a layer tar: entries that already exist as directories below keep their
 * metadata (and a directory that is a symlink below is not replaced), new entries get the
 * requested owner (and mode with --chmod).
 */
async function writeLayerTar(staging: string, tarPath: string, req: CopyRequest): Promise<void> {
  const pack = tar.pack();
  const out = pipeline(pack, fs.createWriteStream(tarPath));
  const add = (header: Partial<tar.Header> & { name: string }, body?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      if (body) pack.entry(header as tar.Header, body, (e) => (e ? reject(e) : resolve()));
      else pack.entry(header as tar.Header, (e) => (e ? reject(e) : resolve()));
    });
  const walk = async (rel: string): Promise<void> => {
    for (const name of fs.readdirSync(path.join(staging, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(staging, r);
      const st = fs.lstatSync(abs);
      const below = req.destRoot
        ? fs.lstatSync(path.join(req.destRoot, r), { throwIfNoEntry: false })
        : undefined;
      if (st.isDirectory()) {
        if (below?.isSymbolicLink()) {
          // e.g. /bin -> usr/bin: the files go through the link when the layer is applied
        } else if (below?.isDirectory()) {
          await add({
            name: r + "/",
            type: "directory",
            mode: below.mode & 0o7777,
            uid: below.uid,
            gid: below.gid,
            mtime: below.mtime,
          });
        } else {
          await add({
            name: r + "/",
            type: "directory",
            mode: req.chmod ?? st.mode & 0o7777,
            uid: req.uid,
            gid: req.gid,
            mtime: st.mtime,
          });
        }
        await walk(r);
      } else if (st.isSymbolicLink()) {
        await add({
          name: r,
          type: "symlink",
          linkname: fs.readlinkSync(abs),
          mode: 0o777,
          uid: req.uid,
          gid: req.gid,
          mtime: st.mtime,
        });
      } else if (st.isFile()) {
        await add(
          {
            name: r,
            type: "file",
            size: st.size,
            mode: req.chmod ?? st.mode & 0o7777,
            uid: req.uid,
            gid: req.gid,
            mtime: st.mtime,
          },
          await fsp.readFile(abs),
        );
      }
    }
  };
  try {
    await walk("");
    pack.finalize();
  } catch (e) {
    pack.destroy(e as Error);
  }
  await out;
}

/** --chown: "user[:group]" by name (from the image's /etc/passwd and /etc/group) or number. */
export function resolveChown(
  spec: string | undefined,
  root: string | undefined,
): { uid: number; gid: number } {
  if (!spec) return { uid: 0, gid: 0 };
  const [user, group] = spec.split(":", 2);
  const read = (f: string) => {
    if (!root) return [] as string[][];
    try {
      return fs
        .readFileSync(path.join(root, resolveInRoot(root, f)), "utf8")
        .split("\n")
        .map((l) => l.split(":"));
    } catch {
      return [] as string[][];
    }
  };
  const fail = (what: string, name: string) =>
    badRequest(
      `unable to convert uid/gid chown string to host mapping: can't find ${what} for ${what === "uid" ? "user" : "group"} ${name}: no such ${what === "uid" ? "user" : "group"}: ${name}`,
    );
  let uid: number;
  let gid: number | undefined;
  if (/^\d+$/.test(user)) uid = Number(user);
  else {
    const e = read("etc/passwd").find((l) => l[0] === user);
    if (!e) throw fail("uid", user);
    uid = Number(e[2]);
    gid = Number(e[3]);
  }
  if (group === undefined) gid = /^\d+$/.test(user) ? uid : gid;
  else if (/^\d+$/.test(group)) gid = Number(group);
  else {
    const e = read("etc/group").find((l) => l[0] === group);
    if (!e) throw fail("gid", group);
    gid = Number(e[2]);
  }
  return { uid, gid: gid ?? uid };
}
