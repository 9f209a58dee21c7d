export * from "./backend.js";
export * from "./settings.js";
