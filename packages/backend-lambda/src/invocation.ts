import {
  type CloudWatchLogsClient,
  DescribeLogStreamsCommand,
  GetLogEventsCommand,
  type OutputLogEvent,
} from "@aws-sdk/client-cloudwatch-logs";
import type { InvokeCommandOutput } from "@aws-sdk/client-lambda";
import { isAgentLine } from "@sockerless/cloud-aws";

/** Lines Lambda (and the agent) write to a function's log group: not the container's output. */
const PLATFORM = [
  /^(START|END|REPORT) RequestId: /,
  /^INIT_(START|REPORT)/,
  /^RequestId: \S+ Error: /,
  /^Runtime\.\w+$/,
  /^\S+ \S+ Task timed out after /,
];
export const isPlatformLine = (m: string) => isAgentLine(m) || PLATFORM.some((re) => re.test(m));

export interface Outcome {
  code: number;
  error?: string;
}

const timedOut = (timeoutSec: number): Outcome => ({
  code: 137,
  error: `the container outlived the Lambda function timeout (${timeoutSec} s) and was killed`,
});

/**
 * The container's exit from the invocation's answer. The agent is the function's runtime: it
 * answers `{"exitCode":0}`, or the error Runtime.ExitError "exit status N[: why it did not
 * start]"; Lambda answers the same error type ("RequestId: … Error: Runtime exited with error:
 * exit status N") for a runtime that exits without answering, and Sandbox.Timedout.
 */
export function invocationOutcome(out: InvokeCommandOutput, timeoutSec: number): Outcome {
  const text = Buffer.from(out.Payload ?? []).toString("utf8");
  let p: { errorType?: string; errorMessage?: string; exitCode?: unknown } = {};
  try {
    p = JSON.parse(text) ?? {};
  } catch {
    // not JSON: reported below as it is
  }
  if (!out.FunctionError) {
    if (Number.isInteger(p.exitCode)) return { code: p.exitCode as number };
    return { code: 1, error: `the Lambda invocation answered without an exit code: ${text.slice(0, 200)}` };
  }
  const status = EXIT_STATUS.exec(p.errorMessage ?? "");
  if (p.errorType === "Runtime.ExitError" && status)
    return { code: Number(status[1]), ...(status[2] ? { error: status[2] } : {}) };
  if (p.errorType === "Sandbox.Timedout") return timedOut(timeoutSec);
  return { code: 1, error: `${p.errorType ?? out.FunctionError}: ${p.errorMessage ?? ""}`.trim() };
}

/** "exit status N", and after ": " the reason a main process could not start (the agent's) */
const EXIT_STATUS = /exit status (\d+)(?:: (.+))?/;

export interface InvocationState {
  running: boolean;
  startedAt?: Date;
  finishedAt?: Date;
  exitCode?: number;
  error?: string;
}

/** The last invocation as its log tells it (START … REPORT), or undefined when it never ran. */
export async function lastInvocation(
  logs: CloudWatchLogsClient,
  group: string,
  timeoutSec: number,
): Promise<InvocationState | undefined> {
  let streams;
  try {
    streams = await logs.send(
      new DescribeLogStreamsCommand({
        logGroupName: group,
        orderBy: "LastEventTime",
        descending: true,
        limit: 1,
      }),
    );
  } catch (e) {
    if ((e as Error).name === "ResourceNotFoundException") return undefined;
    throw e;
  }
  const stream = streams.logStreams?.[0]?.logStreamName;
  if (!stream) return undefined;
  const events: OutputLogEvent[] = [];
  let token: string | undefined;
  for (;;) {
    const page = await logs.send(
      new GetLogEventsCommand({
        logGroupName: group,
        logStreamName: stream,
        startFromHead: true,
        nextToken: token,
      }),
    );
    events.push(...(page.events ?? []));
    if (!page.events?.length || page.nextForwardToken === token) break;
    token = page.nextForwardToken;
  }
  // One execution environment per start: its stream is the last run. START is only written once the
  // runtime took the event, so the run's end (REPORT) is what marks it; output after it = running.
  if (!events.length) return undefined;
  let r = -1;
  events.forEach((e, i) => {
    if ((e.message ?? "").startsWith("REPORT RequestId: ")) r = i;
  });
  const startedAt = new Date(events[0].timestamp ?? 0);
  if (r < 0 || events.slice(r + 1).some((e) => !isPlatformLine(e.message ?? "")))
    return { running: true, startedAt };
  const id = /^REPORT RequestId: (\S+)/.exec(events[r].message!)![1];
  const mine = events.filter((e) => (e.message ?? "").includes(id));
  const finishedAt = new Date(events[r].timestamp ?? 0);
  // the exit status as the agent logs it when it posts Runtime.ExitError (Lambda logs nothing for a
  // posted error), or as Lambda logs a runtime that exited without answering
  const status = mine
    .filter((e) => isAgentLine(e.message!) || e.message!.startsWith("RequestId: "))
    .map((e) => EXIT_STATUS.exec(e.message!))
    .find(Boolean);
  if (status)
    return {
      running: false,
      startedAt,
      finishedAt,
      exitCode: Number(status[1]),
      ...(status[2] ? { error: status[2] } : {}),
    };
  if (mine.some((e) => /Task timed out after/.test(e.message!)))
    return { running: false, startedAt, finishedAt, ...timedOut(timeoutSec), exitCode: 137 };
  return { running: false, startedAt, finishedAt, exitCode: 0 };
}
