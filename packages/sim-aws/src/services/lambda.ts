import type { Simulator } from "../sim.js";

/** Registers the lambda operations. */
export function register(_sim: Simulator): void {}
