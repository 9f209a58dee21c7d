import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { builtinCommands, parseShellArgs, parseSignal } from "../src/index.js";
import { parseSleep, parseTail, tailSelect } from "../src/builtins.js";
import { incomplete, readsOnlyFiles } from "../src/sandbox.js";
import { streamSafeArgv, streamSafeScript, type StreamSafetyEnv } from "../src/streamsafe.js";
import { Bash } from "@everruns/bashkit";

describe("parseSignal", () => {
  test("names, SIG prefix, numbers, real-time", () => {
    assert.equal(parseSignal("SIGTERM"), 15);
    assert.equal(parseSignal("TERM"), 15);
    assert.equal(parseSignal("15"), 15);
    assert.equal(parseSignal("sigkill"), 9);
    assert.equal(parseSignal("SIGRTMIN+3"), 37);
    assert.equal(parseSignal("NOPE"), undefined);
    assert.equal(parseSignal("99"), undefined);
  });
});

describe("parseShellArgs", () => {
  test("-c, combined flags, -o, script file, stdin", () => {
    assert.deepEqual(parseShellArgs(["-c", "echo hi", "zero", "one"]), {
      mode: "c",
      script: "echo hi",
      options: [],
      params: ["zero", "one"],
    });
    assert.deepEqual(parseShellArgs(["-ec", "x"]), { mode: "c", script: "x", options: ["-e"], params: [] });
    assert.deepEqual(parseShellArgs(["-o", "pipefail", "-xc", "x"]), {
      mode: "c",
      script: "x",
      options: ["-o", "pipefail", "-x"],
      params: [],
    });
    assert.deepEqual(parseShellArgs(["script.sh", "a"]), {
      mode: "file",
      file: "script.sh",
      options: [],
      params: ["script.sh", "a"],
    });
    assert.deepEqual(parseShellArgs(["-s", "a"]), { mode: "stdin", options: [], params: ["a"] });
    assert.deepEqual(parseShellArgs(["-i", "-l"]), { mode: "stdin", options: [], params: [] });
  });
});

describe("sleep and tail parsing", () => {
  test("sleep durations", () => {
    assert.equal(parseSleep(["1.5"]), 1500);
    assert.equal(parseSleep(["1m", "2s"]), 62000);
    assert.equal(parseSleep(["infinity"]), Infinity);
    assert.throws(() => parseSleep(["x"]), /invalid time interval/);
    assert.throws(() => parseSleep([]), /missing operand/);
  });

  test("tail options", () => {
    assert.deepEqual(pick(parseTail(["-n", "5", "f"])), {
      count: 5,
      bytes: false,
      fromStart: false,
      follow: false,
      files: ["f"],
    });
    assert.deepEqual(pick(parseTail(["-fn2"])), {
      count: 2,
      bytes: false,
      fromStart: false,
      follow: true,
      files: [],
    });
    assert.deepEqual(pick(parseTail(["-c", "+3"])), {
      count: 3,
      bytes: true,
      fromStart: true,
      follow: false,
      files: [],
    });
    assert.deepEqual(pick(parseTail(["-20", "a", "b"])), {
      count: 20,
      bytes: false,
      fromStart: false,
      follow: false,
      files: ["a", "b"],
    });
    assert.deepEqual(pick(parseTail(["-F", "--lines=+1", "x"])), {
      count: 1,
      bytes: false,
      fromStart: true,
      follow: true,
      files: ["x"],
    });
    assert.throws(() => parseTail(["-Q"]), /invalid option/);
  });

  test("tail selection", () => {
    const b = Buffer.from("a\nb\nc\n");
    const sel = (count: number, bytes = false, fromStart = false) =>
      tailSelect(b, { count, bytes, fromStart }).toString();
    assert.equal(sel(2), "b\nc\n");
    assert.equal(sel(10), "a\nb\nc\n");
    assert.equal(sel(0), "");
    assert.equal(sel(2, false, true), "b\nc\n");
    assert.equal(sel(2, true), "c\n");
    assert.equal(
      tailSelect(Buffer.from("x\ny"), { count: 1, bytes: false, fromStart: false }).toString(),
      "y",
    );
    assert.equal(tailSelect(Buffer.alloc(0), { count: 3, bytes: false, fromStart: false }).toString(), "");
  });
});

function pick(o: ReturnType<typeof parseTail>) {
  return { count: o.count, bytes: o.bytes, fromStart: o.fromStart, follow: o.follow, files: o.files };
}

