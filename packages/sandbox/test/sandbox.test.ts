import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { resolveCommand, spawnSandbox } from "../src/index.js";
import { BUSYBOX, delay, makeRootfs, run, specFor, start, until } from "./helpers.js";

const skip = BUSYBOX ? false : "busybox is not installed (apt-get install -y busybox-static)";

describe("sandbox", { skip }, () => {
  let root: string;
  before(() => {
    root = makeRootfs();
  });
  after(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  describe("commands", () => {
    test("echo, exit codes, stderr separated", async () => {
      assert.deepEqual(await run(specFor(root, ["echo", "hello"])), {
        code: 0,
        stdout: "hello\n",
        stderr: "",
      });
      const r = await run(specFor(root, ["sh", "-c", "echo out; echo err >&2; exit 3"]));
      assert.deepEqual(r, { code: 3, stdout: "out\n", stderr: "err\n" });
    });

    test("output streams while the command runs", async () => {
      const r = start(specFor(root, ["sh", "-c", "echo a; sleep 0.3; echo b"]));
      await until(() => r.stdout() === "a\n");
      const tA = performance.now();
      const code = await r.proc.exited;
      assert.equal(code, 0);
      assert.equal(r.stdout(), "a\nb\n");
      assert.ok(performance.now() - tA > 200, "b came with the end of the sleep");
    });

    test("env, cwd (created), HOSTNAME, HOME, user", async () => {
      const r = await run(
        specFor(root, ["sh", "-c", 'echo "$FOO $HOSTNAME $HOME"; pwd; id -u; whoami'], {
          env: ["FOO=bar"],
          cwd: "/work/dir",
        }),
      );
      assert.deepEqual(r, { code: 0, stdout: "bar box1 /root\n/work/dir\n0\nroot\n", stderr: "" });
      assert.ok(fs.statSync(path.join(root, "work/dir")).isDirectory());
      const u = await run(specFor(root, ["sh", "-c", 'id; echo "$HOME"; whoami'], { user: "app" }));
      assert.equal(u.stdout, "uid=1000(app) gid=1000(app) groups=1000(app),50(staff)\n/home/app\napp\n");
      const n = await run(specFor(root, ["sh", "-c", "id -u"], { user: "4242" }));
      assert.equal(n.stdout, "4242\n");
      const missing = await run(specFor(root, ["true"], { user: "nobody-here" }));
      assert.equal(missing.code, 126);
      assert.match(missing.stderr, /unable to find user nobody-here/);
    });

    test("absolute paths: /bin/sh -c, busybox applets, nested sh -c", async () => {
      assert.equal((await run(specFor(root, ["/bin/sh", "-c", "echo hi"]))).stdout, "hi\n");
      assert.equal((await run(specFor(root, ["/bin/busybox", "sh", "-c", "echo bb"]))).stdout, "bb\n");
      assert.equal((await run(specFor(root, ["busybox", "echo", "x"]))).stdout, "x\n");
      assert.equal((await run(specFor(root, ["egrep", "-c", "root", "/etc/passwd"]))).stdout, "1\n");
      const r = await run(
        specFor(root, [
          "sh",
          "-c",
          "/bin/echo x; sh -c '/bin/echo y; /bin/cat /etc/hostname-missing 2>/dev/null || /bin/echo z'",
        ]),
      );
      assert.deepEqual(r, { code: 0, stdout: "x\ny\nz\n", stderr: "" });
    });

    test("ELF binary that is not a builtin: 126", async () => {
      const r = await run(specFor(root, ["mytool", "--version"]));
      assert.equal(r.code, 126);
      assert.equal(
        r.stderr,
        'sandbox: cannot run ELF binary "/usr/bin/mytool": the memory backend runs shell scripts and built-in commands only\n',
      );
      assert.equal((await run(specFor(root, ["vi"]))).code, 126); // busybox applet bashkit lacks
    });

    test("missing command: 127 with runc's message", async () => {
      const r = await run(specFor(root, ["nosuch", "arg"]));
      assert.deepEqual(r, {
        code: 127,
        stdout: "",
        stderr: 'exec: "nosuch": executable file not found in $PATH\n',
      });
      assert.equal((await run(specFor(root, ["/nosuch"]))).code, 127);
      assert.equal((await run(specFor(root, ["/usr/local/bin/not-exec"]))).code, 126);
    });

    test("resolveCommand for the engine's pre-check", () => {
      assert.equal(resolveCommand(specFor(root, ["nosuch"])).kind, "missing");
      assert.equal(resolveCommand(specFor(root, ["mytool"])).kind, "elf");
      assert.deepEqual(resolveCommand(specFor(root, ["/bin/sh", "-c", "x"])), {
        kind: "builtin",
        path: "/bin/sh",
        argv: ["sh", "-c", "x"],
      });
      const s = resolveCommand(specFor(root, ["greet", "bob"]));
      assert.deepEqual(s, {
        kind: "script",
        path: "/usr/local/bin/greet",
        argv: ["sh", "/usr/local/bin/greet", "bob"],
      });
      const py = resolveCommand(specFor(root, ["pyscript"]));
      assert.equal(py.kind, "script");
      assert.equal(py.error?.exitCode, 126);
      assert.equal(resolveCommand(specFor(root, ["needs-bash"])).error?.exitCode, 127); // #!/bin/bash, no bash
    });

    test("shell scripts: on PATH, by path, $0 and arguments", async () => {
      assert.equal((await run(specFor(root, ["greet", "bob"]))).stdout, "hello bob\n");
      assert.equal((await run(specFor(root, ["/bin/sh", "/usr/local/bin/greet", "x"]))).stdout, "hello x\n");
      const r = await run(
        specFor(root, ["sh", "-c", 'echo "$0 $1"; sh -c \'echo "$0 $#"\' zero a b', "name", "one"]),
      );
      assert.equal(r.stdout, "name one\nzero 2\n");
    });

    test("env runs commands; /usr/bin/env too", async () => {
      const r = await run(
        specFor(root, [
          "sh",
          "-c",
          "env FOO=1 sh -c 'echo $FOO'; /usr/bin/env -i A=2 sh -c 'echo $A-$PATH'; env | grep -c HOSTNAME",
        ]),
      );
      assert.deepEqual(r, { code: 0, stdout: "1\n2-\n1\n", stderr: "" });
    });

    test("tail: last lines, bytes, from line", async () => {
      const r = await run(
        specFor(root, [
          "sh",
          "-c",
          "printf '1\\n2\\n3\\n' | tail -n 2; printf 'abc\\n' > /tmp/t; tail -c 3 /tmp/t; tail -n +2 /etc/group; tail -1 /etc/passwd",
        ]),
      );
      assert.equal(r.stdout, "2\n3\nbc\napp:x:1000:\nstaff:x:50:app\napp:x:1000:1000::/home/app:/bin/sh\n");
    });

    test("captured output of functions and nested shells is right (not streamed twice)", async () => {
      const r = await run(
        specFor(root, [
          "sh",
          "-c",
          "f() { echo b; echo a; }; f | sort; x=$(f); echo \"x=$x\"; y=$(/bin/echo hi); echo $y; sh -c 'echo 2; echo 1' | sort",
        ]),
      );
      assert.deepEqual(r, { code: 0, stdout: "a\nb\nx=b\na\nhi\n1\n2\n", stderr: "" });
    });

    test("syntax error: status 2", async () => {
      const r = await run(specFor(root, ["sh", "-c", "echo )"]));
      assert.equal(r.code, 2);
      assert.match(r.stderr, /line 1, column 6/);
    });

    test("output beyond 10 MiB is streamed (bashkit's default cap is lifted)", async () => {
      const r = start(
        specFor(root, [
          "sh",
          "-c",
          'x=0123456789abcdef; for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do x="$x$x"; done; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "$x"; done',
        ]),
      );
      assert.equal(await r.proc.exited, 0);
      assert.equal(r.stdout().length, 12 * (16 * 65536 + 1));
    });
  });

  describe("stdin and tty", () => {
    test("stdin is piped to a command after EOF", async () => {
      const r = start(specFor(root, ["cat"], { openStdin: true }));
      r.proc.writeStdin(Buffer.from("a\nb"));
      await delay(20);
      r.proc.endStdin();
      assert.equal(await r.proc.exited, 0);
      assert.equal(r.stdout(), "a\nb");
      const s = start(specFor(root, ["sh", "-c", 'read x; echo "got $x"; cat'], { openStdin: true }));
      s.proc.writeStdin(Buffer.from("one\ntwo\n"));
      s.proc.endStdin();
      assert.equal(await s.proc.exited, 0);
      assert.equal(s.stdout(), "got one\ntwo\n");
    });

    test("a command that reads no stdin does not wait for EOF", async () => {
      const r = start(specFor(root, ["sh", "-c", "echo hi"], { openStdin: true }));
      assert.equal(await r.proc.exited, 0);
      assert.equal(r.stdout(), "hi\n");
    });

    test("a command given only files does not wait for stdin's EOF", async () => {
      const r = start(specFor(root, ["cat", "/etc/passwd"], { openStdin: true }));
      assert.equal(await r.proc.exited, 0);
      assert.match(r.stdout(), /^root:/);
      const t = start(specFor(root, ["tail", "-n", "1", "/etc/passwd"], { openStdin: true }));
      assert.equal(await t.proc.exited, 0);
      assert.equal(t.stdout().split("\n").length, 2);
      // `tail -n 1` without a file reads stdin, so it waits for it
      const h = start(specFor(root, ["tail", "-n", "1"], { openStdin: true }));
      h.proc.writeStdin(Buffer.from("first\nsecond\n"));
      h.proc.endStdin();
      assert.equal(await h.proc.exited, 0);
      assert.equal(h.stdout(), "second\n");
    });

    test("interactive shell without stdin exits at once", async () => {
      assert.deepEqual(await run(specFor(root, ["sh"])), { code: 0, stdout: "", stderr: "" });
    });

    test("REPL (docker run -i): state kept across lines, exit N", async () => {
      const r = start(specFor(root, ["sh"], { openStdin: true }));
      r.proc.writeStdin(Buffer.from("x=5\necho $x\n"));
      await until(() => r.stdout() === "5\n");
      r.proc.writeStdin(Buffer.from("cd /tmp\npwd\nfor i in 1 2; do\necho i$i\ndone\nexit 4\n"));
      assert.equal(await r.proc.exited, 4);
      assert.equal(r.stdout(), "5\n/tmp\ni1\ni2\n");
    });

    test("REPL: EOF ends with the last status", async () => {
      const r = start(specFor(root, ["sh"], { openStdin: true }));
      r.proc.writeStdin(Buffer.from("echo a\nfalse\n"));
      r.proc.endStdin();
      assert.equal(await r.proc.exited, 1);
      assert.equal(r.stdout(), "a\n");
    });

    test("REPL with a TTY: prompt, echo, CRLF, continuation prompt", async () => {
      const r = start(specFor(root, ["/bin/sh"], { openStdin: true, tty: true }));
      await until(() => r.stdout() === "/ # ");
      r.proc.writeStdin(Buffer.from("echo hi\r"));
      await until(() => r.stdout().endsWith("/ # echo hi\r\nhi\r\n/ # "));
      r.proc.writeStdin(Buffer.from("if true; then\r"));
      await until(() => r.stdout().endsWith("> "));
      r.proc.writeStdin(Buffer.from("echo yes; fi\r"));
      await until(() => r.stdout().endsWith("yes\r\n/ # "));
      r.proc.writeStdin(Buffer.from("cd /tmp\r"));
      await until(() => r.stdout().endsWith("/tmp # "));
      r.proc.writeStdin(Buffer.from("exit 3\r"));
      assert.equal(await r.proc.exited, 3);
      assert.ok(r.events.every((e) => e.stream === "stdout"));
      assert.match(r.stdout(), /> echo yes; fi\r\nyes\r\n\/ # cd \/tmp\r\n\/tmp # exit 3\r\n$/);
    });

    test("TTY output uses CRLF and a single stream", async () => {
      const r = await run(specFor(root, ["sh", "-c", "echo a; echo b >&2"], { tty: true }));
      assert.deepEqual(r, { code: 0, stdout: "a\r\nb\r\n", stderr: "" });
    });

    test("REPL ^C interrupts the running line, the shell goes on", async () => {
      const r = start(specFor(root, ["sh"], { openStdin: true, tty: true }));
      await until(() => r.stdout() === "/ # ");
      r.proc.writeStdin(Buffer.from("sleep 100\r"));
      await delay(50);
      r.proc.writeStdin(Buffer.from("\x03"));
      await until(() => r.stdout().endsWith("^C\r\n/ # "));
      r.proc.writeStdin(Buffer.from("echo $?\r\x04"));
      assert.equal(await r.proc.exited, 0);
      assert.match(r.stdout(), /130\r\n/);
    });
  });

  describe("signals and limits", () => {
    for (const [name, argv] of [
      ["sleep", ["sleep", "1000"]],
      ["sleep infinity", ["sleep", "infinity"]],
      ["tail -f /dev/null", ["tail", "-f", "/dev/null"]],
      ["busy loop", ["sh", "-c", "while true; do :; done"]],
      ["sleep in a loop", ["sh", "-c", "while true; do sleep 1; done"]],
    ] as const) {
      test(`SIGKILL ends ${name} promptly with 137`, async () => {
        const r = start(specFor(root, [...argv]));
        await delay(60);
        const t = performance.now();
        r.proc.signal("SIGKILL");
        assert.equal(await r.proc.exited, 137);
        assert.ok(performance.now() - t < 100, `took ${performance.now() - t} ms`);
      });
    }

    test("SIGTERM: ignored by PID 1, ends an exec with 143", async () => {
      const init = start(specFor(root, ["sleep", "1000"], { isInit: true }));
      await delay(30);
      init.proc.signal("SIGTERM");
      init.proc.signal("INT");
      const res = await Promise.race([init.proc.exited, delay(150).then(() => "running")]);
      assert.equal(res, "running");
      init.proc.signal("9");
      assert.equal(await init.proc.exited, 137);

      const exec = start(specFor(root, ["sh", "-c", "sleep 1000"], { isInit: false }));
      await delay(30);
      exec.proc.signal("TERM");
      assert.equal(await exec.proc.exited, 143);
      const int = start(specFor(root, ["sleep", "1000"], { isInit: false }));
      int.proc.signal("SIGWINCH"); // default action: ignore
      int.proc.signal("2");
      assert.equal(await int.proc.exited, 130);
    });

    test("timeout limit kills with 137", async () => {
      const t = performance.now();
      const r = await run(
        specFor(root, ["sh", "-c", "echo start; sleep 10"], { limits: { timeoutMs: 200 } }),
      );
      assert.equal(r.code, 137);
      assert.equal(r.stdout, "start\n");
      assert.ok(performance.now() - t < 1000);
    });

    test("exited resolves once, output stops after a kill", async () => {
      const r = start(specFor(root, ["sh", "-c", "while true; do echo x; sleep 0.01; done"]));
      await until(() => r.stdout().length > 0);
      r.proc.signal("KILL");
      r.proc.signal("KILL");
      assert.equal(await r.proc.exited, 137);
      const n = r.events.length;
      await delay(50);
      assert.equal(r.events.length, n);
    });

    test("tail -f follows a file", async () => {
      fs.writeFileSync(path.join(root, "tmp/log"), "l1\n");
      const r = start(specFor(root, ["sh", "-c", "echo start; tail -f /tmp/log"]));
      await until(() => r.stdout() === "start\nl1\n");
      fs.appendFileSync(path.join(root, "tmp/log"), "l2\n");
      await until(() => r.stdout() === "start\nl1\nl2\n");
      r.proc.signal("SIGKILL");
      assert.equal(await r.proc.exited, 137);
    });
  });

  describe("filesystem", () => {
    test("writes land in the rootfs; read-only mounts refuse writes; rw mounts accept them", async () => {
      const ro = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-ro-"));
      const rw = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-rw-"));
      fs.writeFileSync(path.join(ro, "f"), "ro-data\n");
      try {
        const spec = specFor(
          root,
          ["sh", "-c", "echo data > /tmp/written; cat /ro/f; echo x > /ro/y; echo rc=$?; echo v > /rw/z"],
          {
            mounts: [
              { hostPath: ro, containerPath: "/ro", readOnly: true },
              { hostPath: rw, containerPath: "/rw", readOnly: false },
            ],
          },
        );
        const r = await run(spec);
        assert.equal(r.stdout, "ro-data\nrc=1\n");
        assert.match(r.stderr, /read-only/);
        assert.equal(fs.readFileSync(path.join(root, "tmp/written"), "utf8"), "data\n");
        assert.equal(fs.existsSync(path.join(ro, "y")), false);
        assert.equal(fs.readFileSync(path.join(rw, "z"), "utf8"), "v\n");
      } finally {
        fs.rmSync(ro, { recursive: true, force: true });
        fs.rmSync(rw, { recursive: true, force: true });
      }
    });

    test("touch creates files and sets times on the host", async () => {
      const script =
        "touch /tmp/t1 && touch -d @86400 /tmp/t1 && touch -c /tmp/none; [ -e /tmp/none ] || echo absent";
      assert.deepEqual(await run(specFor(root, ["sh", "-c", script])), {
        code: 0,
        stdout: "absent\n",
        stderr: "",
      });
      assert.equal(fs.statSync(path.join(root, "tmp/t1")).mtimeMs, 86400_000);
    });

    test("two sandboxes run concurrently and are isolated", async () => {
      const other = makeRootfs();
      try {
        const script = (tag: string) =>
          `V=${tag}; echo $V > /tmp/who; sleep 0.1; cat /tmp/who; echo $V; ls /tmp`;
        const [a, b] = await Promise.all([
          run(specFor(root, ["sh", "-c", script("A")])),
          run(specFor(other, ["sh", "-c", script("B")])),
        ]);
        assert.equal(a.stdout.split("\n").slice(0, 2).join(" "), "A A");
        assert.equal(b.stdout.split("\n").slice(0, 2).join(" "), "B B");
        assert.equal(fs.readFileSync(path.join(root, "tmp/who"), "utf8"), "A\n");
        assert.equal(fs.readFileSync(path.join(other, "tmp/who"), "utf8"), "B\n");
      } finally {
        fs.rmSync(other, { recursive: true, force: true });
      }
    });
  });

  test("listener attached right after spawn sees all output", async () => {
    const proc = spawnSandbox(specFor(root, ["echo", "first"]));
    const got: string[] = [];
    proc.onOutput((_s, d) => got.push(d.toString()));
    assert.equal(await proc.exited, 0);
    assert.deepEqual(got, ["first\n"]);
  });
});
