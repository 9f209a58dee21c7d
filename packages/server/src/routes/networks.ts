import { badRequest } from "@sockerless/api";
import { parseFilters, type EndpointSettings, type Engine, type Network } from "@sockerless/engine";
import type { Route } from "./index.js";

function render(engine: Engine, n: Network, verbose = true) {
  const containers: Record<string, unknown> = {};
  if (verbose) {
    for (const c of engine.containers.records.values()) {
      const ep = c.Networks[n.Name];
      if (!ep || ep.NetworkID !== n.Id) continue;
      containers[c.Id] = {
        Name: c.Name.slice(1),
        EndpointID: ep.EndpointID ?? "",
        MacAddress: ep.MacAddress ?? "",
        IPv4Address: ep.IPAddress ? `${ep.IPAddress}/${ep.IPPrefixLen}` : "",
        IPv6Address: "",
      };
    }
  }
  return { ...n, Containers: containers };
}

export const networkRoutes: Route[] = [
  [
    "GET",
    "/networks",
    (ctx) =>
      ctx.send(
        200,
        ctx.engine.networks.list(parseFilters(ctx.str("filters"))).map((n) => render(ctx.engine, n, false)),
      ),
  ],
  [
    "POST",
    "/networks/create",
    async (ctx) => {
      const body = await ctx.json<Parameters<Engine["networks"]["create"]>[0]>();
      if (typeof body !== "object" || body === null) throw badRequest("invalid network config");
      if (body.Name !== undefined && typeof body.Name !== "string")
        throw badRequest("json: cannot unmarshal into Go struct field CreateRequest.Name of type string");
      const n = await ctx.engine.networks.create(body);
      ctx.send(201, { Id: n.Id, Warning: "" });
    },
  ],
  [
    "POST",
    "/networks/prune",
    async (ctx) => ctx.send(200, await ctx.engine.networks.prune(parseFilters(ctx.str("filters")))),
  ],
  [
    "GET",
    "/networks/:id",
    (ctx) => ctx.send(200, render(ctx.engine, ctx.engine.networks.get(ctx.param("id")))),
  ],
  [
    "DELETE",
    "/networks/:id",
    async (ctx) => {
      await ctx.engine.networks.remove(ctx.param("id"));
      ctx.send(204);
    },
  ],
  [
    "POST",
    "/networks/:id/connect",
    async (ctx) => {
      const body = await ctx.json<{ Container?: string; EndpointConfig?: EndpointSettings }>();
      if (!body.Container) throw badRequest("no container specified");
      await ctx.engine.containers.connect(body.Container, ctx.param("id"), body.EndpointConfig ?? {});
      ctx.send(200);
    },
  ],
  [
    "POST",
    "/networks/:id/disconnect",
    async (ctx) => {
      const body = await ctx.json<{ Container?: string; Force?: boolean }>();
      if (!body.Container) throw badRequest("no container specified");
      await ctx.engine.containers.disconnect(body.Container, ctx.param("id"), !!body.Force);
      ctx.send(200);
    },
  ],
];
