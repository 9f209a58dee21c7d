export * from "./server.js";
export * from "./listen.js";
export * from "./unsupported.js";
export * from "./route-log.js";
export { routes, type Route } from "./routes/index.js";
