import { badRequest } from "@sockerless/api";
import type { PathStat } from "@sockerless/engine";
import type { Ctx } from "../context.js";
import type { Route } from "./index.js";

const statHeader = (s: PathStat) => Buffer.from(JSON.stringify(s)).toString("base64");

function pathParam(ctx: Ctx): string {
  const p = ctx.str("path");
  if (!p) throw badRequest("path is required");
  return p;
}

export const archiveRoutes: Route[] = [
  [
    "HEAD",
    "/containers/:id/archive",
    async (ctx) => {
      const stat = await ctx.engine.containers.statPath(ctx.param("id"), pathParam(ctx));
      const res = ctx.mustRes();
      res.writeHead(200, {
        "X-Docker-Container-Path-Stat": statHeader(stat),
        "Content-Type": "application/json",
      });
      res.end();
    },
  ],
  [
    "GET",
    "/containers/:id/archive",
    async (ctx) => {
      const { stat, tar } = await ctx.engine.containers.getArchive(ctx.param("id"), pathParam(ctx));
      const res = ctx.mustRes();
      res.writeHead(200, {
        "X-Docker-Container-Path-Stat": statHeader(stat),
        "Content-Type": "application/x-tar",
      });
      tar.pipe(res);
      await new Promise((r) => res.on("close", r));
    },
  ],
  [
    "PUT",
    "/containers/:id/archive",
    async (ctx) => {
      await ctx.engine.containers.putArchive(
        ctx.param("id"),
        pathParam(ctx),
        ctx.req,
        ctx.bool("noOverwriteDirNonDir"),
      );
      ctx.send(200);
    },
  ],
];
