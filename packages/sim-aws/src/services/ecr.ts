import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Simulator } from "../sim.js";
import { ecrApi } from "./ecr-api.js";
import { EcrAuth } from "./ecr-auth.js";
import { registerRegistry } from "./ecr-registry.js";
import { EcrStore } from "./ecr-store.js";

export interface Ecr {
  store: EcrStore;
  auth: EcrAuth;
}

const instances = new WeakMap<Simulator, Ecr>();

/** The ECR of a simulator, for Lambda (image lookups and pull credentials). */
export function ecrOf(sim: Simulator): Ecr | undefined {
  return instances.get(sim);
}

/** Registers the ECR API (JSON 1.1) and its registry endpoint (/v2/). */
export function register(sim: Simulator): void {
  // Blobs live next to the state with --data-dir, in a temp dir removed on shutdown otherwise.
  const root = sim.opts.dataDir
    ? path.join(sim.opts.dataDir, "ecr")
    : mkdtempSync(path.join(os.tmpdir(), "sim-aws-ecr-"));
  if (!sim.opts.dataDir) sim.onShutdown(() => rmSync(root, { recursive: true, force: true }));
  const store = new EcrStore(sim, root);
  const auth = new EcrAuth(() => store.state.data.secret);
  instances.set(sim, { store, auth });
  sim.registerJson("AmazonEC2ContainerRegistry_V20150921", "ecr", ecrApi(sim, store, auth));
  registerRegistry(sim, store, auth);
}
