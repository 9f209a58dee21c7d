import type { Simulator } from "../sim.js";
import type { Json } from "./ecs-model.js";
import { registryAuth } from "./ecs-registry-auth.js";
import type { ContainerSpec } from "./ecs-spec.js";

/** Image pulls through the engine, as the ECS agent does before creating a task's containers. */

export interface Pulled {
  digest?: string;
  id: string;
}

/** "(HTTP code 404) unexpected - manifest ... not found" -> the engine's own message. */
export function engineMessage(e: unknown): string {
  const err = e as { json?: { message?: string }; message?: string };
  const m = err?.json?.message ?? err?.message ?? String(e);
  return m.replace(/^\(HTTP code \d+\) [^-]*- /, "").trim();
}

/** Pull every image once (ECS always pulls on Fargate): digest and image id by container name. */
export async function pullAll(
  sim: Simulator,
  containers: ContainerSpec[],
  canAuth: boolean,
  signal: AbortSignal,
): Promise<Record<string, Pulled>> {
  const byImage = new Map<string, Promise<Pulled>>();
  for (const c of containers)
    if (!byImage.has(c.image)) byImage.set(c.image, pull(sim, c.image, canAuth, signal));
  // settle every pull before failing, so no rejection goes unhandled
  await Promise.allSettled(byImage.values());
  const out: Record<string, Pulled> = {};
  for (const c of containers) out[c.name] = await byImage.get(c.image)!;
  return out;
}

async function pull(sim: Simulator, image: string, canAuth: boolean, signal: AbortSignal): Promise<Pulled> {
  const authconfig = canAuth ? await registryAuth(sim, image) : undefined;
  const stream = await sim.docker.pull(image, { abortSignal: signal, authconfig });
  const progress = await new Promise<Json[]>((resolve, reject) =>
    sim.docker.modem.followProgress(stream, (err: unknown, out: Json[]) =>
      err ? reject(err) : resolve(out),
    ),
  );
  // the engine reports some failures inside a 200 progress stream
  const failed = progress.find((p) => p.error);
  if (failed) throw new Error(failed.error);
  const info = await sim.docker.getImage(image).inspect();
  return { digest: info.RepoDigests?.[0]?.split("@")[1], id: info.Id };
}
