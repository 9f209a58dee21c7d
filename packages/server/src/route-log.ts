import fs from "node:fs";
import { log } from "@sockerless/api";

/** One line of the route log: which registered route answered a request, and how. */
export interface RouteHit {
  method: string;
  /** the router pattern that matched, e.g. /containers/:id/json; absent when nothing matched */
  route?: string;
  /** the request path without version prefix and query, to tell apart operations sharing a pattern */
  path: string;
  status: number;
  /** the error message of a 501 answer */
  message?: string;
}

/**
 * Opt-in request recorder (SOCKERLESS_ROUTE_LOG): appends one JSON line per request. The API
 * coverage script reads these logs to know which test exercised which route. Writes are
 * synchronous appends of a single line, so concurrent daemons can share a file.
 */
export function routeLogger(file: string | undefined): ((hit: RouteHit) => void) | undefined {
  if (!file) return undefined;
  let warned = false;
  return (hit) => {
    try {
      fs.appendFileSync(file, JSON.stringify(hit) + "\n");
    } catch (err) {
      // the log is a test aid: a failing write is reported once and must not break the API
      if (!warned) log.warn({ err, file }, "cannot write the route log");
      warned = true;
    }
  };
}
