import type { Simulator } from "../sim.js";

/** Registers the efs operations. */
export function register(_sim: Simulator): void {}
