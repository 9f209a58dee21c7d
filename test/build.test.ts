// The legacy builder through the docker CLI (DOCKER_BUILDKIT=0) and raw API requests.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync, spawn } from "node:child_process";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import tar from "tar-stream";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import {
  BUSYBOX,
  HELLO,
  REGISTRY,
  cleanup,
  docker,
  dockerOk,
  startDaemon,
  until,
  type Daemon,
} from "./helpers.js";

let d: Daemon;
const dirs: string[] = [];
const LEGACY = { DOCKER_BUILDKIT: "0" };
const run = (args: string[]) => docker(d.host, args);
const ok = (args: string[]) => dockerOk(d.host, args);

/** A build context directory with these files (a string is the content; {link} a symlink). */
function context(files: Record<string, string | { link: string }>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sockerless-build-ctx-"));
  dirs.push(dir);
  for (const [name, v] of Object.entries(files)) {
    const p = path.join(dir, name);
    mkdirSync(path.dirname(p), { recursive: true });
    if (typeof v === "string") writeFileSync(p, v);
    else symlinkSync(v.link, p);
  }
  return dir;
}

const build = (dir: string, args: string[] = []) =>
  docker(d.host, ["build", ...args, dir], { env: LEGACY, timeoutMs: 120_000 });

async function buildOk(dir: string, args: string[] = []): Promise<string> {
  const r = await build(dir, args);
  if (r.code !== 0) throw new Error(`docker build failed (${r.code}): ${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** POST /build with a raw body; returns status and body. */
const postBuild = (query: string, body: Buffer) => post(`/v1.44/build?${query}`, body);

function post(urlPath: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath: d.host.slice("unix://".length),
        path: urlPath,
        method: "POST",
        headers: { "Content-Type": "application/x-tar", "Content-Length": body.length },
      },
      (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function tarOf(
  entries: { name: string; content?: string; type?: "file" | "symlink"; linkname?: string }[],
) {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise((r) => pack.on("end", r));
  for (const e of entries) {
    if (e.type === "symlink") pack.entry({ name: e.name, type: "symlink", linkname: e.linkname });
    else pack.entry({ name: e.name }, e.content ?? "");
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** stdout of the docker CLI as bytes. */
function dockerBuffer(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn("docker", args, { env: { ...process.env, DOCKER_HOST: d.host } });
    const chunks: Buffer[] = [];
    p.stdout.on("data", (c: Buffer) => chunks.push(c));
    p.on("error", reject);
    p.on("close", (code) =>
      code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`docker ${args.join(" ")}: ${code}`)),
    );
  });
}

/** name -> "uid:gid" of each entry of a tar. */
async function tarOwners(buf: Buffer): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const ex = tar.extract();
  const done = (async () => {
    for await (const e of ex) {
      out[e.header.name] = `${e.header.uid}:${e.header.gid}`;
      e.resume();
    }
  })();
  ex.end(buf);
  await done;
  return out;
}

const imageIds = async () =>
  (await ok(["images", "-a", "-q", "--no-trunc"])).trim().split("\n").sort().join(" ");

const MAX_CONTEXT = 4 * 1024 * 1024;

before(async () => {
  process.env.SOCKERLESS_MAX_BUILD_CONTEXT = String(MAX_CONTEXT); // the daemon inherits it
  d = await startDaemon(undefined, []);
  await ok(["pull", BUSYBOX]);
});
after(async () => {
  await d.stop();
  cleanup(d);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("docker build (legacy builder)", () => {
  test("RUN writes files, COPY adds context files, CMD runs them; the stream is dockerd's", async () => {
    const dir = context({
      Dockerfile: [
        `FROM ${BUSYBOX}`,
        "ENV GREETING=hello",
        "WORKDIR /app",
        "COPY greet.sh ./",
        'RUN echo "$GREETING from run" > /app/out.txt && echo to-stderr >&2 && rm /bin/vi',
        'CMD ["sh", "/app/greet.sh"]',
      ].join("\n"),
      "greet.sh": "cat /app/out.txt\necho script says $GREETING\n",
    });
    const out = await buildOk(dir, ["-t", "build-basic:1", "-t", "build-basic:2"]);
    assert.match(out, /^Step 1\/6 : FROM /m);
    assert.match(out, /^Step 5\/6 : RUN echo "\$GREETING from run"/m);
    assert.match(out, /^ ---> Running in [0-9a-f]{12}$/m);
    assert.match(out, /to-stderr/);
    assert.match(out, /Removing intermediate container [0-9a-f]{12}\n/);
    const built = /^Successfully built ([0-9a-f]{12})$/m.exec(out);
    assert.ok(built, out);
    assert.match(out, /^Successfully tagged build-basic:1$/m);
    assert.match(out, /^Successfully tagged build-basic:2$/m);
    assert.equal(await ok(["run", "--rm", "build-basic:2"]), "hello from run\nscript says hello\n");
    const r = await run(["run", "--rm", "build-basic:1", "ls", "/bin/vi"]);
    assert.notEqual(r.code, 0, "a file deleted by RUN stays deleted");
    const id = (await ok(["image", "inspect", "build-basic:1", "--format", "{{.Id}}"])).trim();
    assert.equal(id.slice(7, 19), built[1]);
    // no intermediate container left behind; intermediate images only show with -a
    assert.equal((await ok(["ps", "-a", "-q"])).trim(), "");
    assert.doesNotMatch(await ok(["images"]), /<none>/);
    const all = (await ok(["images", "-a", "--format", "{{.Repository}}"])).trim().split("\n");
    assert.equal(all.filter((r) => r === "<none>").length, 4, "one image per step between FROM and the last");
    const history = await ok(["history", "--no-trunc", "--format", "{{.CreatedBy}}", "build-basic:1"]);
    assert.match(history, /^\/bin\/sh -c #\(nop\) {2}CMD \["sh" "\/app\/greet.sh"\]$/m);
    assert.match(history, /^\/bin\/sh -c echo "\$GREETING from run"/m);
  });

  test("a second build uses the cache; --no-cache does not", async () => {
    const dir = context({ Dockerfile: `FROM ${BUSYBOX}\nRUN echo once > /once\nCOPY a /a\n`, a: "A" });
    const first = await buildOk(dir, ["-t", "build-cache:1"]);
    assert.doesNotMatch(first, /Using cache/);
    const second = await buildOk(dir, ["-t", "build-cache:1"]);
    assert.equal((second.match(/ ---> Using cache/g) ?? []).length, 2);
    assert.equal(/Successfully built (\w+)/.exec(first)![1], /Successfully built (\w+)/.exec(second)![1]);
    writeFileSync(path.join(dir, "a"), "B");
    const changed = await buildOk(dir, ["-t", "build-cache:2"]);
    assert.equal(
      (changed.match(/ ---> Using cache/g) ?? []).length,
      1,
      "a changed file misses the COPY cache",
    );
    const nocache = await buildOk(dir, ["--no-cache", "-t", "build-cache:3"]);
    assert.doesNotMatch(nocache, /Using cache/);
    assert.match(nocache, /Running in/);
  });

  test("multi-stage: COPY --from a stage and --target", async () => {
    const dir = context({
      Dockerfile: [
        `FROM ${BUSYBOX} AS builder`,
        "RUN mkdir -p /out && echo built-artifact > /out/artifact",
        `FROM ${BUSYBOX} AS tester`,
        "RUN echo tester > /t",
        `FROM ${BUSYBOX}`,
        "COPY --from=builder /out/artifact /artifact",
        "COPY --from=0 /out /outdir",
        'CMD ["cat", "/artifact", "/outdir/artifact"]',
      ].join("\n"),
    });
    await buildOk(dir, ["-t", "build-multi"]);
    assert.equal(await ok(["run", "--rm", "build-multi"]), "built-artifact\nbuilt-artifact\n");
    const r = await run(["run", "--rm", "build-multi", "ls", "/t"]);
    assert.notEqual(r.code, 0, "the final stage does not have the other stage's files");
    const out = await buildOk(dir, ["--target", "tester", "-t", "build-multi:tester"]);
    assert.match(out, /Step 4\/4 : RUN echo tester/);
    assert.equal(await ok(["run", "--rm", "build-multi:tester", "cat", "/t"]), "tester\n");
    const bad = await build(dir, ["--target", "nope"]);
    assert.match(bad.stderr, /failed to reach build target nope in Dockerfile/);
  });

  test("build args: ARG defaults, --build-arg, args in FROM, ${x:-y} forms, ENV wins over ARG", async () => {
    const dir = context({
      Dockerfile: [
        "ARG BASE=busybox",
        `FROM ${BUSYBOX.replace(/busybox/, "${BASE}")}`,
        "ARG WHO=world",
        "ARG UNSET",
        "ARG OVER=arg",
        "ENV OVER=env",
        'ENV GREETING="hi ${WHO}" FALLBACK=${UNSET:-fallback} ALT=${WHO:+set}',
        'RUN echo "$GREETING $FALLBACK $ALT $OVER" > /args',
        'CMD ["cat", "/args"]',
      ].join("\n"),
    });
    await buildOk(dir, ["-t", "build-args:default"]);
    assert.equal(await ok(["run", "--rm", "build-args:default"]), "hi world fallback set env\n");
    const out = await buildOk(dir, [
      "--build-arg",
      "WHO=you",
      "--build-arg",
      "UNUSED=1",
      "-t",
      "build-args:given",
    ]);
    assert.match(out, /One or more build-args \[UNUSED\] were not consumed/);
    assert.equal(await ok(["run", "--rm", "build-args:given"]), "hi you fallback set env\n");
    // build args do not persist into the image's environment
    const env = await ok(["image", "inspect", "build-args:given", "--format", "{{json .Config.Env}}"]);
    assert.doesNotMatch(env, /WHO=/);
  });

  test(".dockerignore keeps files out of the context", async () => {
    const dir = context({
      Dockerfile: `FROM ${BUSYBOX}\nCOPY . /ctx/\nRUN find /ctx -type f | sort > /list\nCMD ["cat", "/list"]\n`,
      ".dockerignore": "secret.txt\nlogs/\n*.tmp\n!keep.tmp\n",
      "secret.txt": "s",
      "logs/a.log": "l",
      "x.tmp": "x",
      "keep.tmp": "k",
      "app/main.sh": "m",
    });
    await buildOk(dir, ["-t", "build-ignore"]);
    const list = (await ok(["run", "--rm", "build-ignore"])).trim().split("\n");
    assert.ok(list.includes("/ctx/app/main.sh"));
    assert.ok(list.includes("/ctx/keep.tmp"));
    for (const gone of ["/ctx/secret.txt", "/ctx/logs/a.log", "/ctx/x.tmp"])
      assert.ok(!list.includes(gone), gone);
  });

  test("labels, HEALTHCHECK, ONBUILD, USER, EXPOSE, VOLUME, ENTRYPOINT, STOPSIGNAL end up in the image", async () => {
    const dir = context({
      Dockerfile: [
        `FROM ${BUSYBOX}`,
        'LABEL org.example.team="build team" version=1',
        "HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD test -f /ok",
        "ONBUILD RUN echo triggered > /from-onbuild",
        "EXPOSE 8080 53/udp",
        "VOLUME /data",
        "USER nobody",
        "STOPSIGNAL SIGINT",
        'ENTRYPOINT ["echo", "entry"]',
      ].join("\n"),
    });
    await buildOk(dir, ["--label", "extra=yes", "-t", "build-meta"]);
    const cfg = JSON.parse(await ok(["image", "inspect", "build-meta", "--format", "{{json .Config}}"])) as {
      Labels: Record<string, string>;
      Healthcheck: { Test: string[]; Interval: number; Timeout: number; Retries: number };
      OnBuild: string[];
      ExposedPorts: Record<string, object>;
      Volumes: Record<string, object>;
      User: string;
      StopSignal: string;
      Entrypoint: string[];
      Cmd: string[] | null;
    };
    assert.deepEqual(cfg.Labels, { "org.example.team": "build team", version: "1", extra: "yes" });
    assert.deepEqual(cfg.Healthcheck, {
      Test: ["CMD-SHELL", "test -f /ok"],
      Interval: 5_000_000_000,
      Timeout: 2_000_000_000,
      Retries: 4,
    });
    assert.deepEqual(cfg.OnBuild, ["RUN echo triggered > /from-onbuild"]);
    assert.deepEqual(cfg.ExposedPorts, { "8080/tcp": {}, "53/udp": {} });
    assert.deepEqual(cfg.Volumes, { "/data": {} });
    assert.equal(cfg.User, "nobody");
    assert.equal(cfg.StopSignal, "SIGINT");
    assert.deepEqual(cfg.Entrypoint, ["echo", "entry"]);
    assert.ok(!cfg.Cmd, "ENTRYPOINT resets the CMD of the base image");
    assert.equal(await ok(["run", "--rm", "build-meta", "x"]), "entry x\n");

    // the trigger runs in a build FROM this image, and is not inherited further
    const child = context({
      Dockerfile: `FROM build-meta\nUSER root\nENTRYPOINT []\nCMD ["cat", "/from-onbuild"]\n`,
    });
    const out = await buildOk(child, ["-t", "build-meta-child"]);
    assert.match(out, /# Executing 1 build trigger/);
    assert.equal(await ok(["run", "--rm", "build-meta-child"]), "triggered\n");
    const onbuild = await ok([
      "image",
      "inspect",
      "build-meta-child",
      "--format",
      "{{json .Config.OnBuild}}",
    ]);
    assert.equal(onbuild.trim(), "null");
  });

  test("COPY --chown, globs, directories and ADD of a local tar archive", async () => {
    const archive = await tarOf([{ name: "pkg/readme", content: "from the archive\n" }]);
    const dir = context({
      Dockerfile: [
        `FROM ${BUSYBOX}`,
        "COPY --chown=1000:1000 conf/ /etc/app/",
        "COPY *.txt /texts/",
        "ADD bundle.tar /opt/",
        "ADD bundle.tar.bz2 bundle.tar.xz /compressed/",
      ].join("\n"),
      "conf/a.conf": "a",
      "conf/sub/b.conf": "b",
      "one.txt": "1",
      "two.txt": "2",
      "other.md": "no",
    });
    writeFileSync(path.join(dir, "bundle.tar"), archive);
    writeFileSync(path.join(dir, "bundle.tar.bz2"), execFileSync("bzip2", ["-c"], { input: archive }));
    writeFileSync(
      path.join(dir, "bundle.tar.xz"),
      execFileSync("xz", ["-c"], { input: await tarOf([{ name: "pkg/other", content: "xz\n" }]) }),
    );
    await buildOk(dir, ["-t", "build-copy"]);
    const out = await ok([
      "run",
      "--rm",
      "build-copy",
      "sh",
      "-c",
      "cat /etc/app/a.conf /etc/app/sub/b.conf; echo; ls /texts; cat /opt/pkg/readme /compressed/pkg/readme /compressed/pkg/other",
    ]);
    assert.equal(out, "ab\none.txt\ntwo.txt\nfrom the archive\nfrom the archive\nxz\n");
    // owners as `docker cp` reports them in the tar headers
    await ok(["create", "--name", "build-copy-c", "build-copy", "true"]);
    const owners = await tarOwners(await dockerBuffer(["cp", "build-copy-c:/etc/app", "-"]));
    assert.deepEqual(owners, {
      "app/": "1000:1000",
      "app/a.conf": "1000:1000",
      "app/sub/": "1000:1000",
      "app/sub/b.conf": "1000:1000",
    });
    const texts = await tarOwners(await dockerBuffer(["cp", "build-copy-c:/texts/one.txt", "-"]));
    assert.deepEqual(texts, { "one.txt": "0:0" });
    await ok(["rm", "build-copy-c"]);
  });

  test("a failing RUN names the command and exit code, tags nothing", async () => {
    const dir = context({ Dockerfile: `FROM ${BUSYBOX}\nRUN echo partial > /p\nRUN exit 3\n` });
    const r = await build(dir, ["-t", "build-fail:1"]);
    assert.equal(r.code, 3, "the CLI exits with the command's code");
    assert.match(r.stderr, /The command '\/bin\/sh -c exit 3' returned a non-zero code: 3/);
    const img = await run(["image", "inspect", "build-fail:1"]);
    assert.notEqual(img.code, 0, "no image tagged after a failure");
    // like dockerd: --rm keeps the failed step's container for inspection, --force-rm removes it
    const failed = await ok(["ps", "-a", "--filter", "status=exited", "--format", "{{.Command}}"]);
    assert.match(failed, /exit 3/);
    const before = await ok(["ps", "-a", "-q"]);
    const forced = await build(dir, ["--force-rm", "-t", "build-fail:2"]);
    assert.equal(forced.code, 3);
    assert.equal(await ok(["ps", "-a", "-q"]), before);
    // --rm=false keeps the containers of successful steps
    const keep = context({ Dockerfile: `FROM ${BUSYBOX}\nRUN echo kept > /k\n` });
    const out = await buildOk(keep, ["--rm=false", "--no-cache"]);
    assert.doesNotMatch(out, /Removing intermediate container/);
    const id = /Running in ([0-9a-f]{12})/.exec(out)![1];
    assert.match(await ok(["ps", "-a", "-q"]), new RegExp(id));
    await ok(["rm", id]);
  });

  test("an unknown instruction is a parse error naming its line; nothing is built", async () => {
    const before = await imageIds();
    const dir = context({ Dockerfile: `FROM ${BUSYBOX}\n\nFOO bar\nRUN echo never\n` });
    const r = await build(dir, ["-t", "build-unknown"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /dockerfile parse error line 3: unknown instruction: FOO/);
    assert.doesNotMatch(r.stdout, /Step 1/);
    assert.equal(await imageIds(), before);
  });

  test("hostile contexts: .. and absolute entries are refused; symlinks never lead COPY out", async () => {
    const before = await imageIds();
    const df = `FROM ${BUSYBOX}\nCOPY x /x\n`;
    for (const name of ["../evil", "/abs/evil", "a/../../evil"]) {
      const res = await postBuild(
        "t=build-hostile",
        await tarOf([
          { name: "Dockerfile", content: df },
          { name, content: "evil" },
        ]),
      );
      assert.equal(res.status, 400, res.body);
      assert.match(res.body, /outside the context/);
    }
    // a symlink to the host's /etc/passwd or above the context: COPY resolves it inside the context
    const dir = context({
      Dockerfile: `FROM ${BUSYBOX}\nCOPY passwd /stolen\n`,
      passwd: { link: "/etc/passwd" },
    });
    let r = await build(dir, ["-t", "build-hostile"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /file not found in build context/);
    const dir2 = context({
      Dockerfile: `FROM ${BUSYBOX}\nCOPY up/etc/passwd /stolen\n`,
      up: { link: "../../../../../../.." },
    });
    r = await build(dir2, ["-t", "build-hostile"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /file not found in build context/);
    const dir3 = context({ Dockerfile: `FROM ${BUSYBOX}\nCOPY ../x /x\n` });
    r = await build(dir3, ["-t", "build-hostile"]);
    assert.match(r.stderr, /forbidden path outside the build context: \.\.\/x/);
    assert.equal(await imageIds(), before);
    assert.equal((await run(["image", "inspect", "build-hostile"])).code, 1);
  });

  test("BuildKit requests get a message pointing at DOCKER_BUILDKIT=0", async () => {
    const res = await postBuild(
      "version=2",
      await tarOf([{ name: "Dockerfile", content: `FROM ${BUSYBOX}\n` }]),
    );
    assert.equal(res.status, 400);
    assert.match(res.body, /DOCKER_BUILDKIT=0/);
    const session = await post("/v1.44/session", Buffer.alloc(0));
    assert.equal(session.status, 501);
    assert.match(session.body, /BuildKit is not supported by Sockerless.*DOCKER_BUILDKIT=0/);
  });

  test("a client that goes away stops the build and its RUN container", async () => {
    const body = await tarOf([
      { name: "Dockerfile", content: `FROM ${BUSYBOX}\nRUN echo started; sleep 60\n` },
    ]);
    const containersBefore = await ok(["ps", "-a", "-q"]);
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect(d.host.slice("unix://".length));
      sock.write(
        `POST /v1.44/build?t=build-cancel HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      sock.write(body);
      let text = "";
      sock.on("data", (c: Buffer) => {
        text += c.toString();
        if (text.includes('{"stream":"started\\n"}')) {
          sock.destroy(); // the client goes away while the step runs
          resolve();
        }
      });
      sock.on("error", reject);
      setTimeout(() => reject(new Error("the RUN step did not start")), 20_000);
    });
    await until(
      async () => (await ok(["ps", "-a", "-q"])) === containersBefore,
      "the RUN container to go",
      20_000,
    );
    assert.equal((await run(["image", "inspect", "build-cancel"])).code, 1);
  });

  test("build cache shows in system df and build prune empties it", async () => {
    const df = JSON.parse(
      await ok(["system", "df", "--format", "{{json .}}"]).then((s) => `[${s.trim().split("\n").join(",")}]`),
    ) as {
      Type: string;
      TotalCount: string;
    }[];
    const cache = df.find((x) => x.Type === "Build Cache");
    assert.ok(cache && Number(cache.TotalCount) > 0, JSON.stringify(df));
    const pruned = await ok(["builder", "prune", "-f"]);
    assert.match(pruned, /Total reclaimed space/);
    const after = JSON.parse(
      await ok(["system", "df", "--format", "{{json .}}"]).then((s) => `[${s.trim().split("\n").join(",")}]`),
    ) as {
      Type: string;
      TotalCount: string;
    }[];
    assert.equal(after.find((x) => x.Type === "Build Cache")?.TotalCount, "0");
    // tagged images survive a prune
    assert.equal(await ok(["run", "--rm", "build-basic:1", "cat", "/app/out.txt"]), "hello from run\n");
    // an image prune keeps the intermediates below tagged images (their history stays known)
    await ok(["image", "prune", "-f"]);
    const ids = await ok(["history", "-q", "build-basic:1"]);
    assert.doesNotMatch(ids, /<missing>\n[\s\S]*[0-9a-f]{12}/, "no known image below a missing one");
    assert.equal(
      ids
        .trim()
        .split("\n")
        .filter((l) => l !== "<missing>").length,
      6,
    );
  });

  test("docker-compose (v1, through docker-py) builds a service image with build args", async () => {
    const dir = context({
      Dockerfile: `FROM ${BUSYBOX}\nARG FLAVOR=plain\nRUN echo "compose-$FLAVOR" > /flavor\nCMD ["cat", "/flavor"]\n`,
      "docker-compose.yml": [
        'version: "2.4"',
        "services:",
        "  app:",
        "    build:",
        "      context: .",
        "      args:",
        "        FLAVOR: spicy",
        "      labels:",
        "        built.by: compose",
        "    image: build-compose:1",
        "",
      ].join("\n"),
    });
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn("docker-compose", ["--no-ansi", "build"], {
        cwd: dir,
        env: { ...process.env, DOCKER_HOST: d.host, COMPOSE_DOCKER_CLI_BUILD: "0" },
      });
      let out = "";
      p.stdout.on("data", (c) => (out += c));
      p.stderr.on("data", (c) => (out += c));
      p.on("close", (code) => resolve({ code, out }));
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Successfully tagged build-compose:1/);
    assert.equal(await ok(["run", "--rm", "build-compose:1"]), "compose-spicy\n");
    assert.equal(
      (
        await ok(["image", "inspect", "build-compose:1", "--format", '{{index .Config.Labels "built.by"}}'])
      ).trim(),
      "compose",
    );
  });

  test("FROM pulls a missing image; -f names a Dockerfile outside the context", async () => {
    const dir = context({ "data.txt": "payload\n" });
    const elsewhere = context({
      "my.Dockerfile": `FROM ${HELLO}\nCOPY data.txt /data.txt\nCMD ["cat", "/data.txt"]\n`,
    });
    const out = await buildOk(dir, ["-f", path.join(elsewhere, "my.Dockerfile"), "-t", "build-pull"]);
    assert.match(out, /Pulling from hello-sh|Digest: sha256:/);
    assert.equal(await ok(["run", "--rm", "build-pull"]), "payload\n");
    const missing = await build(dir, ["-f", "nope.Dockerfile"]);
    assert.notEqual(missing.code, 0);
  });

  test("an oversized context is refused with 400 and leaves nothing behind", async () => {
    const body = await tarOf([
      { name: "Dockerfile", content: `FROM ${BUSYBOX}\n` },
      { name: "big", content: "x".repeat(MAX_CONTEXT + 1024) },
    ]);
    const res = await postBuild("t=build-big", body);
    assert.equal(res.status, 400);
    assert.match(res.body, new RegExp(`build context is larger than the limit of ${MAX_CONTEXT} bytes`));
    assert.deepEqual(readdirSync(path.join(d.dataRoot, "builder", "tmp")), []);
    assert.equal((await run(["image", "inspect", "build-big"])).code, 1);
    // the daemon keeps serving
    assert.equal(await ok(["run", "--rm", BUSYBOX, "echo", "alive"]), "alive\n");
  });

  test("a built image pushed to a registry runs on the reference Docker Engine", async () => {
    const ref = process.env.SOCKERLESS_REF_DOCKER_HOST;
    assert.ok(ref, "SOCKERLESS_REF_DOCKER_HOST must point at the reference dockerd (scripts/test-env.sh)");
    const dir = context({
      Dockerfile: `FROM ${BUSYBOX}\nRUN echo built-by-sockerless > /proof && rm /bin/vi\nCOPY msg /msg\nCMD ["sh", "-c", "cat /proof /msg; ls /bin/vi || echo vi-gone"]\n`,
      msg: "copied\n",
    });
    await buildOk(dir, ["-t", "build-portable"]);
    const id = (await ok(["image", "inspect", "build-portable", "--format", "{{.Id}}"])).trim();
    const repo = `build-test/portable-${process.pid}`;
    await pushFromStore(d.dataRoot, id, repo, "v1");
    const remote = `${REGISTRY}/${repo}:v1`;
    await dockerOk(ref, ["pull", remote]);
    try {
      const refId = (await dockerOk(ref, ["image", "inspect", remote, "--format", "{{.Id}}"])).trim();
      assert.equal(refId, id, "the same image id on both engines");
      const out = await dockerOk(ref, ["run", "--rm", "--network", "none", remote]);
      assert.match(out, /^built-by-sockerless\ncopied\n/);
      assert.match(out, /vi-gone/);
    } finally {
      await docker(ref, ["rmi", "-f", remote]);
    }
  });
});