describe("REPL line completeness", () => {
  const bash = new Bash();
  test("open constructs wait for more input", () => {
    for (const s of [
      "if true; then\n",
      "for i in 1 2; do\necho $i\n",
      "echo 'a\n",
      "f() {\n",
      "a &&\n",
      "a |\n",
      "echo \\\n",
      "cat <<EOF\nx\n",
    ]) {
      assert.equal(incomplete(s, bash), true, s);
    }
    for (const s of [
      "echo hi\n",
      "if true; then echo; fi\n",
      "echo )\n",
      "cat <<EOF\nx\nEOF\n",
      "cat <<< x\n",
    ]) {
      assert.equal(incomplete(s, bash), false, s);
    }
  });
});

describe("stream safety", () => {
  const env: StreamSafetyEnv = {
    isBuiltin: (n) => builtinCommands().has(n),
    preludeFunctions: new Set(["sh", "bash", "env", "/bin/echo"]),
    readScript: (p) =>
      p === "/entry.sh" ? 'x=$(f); echo "$x"\n' : p === "/plain.sh" ? "echo a; sleep 1; echo b\n" : undefined,
    findScript: (n) => (n === "entry" ? "/entry.sh" : undefined),
  };
  const safe = (s: string) => streamSafeScript(s, undefined, env).safe;

  test("plain scripts stream", () => {
    for (const s of [
      "echo a; sleep 0.3; echo b",
      'while true; do echo "$(date) tick"; sleep 1; done',
      "x=$(cat /etc/hostname | tr a-z A-Z); echo $x",
      "for i in 1 2; do echo $i; done > /tmp/x",
      "f() { echo hi; }; f; echo x 2>&1",
      "echo q | while read l; do echo $l; done",
      "case $1 in start|run) echo go ;; *) echo no ;; esac; echo after",
      "cat <<'EOF'\n$(not code)\nEOF\necho done",
      "a=(1 2 3); echo ${a[1]} # comment with $(f) and |",
      "echo 'it''s' \"a|b\" `echo x`",
    ]) {
      assert.equal(safe(s), true, s);
    }
  });

  test("captured nested command lists are buffered", () => {
    for (const s of [
      "f() { echo b; echo a; }; f | sort",
      "f() { echo x; }; y=$(f)",
      "for i in 3 1 2; do echo $i; done | sort",
      "{ echo b; echo a; } | sort",
      "( echo a ) | cat",
      "x=$(if true; then echo t; fi)",
      "x=`sh -c 'echo a'`",
      "sh -c 'echo b; echo a' | sort",
      "f() { echo a; }; f > /tmp/x",
      "f() { echo a; }; f 2>/dev/null",
      "env | sort",
      "/bin/echo hi | cat",
      'eval "$cmd" | cat',
      "$cmd | cat",
      "sh -c 'x=$(g)'",
      "cat <<EOF\n$(f)\nEOF",
    ]) {
      assert.equal(safe(s), false, s);
    }
  });

  test("follows scripts and argv", () => {
    assert.equal(streamSafeArgv(["sh", "/plain.sh"], env).safe, true);
    assert.equal(streamSafeArgv(["sh", "/entry.sh"], env).safe, false);
    assert.equal(streamSafeArgv(["entry"], env).safe, false);
    assert.equal(streamSafeArgv(["sh", "-c", '. /entry.sh; echo "$@"'], env).safe, false);
    assert.equal(
      streamSafeArgv(["sh", "-c", 'exec "$@"', "sh", "sh", "-c", "f() { :; }; f | cat"], env).safe,
      false,
    );
    assert.equal(streamSafeArgv(["sh", "-c", 'exec "$@"', "sh", "echo", "hi"], env).safe, true);
  });
});

test("commands given only files do not read stdin", () => {
  for (const argv of [
    ["cat", "/a"],
    ["tail", "-f", "/log"],
    ["head", "-n", "5", "/a"],
    ["cut", "-d", ":", "-f1", "/a"],
    ["wc", "-l", "--", "/a"],
  ])
    assert.equal(readsOnlyFiles(argv), true, argv.join(" "));
  for (const argv of [
    ["cat"],
    ["cat", "-"],
    ["cat", "/a", "-"],
    ["head", "-n", "5"],
    ["sort", "-k", "2"],
    ["grep", "x", "/a"],
    ["wc", "--", "-"],
  ])
    assert.equal(readsOnlyFiles(argv), false, argv.join(" "));
});
