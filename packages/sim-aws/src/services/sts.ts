import type { Simulator } from "../sim.js";

/** Registers the sts operations. */
export function register(_sim: Simulator): void {}
