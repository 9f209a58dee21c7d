import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import * as path from "node:path";

/** Writes a file atomically: write to a sibling tmp file, fsync, rename over the target. */
export async function writeFileAtomic(file: string, data: Buffer | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const fh = await fsp.open(tmp, "w", 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(path.dirname(file));
}

/** Best-effort fsync of a directory so a rename is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await fsp.open(dir, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // not supported everywhere; durability is best effort
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

export const errnoCode = (err: unknown): string | undefined =>
  err && typeof err === "object" && "code" in err ? String((err as { code: unknown }).code) : undefined;

/** Removes a tree; makes directories writable first if removal fails with EACCES (non-root unpacks). */
export async function removeTree(p: string): Promise<void> {
  try {
    await fsp.rm(p, { recursive: true, force: true });
  } catch (err) {
    if (errnoCode(err) !== "EACCES" && errnoCode(err) !== "EPERM") throw err;
    await makeWritable(p);
    await fsp.rm(p, { recursive: true, force: true });
  }
}

async function makeWritable(p: string): Promise<void> {
  let st;
  try {
    st = await fsp.lstat(p);
  } catch {
    return;
  }
  if (!st.isDirectory()) return;
  await fsp.chmod(p, (st.mode & 0o7777) | 0o700).catch(() => undefined);
  const entries = await fsp.readdir(p).catch(() => [] as string[]);
  for (const e of entries) await makeWritable(path.join(p, e));
}
