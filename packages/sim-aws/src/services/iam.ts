import type { Simulator } from "../sim.js";

/** Registers the iam operations. */
export function register(_sim: Simulator): void {}
