import type { Simulator } from "../sim.js";
import type { FunctionRecord, FunctionStore } from "./lambda-functions.js";
import { imageSource, pullImage } from "./lambda-image.js";
import type { LambdaRuntime } from "./lambda-pool.js";

/**
 * Bring a function's image into the engine, then move it on: Pending → Active after
 * CreateFunction, LastUpdateStatus InProgress → Successful after UpdateFunctionCode (the old
 * environments are retired then, as AWS switches invocations over only when the update is done).
 */
export async function prepareImage(
  sim: Simulator,
  functions: FunctionStore,
  runtime: LambdaRuntime,
  f: FunctionRecord,
): Promise<void> {
  const creating = f.state === "Pending";
  const src = imageSource(sim, f.imageUri);
  try {
    const { imageId, digest } = await pullImage(sim, src);
    if (functions.get(f.name) !== f) return; // deleted meanwhile
    f.imageId = imageId;
    if (digest) {
      f.codeSha256 = digest.slice("sha256:".length);
      f.resolvedImageUri = `${src.repository}@${digest}`;
    }
    if (creating) {
      f.state = "Active";
      delete f.stateReason;
      delete f.stateReasonCode;
    }
    f.lastUpdateStatus = "Successful";
    delete f.lastUpdateStatusReason;
    delete f.lastUpdateStatusReasonCode;
    f.generation++;
    runtime.retire(f.name);
  } catch (e) {
    if (functions.get(f.name) !== f) return;
    const reason = `Lambda was unable to pull the image ${f.imageUri}: ${(e as Error).message}`;
    if (creating) {
      f.state = "Failed";
      f.stateReason = reason;
      f.stateReasonCode = "ImageAccessDenied";
    }
    f.lastUpdateStatus = "Failed";
    f.lastUpdateStatusReason = reason;
    f.lastUpdateStatusReasonCode = "ImageAccessDenied";
  }
  functions.changed();
}

/** After a restart: finish what was in progress, once the server listens (registry host known). */
export function resumeAfterRestart(sim: Simulator, functions: FunctionStore, runtime: LambdaRuntime): void {
  let tries = 0;
  const wait = setInterval(() => {
    if (!sim.url && ++tries < 6000) return; // up to a minute
    if (!sim.url) return void clearInterval(wait);
    clearInterval(wait);
    void runtime.removeOrphans().catch(() => {});
    for (const f of functions.list())
      if (f.state === "Pending" || f.lastUpdateStatus === "InProgress")
        void prepareImage(sim, functions, runtime, f);
  }, 10);
  wait.unref();
}
