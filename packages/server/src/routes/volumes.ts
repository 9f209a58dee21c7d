import { badRequest } from "@sockerless/api";
import { parseFilters } from "@sockerless/engine";
import type { Route } from "./index.js";

export const volumeRoutes: Route[] = [
  [
    "GET",
    "/volumes",
    (ctx) =>
      ctx.send(200, {
        Volumes: ctx.engine.volumes.list(parseFilters(ctx.str("filters"))).map(strip),
        Warnings: null,
      }),
  ],
  [
    "POST",
    "/volumes/create",
    async (ctx) => {
      const body = await ctx.json<{
        Name?: string;
        Driver?: string;
        Labels?: Record<string, string>;
        DriverOpts?: Record<string, string>;
      }>({});
      if (body.Name !== undefined && typeof body.Name !== "string")
        throw badRequest("json: cannot unmarshal into Go struct field CreateOptions.Name of type string");
      ctx.send(201, strip(await ctx.engine.volumes.create(body)));
    },
  ],
  [
    "POST",
    "/volumes/prune",
    async (ctx) => ctx.send(200, await ctx.engine.volumes.prune(parseFilters(ctx.str("filters")))),
  ],
  ["GET", "/volumes/:name", (ctx) => ctx.send(200, strip(ctx.engine.volumes.get(ctx.param("name"))))],
  [
    "DELETE",
    "/volumes/:name",
    async (ctx) => {
      await ctx.engine.volumes.remove(ctx.param("name"), ctx.bool("force"));
      ctx.send(204);
    },
  ],
];

/** The API's view of a volume: dockerd 20.10 shows absent labels and options as null, not {}. */
function strip<T extends { Anonymous?: boolean; Labels: object; Options: object }>(v: T) {
  const { Anonymous: _a, ...rest } = v;
  return {
    ...rest,
    Labels: Object.keys(v.Labels).length ? v.Labels : null,
    Options: Object.keys(v.Options).length ? v.Options : null,
  };
}
