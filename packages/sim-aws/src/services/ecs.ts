import type { Simulator } from "../sim.js";

/** Registers the ecs operations. */
export function register(_sim: Simulator): void {}
