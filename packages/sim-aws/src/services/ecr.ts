import type { Simulator } from "../sim.js";

/** Registers the ecr operations. */
export function register(_sim: Simulator): void {}
