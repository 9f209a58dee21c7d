import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import {
  applyCommitChanges,
  parseDockerfile,
  processWord,
  processWords,
  splitRawWords,
} from "../src/index.js";
import { prepareContext, unpackContext } from "../src/context.js";
import { planCopy, resolveChown, resolveInRoot } from "../src/copy.js";

const tmp: string[] = [];
const tmpDir = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), "sockerless-builder-"));
  tmp.push(d);
  return d;
};
after(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

async function tarOf(entries: { name: string; content?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise((r) => pack.on("end", r));
  for (const e of entries) pack.entry({ name: e.name }, e.content ?? "");
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

describe("word processing (Docker's shell lexer)", () => {
  const env = new Map([
    ["A", "apple"],
    ["EMPTY", ""],
  ]);
  test("variables, defaults and alternatives", () => {
    assert.equal(processWord("$A ${A} ${A}s", env), "apple apple apples");
    assert.equal(processWord("${NOPE:-dflt} ${EMPTY:-dflt} ${EMPTY-dflt}", env), "dflt dflt ");
    assert.equal(processWord("${A:+alt} ${NOPE:+alt} ${EMPTY+alt}", env), "alt  alt");
    assert.throws(() => processWord("${NOPE:?must be set}", env), /NOPE: must be set/);
  });
  test("quotes and escapes", () => {
    assert.equal(processWord(`'$A' "$A" \\$A "a\\"b"`, env), `$A apple $A a"b`);
    assert.equal(processWord("a`$A", env, "`"), "a$A");
    assert.deepEqual(processWords(`one "two words" $A`, env), ["one", "two words", "apple"]);
    assert.deepEqual(splitRawWords(`A=1 B="x y" C='z'`), [`A=1`, `B="x y"`, `C='z'`]);
  });
});

describe("Dockerfile parsing", () => {
  test("continuations, comments inside them, flags, JSON form and the escape directive", () => {
    const df = parseDockerfile(
      [
        "# escape=`",
        "FROM busybox AS base",
        "RUN echo a `",
        "  # a comment inside",
        "",
        "  && echo b",
        'COPY --from=base --chown="1:2" /a /b/',
        'CMD ["echo", "a b", "\\u0041"]',
        "run echo lower",
      ].join("\n"),
    );
    assert.equal(df.escape, "`");
    const [from, run, copy, cmd, lower] = df.instructions;
    assert.equal(from.keyword, "FROM");
    assert.equal(from.line, 2);
    assert.equal(run.args, "echo a   && echo b");
    assert.equal(run.original, "RUN echo a   && echo b");
    assert.deepEqual(copy.flags, [
      { name: "from", value: "base" },
      { name: "chown", value: "1:2" },
    ]);
    assert.equal(copy.args, "/a /b/");
    assert.deepEqual(cmd.json, ["echo", "a b", "A"]);
    assert.equal(lower.keyword, "RUN");
    assert.equal(lower.line, 9);
  });
  test("heredocs are refused clearly", () => {
    assert.throws(() => parseDockerfile("FROM x\nRUN <<EOF\necho hi\nEOF\n"), /heredocs are not supported/);
  });
});

describe("commit --change", () => {
  const base = { Env: ["PATH=/bin", "A=1"], Cmd: ["sh"], Labels: { x: "y" } };
  test("config instructions apply with the config's env", () => {
    const c = applyCommitChanges(base, [
      "ENV B=$A-b",
      "LABEL z=w",
      'ENTRYPOINT ["/entry"]',
      "EXPOSE 80 90-91/udp",
      "HEALTHCHECK --interval=2s CMD true",
      "WORKDIR /w",
      "WORKDIR sub",
      "VOLUME /v",
      "USER u",
      "STOPSIGNAL SIGUSR1",
      "ONBUILD RUN echo hi",
    ]);
    assert.deepEqual(c.Env, ["PATH=/bin", "A=1", "B=1-b"]);
    assert.deepEqual(c.Labels, { x: "y", z: "w" });
    assert.deepEqual(c.Entrypoint, ["/entry"]);
    assert.equal(c.Cmd, null, "ENTRYPOINT resets CMD");
    assert.deepEqual(c.ExposedPorts, { "80/tcp": {}, "90/udp": {}, "91/udp": {} });
    assert.deepEqual(c.Healthcheck, { Test: ["CMD-SHELL", "true"], Interval: 2_000_000_000 });
    assert.equal(c.WorkingDir, "/w/sub");
    assert.deepEqual(c.Volumes, { "/v": {} });
    assert.equal(c.User, "u");
    assert.equal(c.StopSignal, "SIGUSR1");
    assert.deepEqual(c.OnBuild, ["RUN echo hi"]);
    assert.deepEqual(base.Env, ["PATH=/bin", "A=1"], "the input is not modified");
  });
  test("only dockerd's commit instructions, with its messages", () => {
    assert.throws(() => applyCommitChanges(base, ["RUN x"]), /run is not a valid change command/);
    assert.throws(() => applyCommitChanges(base, ["ENV A"]), /ENV must have two arguments/);
    assert.throws(() => applyCommitChanges(base, ["STOPSIGNAL NOPE"]), /Invalid signal/);
    assert.throws(() => applyCommitChanges(base, ["CMD --x echo"]), /Unknown flag: x/);
    assert.throws(() => applyCommitChanges(base, ["ONBUILD ONBUILD RUN x"]), /Chaining ONBUILD/);
  });
});

describe("build context", () => {
  test("plain and gzip tars unpack; .dockerignore removes files", async () => {
    const body = await tarOf([
      { name: "Dockerfile", content: "FROM x" },
      { name: ".dockerignore", content: "*.log\nsub/\n!sub/keep\n" },
      { name: "a.log", content: "l" },
      { name: "sub/drop", content: "d" },
      { name: "sub/keep", content: "k" },
    ]);
    for (const b of [body, gzipSync(body)]) {
      const dir = tmpDir();
      await unpackContext(Readable.from([b]), dir, 1 << 20);
      const ctx = await prepareContext(dir, "Dockerfile");
      assert.equal(ctx.dockerfile, "FROM x");
      assert.deepEqual(readdirSync(dir).sort(), [".dockerignore", "Dockerfile", "sub"]);
      assert.deepEqual(readdirSync(path.join(dir, "sub")), ["keep"]);
    }
  });
  test("bzip2 and xz contexts unpack (the compressors are Debian's bzip2 and xz-utils)", async () => {
    const body = await tarOf([{ name: "Dockerfile", content: "FROM compressed" }]);
    for (const tool of ["bzip2", "xz"]) {
      const dir = tmpDir();
      await unpackContext(Readable.from([execFileSync(tool, ["-c"], { input: body })]), dir, 1 << 20);
      assert.equal((await prepareContext(dir, "Dockerfile")).dockerfile, "FROM compressed");
    }
  });
  test("entries outside the context and oversized contexts are refused", async () => {
    for (const name of ["../x", "/etc/x", "a/../../x"]) {
      await assert.rejects(
        unpackContext(Readable.from([await tarOf([{ name, content: "x" }])]), tmpDir(), 1 << 20),
        /outside the context/,
      );
    }
    const big = await tarOf([{ name: "big", content: "x".repeat(10_000) }]);
    await assert.rejects(
      unpackContext(Readable.from([big]), tmpDir(), 4096),
      /larger than the limit of 4096 bytes/,
    );
    await assert.rejects(
      prepareContext(tmpDir(), "Dockerfile"),
      /Cannot locate specified Dockerfile: Dockerfile/,
    );
  });
});

describe("COPY sources", () => {
  test("symlinks resolve inside their root, never out of it", () => {
    const root = tmpDir();
    mkdirSync(path.join(root, "d"));
    writeFileSync(path.join(root, "d/f"), "f");
    symlinkSync("/d", path.join(root, "abs"));
    symlinkSync("../../../..", path.join(root, "up"));
    assert.equal(resolveInRoot(root, "abs/f"), "d/f");
    assert.equal(resolveInRoot(root, "up/d/f"), "d/f");
    assert.equal(resolveInRoot(root, "up/etc/passwd"), "etc/passwd");
    assert.throws(
      () =>
        planCopy({
          keyword: "COPY",
          sources: ["up/etc/passwd"],
          dest: "/x",
          srcRoot: root,
          destRoot: undefined,
          uid: 0,
          gid: 0,
          fromContext: true,
        }),
      /file not found in build context/,
    );
  });
  test("several sources need a directory destination; URLs in ADD are refused", () => {
    const root = tmpDir();
    writeFileSync(path.join(root, "a"), "a");
    writeFileSync(path.join(root, "b"), "b");
    const req = {
      keyword: "COPY" as const,
      dest: "/x",
      srcRoot: root,
      destRoot: undefined,
      uid: 0,
      gid: 0,
      fromContext: true,
    };
    assert.throws(() => planCopy({ ...req, sources: ["a", "b"] }), /must be a directory and end with a \//);
    assert.match(
      planCopy({ ...req, sources: ["?"], dest: "/x/" }).description,
      /^multi:[0-9a-f]{64} in \/x\/$/,
    );
    assert.throws(
      () => planCopy({ ...req, keyword: "ADD", sources: ["http://example.com/x"] }),
      /not supported/,
    );
  });
  test("--chown names come from the image's passwd and group files", () => {
    const root = tmpDir();
    mkdirSync(path.join(root, "etc"));
    writeFileSync(
      path.join(root, "etc/passwd"),
      "root:x:0:0::/root:/bin/sh\napp:x:1001:1002::/app:/bin/sh\n",
    );
    writeFileSync(path.join(root, "etc/group"), "root:x:0:\nstaff:x:50:\n");
    assert.deepEqual(resolveChown("app", root), { uid: 1001, gid: 1002 });
    assert.deepEqual(resolveChown("app:staff", root), { uid: 1001, gid: 50 });
    assert.deepEqual(resolveChown("7", root), { uid: 7, gid: 7 });
    assert.throws(() => resolveChown("nobody2", root), /can't find uid for user nobody2/);
  });
});