/**
 * Pushes an image straight from the daemon's content store with the registry API (blobs, config,
 * the manifest createImage stored), independent of `docker push`.
 */
async function pushFromStore(dataRoot: string, id: string, repo: string, tag: string): Promise<void> {
  const store = path.join(dataRoot, "images");
  const index = JSON.parse(readFileSync(path.join(store, "images.json"), "utf8")) as {
    images: { id: string; layers: string[]; manifestDigest: string }[];
  };
  const rec = index.images.find((i) => i.id === id);
  assert.ok(rec, `image ${id} in the store`);
  const blob = (digest: string) => readFileSync(path.join(store, "blobs", "sha256", digest.slice(7)));
  const base = `http://${REGISTRY}/v2/${repo}`;
  for (const digest of [...rec.layers, rec.id]) {
    const data = blob(digest);
    assert.equal("sha256:" + createHash("sha256").update(data).digest("hex"), digest);
    const start = await fetch(`${base}/blobs/uploads/`, { method: "POST" });
    assert.equal(start.status, 202);
    const loc = new URL(start.headers.get("location")!, base);
    loc.searchParams.set("digest", digest);
    const put = await fetch(loc, { method: "PUT", body: new Uint8Array(data) });
    assert.equal(put.status, 201, await put.text());
  }
  const manifest = blob(rec.manifestDigest);
  const mediaType = (JSON.parse(manifest.toString()) as { mediaType: string }).mediaType;
  const put = await fetch(`${base}/manifests/${tag}`, {
    method: "PUT",
    headers: { "content-type": mediaType },
    body: new Uint8Array(manifest),
  });
  assert.equal(put.status, 201, await put.text());
}
