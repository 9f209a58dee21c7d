import type { Simulator } from "../sim.js";

/** Registers the cloudmap operations. */
export function register(_sim: Simulator): void {}
