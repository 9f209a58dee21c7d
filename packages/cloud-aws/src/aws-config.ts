import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  ResourceAlreadyExistsException,
} from "@aws-sdk/client-cloudwatch-logs";

/** Settings every AWS backend shares. The endpoint comes from AWS_ENDPOINT_URL unless given. */
export interface AwsSettings {
  region: string;
  endpoint?: string;
  /** attempts per call: throttling and 5xx answers are retried with the SDK's exponential backoff */
  maxAttempts: number;
}

/** Config for any @aws-sdk/client-* constructor. */
export function awsClientConfig(s: AwsSettings) {
  return {
    region: s.region,
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    maxAttempts: s.maxAttempts,
    retryMode: "standard" as const,
  };
}

export async function ensureLogGroup(client: CloudWatchLogsClient, group: string): Promise<void> {
  try {
    await client.send(new CreateLogGroupCommand({ logGroupName: group }));
  } catch (e) {
    if (!(e instanceof ResourceAlreadyExistsException)) throw e;
  }
}

/** Poll until `check` returns a value (or throws); `what` names the wait in the timeout error. */
export async function pollUntil<T>(
  check: () => Promise<T | undefined>,
  o: { intervalMs: number; timeoutMs: number; what: string },
): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${o.timeoutMs / 1000} s waiting for ${o.what}`);
    await new Promise((r) => setTimeout(r, o.intervalMs));
  }
}
