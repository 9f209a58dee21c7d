import { badRequest } from "@sockerless/api";
import { API_VERSION, eventMatcher, parseFilters, parseTimeArg, type DockerEvent } from "@sockerless/engine";
import type { RegistryAuth } from "@sockerless/images";
import type { Ctx } from "../context.js";
import { unsupportedHandler } from "../unsupported.js";
import { builderFor } from "./build.js";
import type { Route } from "./index.js";

function ping(ctx: Ctx) {
  const res = ctx.mustRes();
  res.writeHead(200, {
    "Content-Type": "text/plain; charset=utf-8",
    "Cache-Control": "no-cache, no-store, must-revalidate",
    Pragma: "no-cache",
    "Builder-Version": "1",
    "Content-Length": ctx.req.method === "HEAD" ? "0" : "2",
  });
  res.end(ctx.req.method === "HEAD" ? undefined : "OK");
}

async function events(ctx: Ctx) {
  const filters = parseFilters(ctx.str("filters"));
  const match = eventMatcher(filters);
  const since = ctx.str("since");
  const until = ctx.str("until");
  const sinceMs = since ? parseTimeArg(since) : undefined;
  const untilMs = until ? parseTimeArg(until) : undefined;
  if (sinceMs !== undefined && untilMs !== undefined && untilMs < sinceMs)
    throw badRequest("`since` time must be before `until` time");
  const res = ctx.mustRes();
  res.writeHead(200, { "Content-Type": "application/json" });
  res.flushHeaders();
  const send = (ev: DockerEvent) => {
    const ms = ev.timeNano / 1e6;
    if (sinceMs !== undefined && ms < sinceMs) return;
    if (untilMs !== undefined && ms > untilMs) return;
    if (match(ev)) res.write(JSON.stringify(ev) + "\n");
  };
  const bus = ctx.engine.events;
  const pending: DockerEvent[] = [];
  let replaying = true;
  const unsubscribe = bus.subscribe((ev) => (replaying ? pending.push(ev) : send(ev)));
  if (sinceMs !== undefined) for (const ev of bus.history()) send(ev);
  replaying = false;
  pending.forEach(send);
  await new Promise<void>((resolve) => {
    res.on("close", resolve);
    if (untilMs !== undefined) setTimeout(resolve, Math.max(0, untilMs - Date.now()));
  });
  unsubscribe();
  res.end();
}

const unsupported = (what: string) => unsupportedHandler(`${what} is not supported by Sockerless`);

export const systemRoutes: Route[] = [
  ["GET", "/_ping", ping],
  ["HEAD", "/_ping", ping],
  ["GET", "/version", (ctx) => ctx.send(200, ctx.engine.version())],
  ["GET", "/info", async (ctx) => ctx.send(200, await ctx.engine.info())],
  ["GET", "/events", events],
  [
    "GET",
    "/system/df",
    async (ctx) => {
      const df = await ctx.engine.systemDf();
      ctx.send(200, { ...df, BuildCache: (await builderFor(ctx.engine)).diskUsage() });
    },
  ],
  ["POST", "/auth", async (ctx) => ctx.send(200, await ctx.engine.login(await ctx.json<RegistryAuth>({})))],
  ["GET", "/distribution/*", unsupported("the distribution API")],
  ...["swarm", "nodes", "services", "tasks", "secrets", "configs", "plugins"].flatMap((p) =>
    (["GET", "POST", "DELETE"] as const).flatMap((m) => [
      [m, `/${p}`, unsupported(`swarm mode (/${p})`)] as const,
      [m, `/${p}/*`, unsupported(`swarm mode (/${p})`)] as const,
    ]),
  ),
];

export { API_VERSION };
