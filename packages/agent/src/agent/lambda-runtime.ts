/**
 * The agent as a Lambda runtime client. In a Lambda image function the entrypoint IS the runtime:
 * Lambda waits for it to take the invocation (`GET …/invocation/next`) and to answer it, and ends
 * an init phase that never asks after ~10 s. So when AWS_LAMBDA_RUNTIME_API is set the agent
 * takes the invocation at once (asking late would count against the init limit; the event names
 * the run of the container the daemon started, which the agent presents when it dials) and answers it when it is about to
 * exit: `…/response` `{"exitCode":0}`, or `…/error` Runtime.ExitError "exit status N" (the
 * wording Lambda uses for a runtime that exits, which the daemon parses).
 *
 * It answers at exit, not when the main process ends: once answered, Lambda may freeze the
 * environment, and the daemon still has to read the exit code and the last output over the
 * agent's link. Failures are logged and never stop the container.
 */
import http from "node:http";

const API_VERSION = "2018-06-01";
/** how long `report` waits for an invocation still in flight, and for Lambda to accept a post */
const REPORT_WAIT_MS = 5000;

export interface LambdaInvocation {
  /** The invocation's request id, once taken (undefined when it could not be). */
  readonly requestId: Promise<string | undefined>;
  /** The run the daemon named in the event (`{"sockerlessRun": …}`), if any. */
  readonly run: Promise<string | undefined>;
  /** Answer the invocation with the main process's exit (`reason`: why it could not start). */
  report(code: number, reason?: string): Promise<void>;
}

/** The invocation this environment runs, when the agent runs in Lambda (else undefined). */
export function takeLambdaInvocation(
  log: (msg: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): LambdaInvocation | undefined {
  const api = env.AWS_LAMBDA_RUNTIME_API;
  if (!api) return undefined;
  const base = `http://${api}/${API_VERSION}/runtime/invocation`;
  const taken = nextInvocation(`${base}/next`).catch((e: Error) => {
    log(`cannot take the Lambda invocation from the Runtime API (${api}): ${e.message}`);
    return undefined;
  });
  const requestId = taken.then((t) => t?.requestId);
  const run = taken.then((t) => runOf(t?.event));
  let reported: Promise<void> | undefined;
  const report = async (code: number, reason?: string) => {
    const id = await Promise.race([requestId, delay(REPORT_WAIT_MS, undefined)]);
    if (!id) {
      log(`exit code ${code} not reported to Lambda: no invocation was taken`);
      return;
    }
    const url = `${base}/${encodeURIComponent(id)}`;
    try {
      if (code === 0) await post(`${url}/response`, { exitCode: 0 });
      else {
        const errorMessage = `exit status ${code}${reason ? `: ${reason}` : ""}`;
        // Lambda logs nothing for a posted error: this line keeps the exit code in the function's
        // log (the daemon reads it there after a restart), as Lambda's own runtimes log theirs
        log(`RequestId: ${id} Error: Runtime.ExitError: ${errorMessage}`);
        await post(
          `${url}/error`,
          { errorType: "Runtime.ExitError", errorMessage },
          {
            "Lambda-Runtime-Function-Error-Type": "Runtime.ExitError",
          },
        );
      }
    } catch (e) {
      log(`cannot report exit code ${code} to Lambda (${api}): ${(e as Error).message}`);
    }
  };
  return {
    requestId,
    run,
    report: (code, reason) => (reported ??= report(code, reason)),
  };
}

function runOf(event: Buffer | undefined): string | undefined {
  try {
    const run = (JSON.parse(event?.toString("utf8") ?? "") as { sockerlessRun?: unknown }).sockerlessRun;
    return typeof run === "string" ? run : undefined;
  } catch {
    return undefined; // not JSON, or not from a daemon
  }
}

/** The long poll for the next event: its request id and payload. */
function nextInvocation(url: string): Promise<{ requestId: string; event: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const body: Buffer[] = [];
      res.on("data", (c: Buffer) => body.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const id = res.headers["lambda-runtime-aws-request-id"];
        if (res.statusCode !== 200)
          reject(new Error(`GET ${url}: ${res.statusCode} ${Buffer.concat(body).toString().trim()}`));
        else if (typeof id !== "string" || !id)
          reject(new Error(`GET ${url}: no Lambda-Runtime-Aws-Request-Id header`));
        else resolve({ requestId: id, event: Buffer.concat(body) });
      });
    });
    req.on("error", reject);
  });
}

function post(url: string, body: object, headers: Record<string, string> = {}): Promise<void> {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: "POST",
        headers: { "Content-Type": "application/json", "Content-Length": data.length, ...headers },
        timeout: REPORT_WAIT_MS,
      },
      (res) => {
        const answer: Buffer[] = [];
        res.on("data", (c: Buffer) => answer.push(c));
        res.on("error", reject);
        res.on("end", () => {
          if (res.statusCode === 202) resolve();
          else reject(new Error(`POST ${url}: ${res.statusCode} ${Buffer.concat(answer).toString().trim()}`));
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`POST ${url}: no answer within ${REPORT_WAIT_MS} ms`)));
    req.on("error", reject);
    req.end(data);
  });
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((r) => setTimeout(r, ms, value).unref());
}
