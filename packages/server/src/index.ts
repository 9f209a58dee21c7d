export * from "./server.js";
export * from "./listen.js";
