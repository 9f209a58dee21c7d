import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { LogFile, selectRecords } from "../src/index.js";

test("log file splits lines, keeps streams apart and survives reopening", async () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), "logs-")), "log.bin");
  const log = new LogFile(file);
  log.write(1, Buffer.from("a\nb"));
  log.write(2, Buffer.from("err\n"));
  log.write(1, Buffer.from("c\n"));
  log.close();
  const again = await new LogFile(file).readAll();
  assert.deepEqual(
    again.map((r) => [r.stream, r.data.toString()]),
    [
      [1, "a\n"],
      [2, "err\n"],
      [1, "bc\n"],
    ],
  );
  assert.deepEqual(
    selectRecords(again, { stdout: true, stderr: false, tail: 1 }).map((r) => r.data.toString()),
    ["bc\n"],
  );
  const t = again[1].timeNs;
  assert.deepEqual(
    selectRecords(again, { stdout: true, stderr: true, sinceNs: t }).map((r) => r.data.toString()),
    ["bc\n"],
  );
});
