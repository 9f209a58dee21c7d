import { promises as fs } from "node:fs";
import { AGENT_ROOT } from "../paths.js";
import type { UsageWire } from "../protocol.js";

/**
 * The workload's resource usage as `docker stats` reports a container's: from the cgroup the
 * workload runs in (v2, else v1), or from /proc where no cgroup is visible (a Lambda sandbox).
 * CPU and memory are the whole workload's, the agent included (it counts against the task's
 * limits too); the PID count leaves the agent's threads (and the layer's tini) out, so it is the
 * user's processes.
 */
export async function readUsage(cgroupRoot = "/sys/fs/cgroup", procRoot = "/proc"): Promise<UsageWire> {
  const own = await ownThreads(procRoot);
  let scanned: ReturnType<typeof fromProc> | undefined;
  const procs = () => (scanned ??= fromProc(procRoot)); // only where no cgroup file answers
  const cpuNanos =
    (await cpuStatV2(`${cgroupRoot}/cpu.stat`)) ??
    (await readNumber(`${cgroupRoot}/cpuacct/cpuacct.usage`)) ??
    (await procs())?.cpuNanos ??
    0;
  const memoryBytes =
    (await readNumber(`${cgroupRoot}/memory.current`)) ??
    (await readNumber(`${cgroupRoot}/memory/memory.usage_in_bytes`)) ??
    (await procs())?.memoryBytes ??
    0;
  const tasks =
    (await readNumber(`${cgroupRoot}/pids.current`)) ??
    (await readNumber(`${cgroupRoot}/pids/pids.current`)) ??
    (await procs())?.threads ??
    0;
  return { cpuNanos, memoryBytes, pids: Math.max(0, tasks - own) };
}

async function readNumber(file: string): Promise<number | undefined> {
  try {
    const n = Number((await fs.readFile(file, "utf8")).trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

async function cpuStatV2(file: string): Promise<number | undefined> {
  try {
    const m = /^usage_usec (\d+)$/m.exec(await fs.readFile(file, "utf8"));
    return m ? Number(m[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

async function threadsOf(procRoot: string, pid: string): Promise<number> {
  try {
    const m = /^Threads:\s+(\d+)$/m.exec(await fs.readFile(`${procRoot}/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // the process ended meanwhile
  }
}

/** The agent's threads, and its parent's when that is the layer's tini (the workload's PID 1). */
async function ownThreads(procRoot: string): Promise<number> {
  let own = await threadsOf(procRoot, String(process.pid));
  try {
    const exe = await fs.readlink(`${procRoot}/${process.ppid}/exe`);
    if (exe === `${AGENT_ROOT}/bin/tini`) own += await threadsOf(procRoot, String(process.ppid));
  } catch {
    // no parent we can see
  }
  return own;
}

/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;
const PAGE = 4096;

/** Sums over every process this agent can see: CPU time, resident memory, threads. */
async function fromProc(
  procRoot: string,
): Promise<{ cpuNanos: number; memoryBytes: number; threads: number } | undefined> {
  let pids: string[];
  try {
    pids = (await fs.readdir(procRoot)).filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  let ticks = 0;
  let pages = 0;
  let threads = 0;
  for (const pid of pids) {
    try {
      const stat = await fs.readFile(`${procRoot}/${pid}/stat`, "utf8");
      // fields after the command name, which is in parentheses and may hold spaces
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
      threads += Number(f[17]);
      pages += Number((await fs.readFile(`${procRoot}/${pid}/statm`, "utf8")).split(" ")[1]);
    } catch {
      // the process ended while we read it
    }
  }
  return { cpuNanos: (ticks * 1e9) / USER_HZ, memoryBytes: pages * PAGE, threads };
}
