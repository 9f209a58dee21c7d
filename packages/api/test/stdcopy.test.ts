import assert from "node:assert/strict";
import { test } from "node:test";
import { Demuxer, frame } from "../src/index.js";

test("frame writes the 8-byte header", () => {
  const f = frame(2, Buffer.from("abc"));
  assert.deepEqual([...f.subarray(0, 8)], [2, 0, 0, 0, 0, 0, 0, 3]);
  assert.equal(f.subarray(8).toString(), "abc");
});

test("demuxer reassembles frames split at any byte", () => {
  const data = Buffer.concat([frame(1, Buffer.from("hello")), frame(2, Buffer.from("world!"))]);
  for (let cut = 0; cut <= data.length; cut++) {
    const d = new Demuxer();
    const got = [...d.push(data.subarray(0, cut)), ...d.push(data.subarray(cut))];
    assert.deepEqual(
      got.map((g) => [g.stream, g.payload.toString()]),
      [
        [1, "hello"],
        [2, "world!"],
      ],
    );
  }
});
