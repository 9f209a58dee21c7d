export * from "./errors.js";
export * from "./stdcopy.js";
export * from "./log.js";
export * from "./archive.js";
