import { readFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { normalizeSignal } from "./proc.js";

/** Signals the kernel delivers to a namespace's PID 1 from outside whether it handles them or not. */
const ALWAYS = new Set([osConstants.signals.SIGKILL, osConstants.signals.SIGSTOP]);

/**
 * Under dockerd the container's main process is PID 1 of its namespace, and the kernel drops
 * signals PID 1 has no handler for (a `sleep` ignores `docker stop`'s SIGTERM and is killed after
 * the timeout). Under the agent the main process is not PID 1, so the agent applies that rule
 * itself: true when `sig` would reach the process as PID 1, from its caught-signals mask.
 */
export function reachesAsPid1(pid: number, sig: string, procRoot = "/proc"): boolean {
  const n = signalNumber(sig);
  if (ALWAYS.has(n)) return true;
  let status: string;
  try {
    status = readFileSync(`${procRoot}/${pid}/status`, "utf8");
  } catch {
    return true; // gone (or no /proc): let kill report it
  }
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status);
  if (!m) return true;
  return (BigInt(`0x${m[1]}`) >> BigInt(n - 1)) & 1n ? true : false;
}

function signalNumber(sig: string): number {
  const s = normalizeSignal(sig);
  return typeof s === "number" ? s : osConstants.signals[s];
}
