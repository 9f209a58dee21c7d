import type { Handler } from "../context.js";
import { archiveRoutes } from "./archive.js";
import { buildRoutes } from "./build.js";
import { containerRoutes } from "./containers.js";
import { execRoutes } from "./exec.js";
import { imageRoutes } from "./images.js";
import { networkRoutes } from "./networks.js";
import { systemRoutes } from "./system.js";
import { volumeRoutes } from "./volumes.js";

export type Route = readonly ["GET" | "HEAD" | "POST" | "PUT" | "DELETE", string, Handler];

export const routes: Route[] = [
  ...systemRoutes,
  ...containerRoutes,
  ...archiveRoutes,
  ...execRoutes,
  ...imageRoutes,
  ...buildRoutes,
  ...volumeRoutes,
  ...networkRoutes,
];
