import type { Simulator } from "../sim.js";

/** Registers the logs operations. */
export function register(_sim: Simulator): void {}
