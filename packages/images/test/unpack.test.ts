import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { cleanEntryName, containedSymlinkTarget, unpackLayer } from "../src/index.js";
import { FIXED_MTIME, makeTar, sha256, tmpDir, type TarEntry } from "./helpers.js";

let work: string;
before(async () => {
  work = await tmpDir("sockerless-unpack-");
});
after(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

async function layerFile(entries: TarEntry[], gzip: boolean): Promise<{ file: string; tar: Buffer }> {
  const t = await makeTar(entries);
  const file = path.join(work, `layer-${Math.random().toString(16).slice(2)}`);
  await fsp.writeFile(file, gzip ? gzipSync(t) : t);
  return { file, tar: t };
}

async function newRoot(): Promise<string> {
  const root = await fsp.mkdtemp(path.join(work, "root-"));
  return root;
}

const lexists = async (p: string) =>
  fsp.lstat(p).then(
    () => true,
    () => false,
  );

describe("containedSymlinkTarget", () => {
  it("rewrites absolute targets relative to the link directory", () => {
    assert.equal(containedSymlinkTarget("bin", "/bin/busybox"), "busybox");
    assert.equal(containedSymlinkTarget("usr/bin", "/bin/busybox"), "../../bin/busybox");
    assert.equal(containedSymlinkTarget("", "/usr/lib"), "usr/lib");
    assert.equal(containedSymlinkTarget("", "/"), ".");
    assert.equal(containedSymlinkTarget("etc", "/"), "..");
    assert.equal(containedSymlinkTarget("a", "/../../x"), "../x");
  });
  it("keeps contained relative targets and clamps escaping ones at the root", () => {
    assert.equal(containedSymlinkTarget("bin", "busybox"), "busybox");
    assert.equal(containedSymlinkTarget("usr/bin", "../lib/x"), "../lib/x");
    assert.equal(containedSymlinkTarget("a", "../../../etc/passwd"), "../etc/passwd");
    assert.equal(containedSymlinkTarget("", "../.."), ".");
  });
  it("cleans entry names", () => {
    assert.equal(cleanEntryName("./etc/passwd"), "etc/passwd");
    assert.equal(cleanEntryName("etc/"), "etc");
    assert.equal(cleanEntryName("./"), "");
    assert.equal(cleanEntryName("a/../b"), "b");
    assert.equal(cleanEntryName("../evil"), undefined);
    assert.equal(cleanEntryName("a/../../evil"), undefined);
    assert.equal(cleanEntryName("/abs"), undefined);
  });
});

describe("unpackLayer", () => {
  it("extracts files, dirs, modes, mtimes, links; diffId is the sha256 of the tar (gzip and plain)", async () => {
    for (const gzip of [true, false]) {
      const root = await newRoot();
      const { file, tar } = await layerFile(
        [
          { name: "./", type: "directory", mode: 0o755 },
          { name: "bin/", type: "directory", mode: 0o755 },
          { name: "bin/busybox", content: "#!busybox", mode: 0o4755 },
          { name: "bin/sh", type: "symlink", linkname: "/bin/busybox" },
          { name: "etc/", type: "directory", mode: 0o750 },
          { name: "etc/hello.txt", content: "hello world\n", mode: 0o640 },
          { name: "etc/hl", type: "link", linkname: "etc/hello.txt" },
          { name: "etc/alt", type: "symlink", linkname: "hello.txt" },
          { name: "tmp/", type: "directory", mode: 0o1777 },
        ],
        gzip,
      );
      const res = await unpackLayer(root, file);
      assert.equal(res.diffId, sha256(tar));
      // files (hello 12 + busybox 9) + symlink target lengths (12 + 9); the hard link counts once
      assert.equal(res.size, 12 + 9 + "/bin/busybox".length + "hello.txt".length);
      assert.equal(await fsp.readFile(path.join(root, "etc/hello.txt"), "utf8"), "hello world\n");
      const st = await fsp.stat(path.join(root, "bin/busybox"));
      assert.equal(st.mode & 0o7777, 0o4755, "setuid bit kept");
      assert.equal((await fsp.stat(path.join(root, "etc"))).mode & 0o7777, 0o750);
      assert.equal((await fsp.stat(path.join(root, "tmp"))).mode & 0o7777, 0o1777);
      assert.equal((await fsp.stat(path.join(root, "etc/hello.txt"))).mtime.getTime(), FIXED_MTIME.getTime());
      assert.equal((await fsp.stat(path.join(root, "etc"))).mtime.getTime(), FIXED_MTIME.getTime());
      assert.equal(await fsp.readlink(path.join(root, "bin/sh")), "busybox");
      assert.equal(await fsp.readFile(path.join(root, "bin/sh"), "utf8"), "#!busybox");
      assert.equal(await fsp.readlink(path.join(root, "etc/alt")), "hello.txt");
      const a = await fsp.stat(path.join(root, "etc/hello.txt"));
      const b = await fsp.stat(path.join(root, "etc/hl"));
      assert.equal(a.ino, b.ino, "hard link shares the inode");
    }
  });

  it("applies whiteouts and opaque directories across layers", async () => {
    const root = await newRoot();
    const l1 = await layerFile(
      [
        { name: "etc/gone.txt", content: "x" },
        { name: "etc/kept.txt", content: "k" },
        { name: "var/cache/", type: "directory" },
        { name: "var/cache/old.txt", content: "old" },
        { name: "var/cache/sub/deep.txt", content: "deep" },
      ],
      true,
    );
    const l2 = await layerFile(
      [
        { name: "etc/.wh.gone.txt" },
        { name: "var/cache/", type: "directory" },
        { name: "var/cache/.wh..wh..opq" },
        { name: "var/cache/new.txt", content: "new" },
        { name: "etc/.wh..." },
        { name: ".wh.nonexistent" },
      ],
      true,
    );
    await unpackLayer(root, l1.file);
    await unpackLayer(root, l2.file);
    assert.equal(await lexists(path.join(root, "etc/gone.txt")), false);
    assert.equal(await lexists(path.join(root, "etc/.wh.gone.txt")), false);
    assert.equal(await lexists(path.join(root, "etc/kept.txt")), true);
    assert.deepEqual((await fsp.readdir(path.join(root, "var/cache"))).sort(), ["new.txt"]);
    assert.equal(await lexists(root), true, "whiteout of '..' did nothing");
  });

  it("never writes outside the root (../, absolute names, symlinks, hard links)", async () => {
    const base = await newRoot();
    const root = path.join(base, "inner", "root");
    await fsp.mkdir(root, { recursive: true });
    const outside = path.join(base, "outside");
    await fsp.mkdir(outside);
    const absName = path.join(base, `abs-${process.pid}`).slice(1); // absolute path of a file next to root
    const { file } = await layerFile(
      [
        { name: "../evil", content: "evil" },
        { name: "../../evil2", content: "evil" },
        { name: `/${absName}`, content: "abs" },
        { name: "escape", type: "symlink", linkname: "../../../outside" },
        { name: "escape/pwned", content: "pwned" },
        { name: "absesc", type: "symlink", linkname: outside },
        { name: "absesc/pwned2", content: "pwned" },
        { name: "rootlink", type: "symlink", linkname: "/" },
        { name: "rootlink/../../pwned3", content: "pwned" },
        { name: "rootlink/pwned5", content: "pwned" },
        { name: "dotdot", type: "symlink", linkname: ".." },
        { name: "dotdot/pwned4", content: "pwned" },
        { name: "hl", type: "link", linkname: "../../outside/target" },
        { name: "hl2", type: "link", linkname: `/${path.join(outside, "target").slice(1)}` },
        { name: "loop1", type: "symlink", linkname: "loop2" },
        { name: "loop2", type: "symlink", linkname: "loop1" },
        { name: "loop1/x", content: "x" },
      ],
      true,
    );
    await fsp.writeFile(path.join(outside, "target"), "secret");
    await unpackLayer(root, file);
    assert.deepEqual(await fsp.readdir(outside), ["target"], "nothing written to the outside dir");
    assert.equal(await fsp.readFile(path.join(outside, "target"), "utf8"), "secret");
    assert.equal(await lexists(path.join(base, "inner", "evil")), false);
    assert.equal(await lexists(path.join(base, "evil2")), false);
    assert.equal(await lexists(`/${absName}`), false);
    assert.equal(await lexists(path.join(base, "inner", "pwned3")), false);
    assert.equal(await lexists(path.join(base, "inner", "pwned4")), false);
    // links were made contained: escaping ones point inside the root
    assert.equal(await fsp.readlink(path.join(root, "escape")), "outside");
    assert.equal(await fsp.readlink(path.join(root, "absesc")), outside.slice(1));
    assert.equal(await fsp.readlink(path.join(root, "rootlink")), ".");
    assert.equal(await fsp.readlink(path.join(root, "dotdot")), ".");
    // writes through them landed inside the root (chroot semantics)
    assert.equal(await fsp.readFile(path.join(root, "outside/pwned"), "utf8"), "pwned");
    assert.equal(await fsp.readFile(path.join(root, outside.slice(1), "pwned2"), "utf8"), "pwned");
    assert.equal(await lexists(path.join(root, "pwned3")), false, "lexically escaping name skipped");
    assert.equal(await fsp.readFile(path.join(root, "pwned5"), "utf8"), "pwned");
    assert.equal(await fsp.readFile(path.join(root, "pwned4"), "utf8"), "pwned");
    // hard links to outside targets were not created
    assert.equal(await lexists(path.join(root, "hl")), false);
    const hl2 = await fsp.lstat(path.join(root, "hl2")).catch(() => undefined);
    assert.notEqual(hl2?.ino, (await fsp.stat(path.join(outside, "target"))).ino);
  });

  it("a symlink from a lower layer is followed inside the root by later layers (usr-merge)", async () => {
    const root = await newRoot();
    const l1 = await layerFile(
      [
        { name: "usr/lib/", type: "directory" },
        { name: "lib", type: "symlink", linkname: "/usr/lib" },
      ],
      true,
    );
    const l2 = await layerFile([{ name: "lib/libfoo.so", content: "elf" }], false);
    await unpackLayer(root, l1.file);
    await unpackLayer(root, l2.file);
    assert.equal(await fsp.readlink(path.join(root, "lib")), "usr/lib");
    assert.equal(await fsp.readFile(path.join(root, "usr/lib/libfoo.so"), "utf8"), "elf");
  });

  it("replaces files with directories and vice versa; directory entries keep lower contents", async () => {
    const root = await newRoot();
    const l1 = await layerFile(
      [
        { name: "a", content: "file" },
        { name: "d/keep.txt", content: "keep" },
        { name: "s", type: "symlink", linkname: "/d" },
      ],
      true,
    );
    const l2 = await layerFile(
      [
        { name: "a/", type: "directory" },
        { name: "a/inner", content: "inner" },
        { name: "d/", type: "directory", mode: 0o700 },
        { name: "s/", type: "directory" },
      ],
      true,
    );
    await unpackLayer(root, l1.file);
    await unpackLayer(root, l2.file);
    assert.equal(await fsp.readFile(path.join(root, "a/inner"), "utf8"), "inner");
    assert.equal(await fsp.readFile(path.join(root, "d/keep.txt"), "utf8"), "keep");
    assert.equal((await fsp.stat(path.join(root, "d"))).mode & 0o777, 0o700);
    assert.equal((await fsp.lstat(path.join(root, "s"))).isDirectory(), true, "symlink replaced by a dir");
  });

  it("rejects a corrupt layer", async () => {
    const root = await newRoot();
    const { tar } = await layerFile([{ name: "x", content: "x".repeat(10000) }], false);
    const gz = gzipSync(tar);
    const file = path.join(work, "corrupt.gz");
    await fsp.writeFile(file, gz.subarray(0, gz.length - 100));
    await assert.rejects(unpackLayer(root, file), /failed to register layer/);
  });
});
