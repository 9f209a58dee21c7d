import assert from "node:assert/strict";
import { test } from "node:test";
import { invocationOutcome, isPlatformLine } from "../src/invocation.js";

const answer = (errorType: string, errorMessage: string) => ({
  $metadata: {},
  FunctionError: "Unhandled",
  Payload: Buffer.from(JSON.stringify({ errorType, errorMessage })),
});

test("the exit status Lambda reports is the container's exit code", () => {
  assert.deepEqual(invocationOutcome({ $metadata: {} }, 900), { code: 0 });
  assert.deepEqual(
    invocationOutcome(
      answer("Runtime.ExitError", "RequestId: x Error: Runtime exited with error: exit status 42"),
      900,
    ),
    { code: 42 },
  );
  const t = invocationOutcome(
    answer("Sandbox.Timedout", "RequestId: x Error: Task timed out after 5.00 seconds"),
    5,
  );
  assert.equal(t.code, 137);
  assert.match(t.error!, /outlived the Lambda function timeout \(5 s\)/);
  assert.deepEqual(invocationOutcome(answer("Runtime.Unknown", "boom"), 900), {
    code: 1,
    error: "Runtime.Unknown: boom",
  });
});

test("Lambda's own log lines are not the container's output", () => {
  for (const l of [
    "START RequestId: 1 Version: $LATEST",
    "END RequestId: 1",
    "REPORT RequestId: 1\tDuration: 1 ms",
    "RequestId: 1 Error: Runtime exited with error: exit status 1",
    "Runtime.ExitError",
    "2026-01-01T00:00:00.000Z 1 Task timed out after 1.00 seconds",
  ])
    assert.ok(isPlatformLine(l), l);
  for (const l of ["hello", "START of my program", "Runtime error in my code"])
    assert.ok(!isPlatformLine(l), l);
});
