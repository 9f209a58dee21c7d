import type { Simulator } from "../sim.js";

/** Registers the ec2 operations. */
export function register(_sim: Simulator): void {}
