// Spawn a real client program (docker-compose, python3 with docker-py) against a daemon.
import { spawn } from "node:child_process";
import type { Result } from "./helpers.js";

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  input?: string | Buffer;
  timeoutMs?: number;
}

export function runClient(cmd: string, args: string[], host: string, opts: RunOptions = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, DOCKER_HOST: host, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      p.kill("SIGKILL");
      reject(new Error(`${cmd} ${args.join(" ")} timed out; stdout=${stdout} stderr=${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    p.on("error", (e) => {
      clearTimeout(timer);
      reject(
        new Error(`${cmd} could not be started (is it installed? scripts/install-deps.sh): ${e.message}`),
      );
    });
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    // a client may exit without reading its stdin: that is its answer, not a failure here
    p.stdin.on("error", () => {});
    if (opts.input !== undefined) p.stdin.end(opts.input);
    else p.stdin.end();
  });
}

/** runClient, and fail with its output unless it exits 0. */
export async function runClientOk(cmd: string, args: string[], host: string, opts: RunOptions = {}) {
  const r = await runClient(cmd, args, host, opts);
  if (r.code !== 0)
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}
