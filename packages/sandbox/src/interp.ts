/**
 * Creation of bashkit interpreters for the sandbox.
 *
 * Two things the public wrapper of @everruns/bashkit 0.18 does not expose are needed here:
 *  - the per-execution stdout/stderr caps (`maxStdoutBytes`/`maxStderrBytes`, default 10 MiB, after which
 *    output — including the live stream — is silently dropped; a long-running container would go mute);
 *  - sharing one host-filesystem handle between interpreters (each writable RealFs mount made through the
 *    constructor prints "bashkit: warning: writable mount at ..." on the daemon's stderr).
 * The native constructor accepts the caps, so we build the wrapper object around a native instance the
 * same way `Bash.create()` does. If the native binding changes shape, we fall back to the public API.
 */
import { createRequire } from "node:module";
import * as fs from "node:fs";
import { Bash, FileSystem, type BuiltinCallback } from "@everruns/bashkit";

interface NativeModule {
  Bash?: new (options: Record<string, unknown>) => unknown;
}

let nativeModule: NativeModule | null | undefined;

function loadNative(): NativeModule | null {
  if (nativeModule === undefined) {
    try {
      const req = createRequire(import.meta.url);
      const main = req.resolve("@everruns/bashkit");
      nativeModule = createRequire(main)("./index.cjs") as NativeModule;
    } catch {
      nativeModule = null;
    }
  }
  return nativeModule;
}

/** Effectively infinite for bashkit's counters and its wall-clock timeout (we enforce our own). */
const HUGE = Number.MAX_SAFE_INTEGER;
const NO_TIMEOUT_MS = 1e15;

export interface InterpOptions {
  env: Record<string, string>;
  cwd: string;
  username?: string;
  hostname: string;
  maxMemory: number;
  maxOutputBytes: number;
  mounts: { containerPath: string; hostPath: string; readOnly: boolean }[];
  builtins: Record<string, BuiltinCallback>;
}

const fsCache = new Map<string, FileSystem>();
const FS_CACHE_MAX = 512;

/** One RealFs handle per (host dir, writable), shared by all interpreters (the warning prints once per dir). */
function realFs(hostPath: string, writable: boolean): FileSystem {
  const key = `${writable ? "rw" : "ro"}:${hostPath}`;
  let h = fsCache.get(key);
  if (h) {
    fsCache.delete(key);
    fsCache.set(key, h); // LRU order
    return h;
  }
  h = FileSystem.real(hostPath, { writable, allowedMountPaths: [hostPath] });
  fsCache.set(key, h);
  if (fsCache.size > FS_CACHE_MAX) fsCache.delete(fsCache.keys().next().value as string);
  return h;
}

/**
 * Create an interpreter with the container's filesystem mounted. Returns warnings for mounts that could
 * not be made (bashkit mounts directories only).
 */
export function createInterp(o: InterpOptions): { bash: Bash; warnings: string[] } {
  const base = {
    profile: "Interactive" as const,
    env: o.env,
    cwd: o.cwd,
    username: o.username,
    hostname: o.hostname,
    timeoutMs: NO_TIMEOUT_MS,
    maxCommands: HUGE,
    maxLoopIterations: HUGE,
    maxTotalLoopIterations: HUGE,
    maxMemory: o.maxMemory,
  };
  let bash: Bash | undefined;
  const N = loadNative()?.Bash;
  if (typeof N === "function") {
    try {
      const inst = Object.create(Bash.prototype) as Record<string, unknown>;
      inst.native = new N({ ...base, maxStdoutBytes: o.maxOutputBytes, maxStderrBytes: o.maxOutputBytes });
      inst.maxInputBytes = 64 * 1024 * 1024;
      bash = inst as unknown as Bash;
    } catch {
      bash = undefined;
    }
  }
  bash ??= new Bash(base);
  const warnings: string[] = [];
  const mounts = [...o.mounts].sort((a, b) => a.containerPath.length - b.containerPath.length);
  for (const m of mounts) {
    try {
      const st = fs.statSync(m.hostPath);
      if (!st.isDirectory()) {
        warnings.push(
          `sandbox: cannot mount ${m.hostPath} at ${m.containerPath}: the memory backend can bind-mount directories only`,
        );
        continue;
      }
      bash.mount(m.containerPath, realFs(m.hostPath, !m.readOnly), m.readOnly);
    } catch (e) {
      warnings.push(`sandbox: cannot mount ${m.hostPath} at ${m.containerPath}: ${(e as Error).message}`);
    }
  }
  for (const [name, cb] of Object.entries(o.builtins)) bash.addBuiltin(name, cb);
  return { bash, warnings };
}
