import { badRequest, notFound } from "@sockerless/api";
import { applyCommitChanges } from "@sockerless/builder";
import { parseFilters, type ContainerConfig } from "@sockerless/engine";
import { parsePlatform, type ImageConfig, type ProgressMessage, type RegistryAuth } from "@sockerless/images";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Ctx } from "../context.js";
import type { Route } from "./index.js";
import { unsupportedHandler } from "../unsupported.js";

export function registryAuth(ctx: Ctx): RegistryAuth | undefined {
  const h = ctx.req.headers["x-registry-auth"];
  if (typeof h !== "string" || !h) return undefined;
  try {
    const json = Buffer.from(h.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8");
    const auth = JSON.parse(json) as RegistryAuth;
    return typeof auth === "object" && auth ? auth : undefined;
  } catch {
    return undefined; // dockerd ignores an unreadable auth header
  }
}

/**
 * Runs `fn` with a writer of JSON progress messages: errors before any output get a status code,
 * later ones an errorDetail message in the stream (as dockerd).
 */
export async function jsonStream(ctx: Ctx, fn: (write: (m: ProgressMessage) => void) => Promise<void>) {
  const res = ctx.mustRes();
  let started = false;
  const write = (m: ProgressMessage) => {
    if (!started) {
      res.writeHead(200, { "Content-Type": "application/json" });
      started = true;
    }
    res.write(JSON.stringify(m) + "\r\n");
  };
  try {
    await fn(write);
  } catch (e) {
    if (!started) throw e;
    const message = e instanceof Error ? e.message : String(e);
    res.write(JSON.stringify({ errorDetail: { message }, error: message }) + "\r\n");
  }
  if (!started) res.writeHead(200, { "Content-Type": "application/json" });
  res.end();
}

/**
 * On a backend whose platform keeps images (the docker backend), the platform does the operation
 * and answers; false when Sockerless does it itself.
 */
export async function platformDoes(ctx: Ctx, query: URLSearchParams = ctx.query): Promise<boolean> {
  const images = ctx.engine.backend.images;
  if (!images?.forward) return false;
  // unversioned: the platform answers in its own API version, which the client negotiated with us
  const path = new URL(ctx.req.url ?? "/", "http://x").pathname.replace(/^\/v[0-9.]+(?=\/)/, "");
  await images.forward(ctx.req, ctx.mustRes(), path, query);
  return true;
}

/** POST /commit: the container's changes as a new image; `changes` are Dockerfile lines. */
async function commit(ctx: Ctx) {
  const c = ctx.engine.containers.get(ctx.str("container") ?? "");
  const containerRef = ctx.engine.backend.images?.containerRef;
  if (containerRef) {
    const q = new URLSearchParams(ctx.query);
    q.set("container", containerRef(c.Id));
    if (await platformDoes(ctx, q)) return;
  }
  const body = await ctx.json<ContainerConfig | null>(null);
  const base = body && typeof body === "object" && !Array.isArray(body) ? body : c.Config;
  const config = applyCommitChanges(base, ctx.query.getAll("changes"));
  const res = await ctx.engine.commit(c.Id, {
    config,
    repo: ctx.str("repo") || undefined,
    tag: ctx.str("tag") || undefined,
    author: ctx.str("author") || undefined,
    comment: ctx.str("comment") || undefined,
  });
  ctx.send(201, res);
}

/** POST /images/create: pull with a JSON progress stream. */
async function createImage(ctx: Ctx) {
  const fromImage = ctx.str("fromImage");
  const fromSrc = ctx.str("fromSrc");
  if (fromSrc !== undefined) {
    if (!(await platformDoes(ctx))) await importImage(ctx, fromSrc);
    return;
  }
  if (!fromImage) throw badRequest("fromImage is required");
  await jsonStream(ctx, (write) =>
    ctx.engine
      .pull(fromImage, ctx.str("tag"), registryAuth(ctx), ctx.str("platform"), write)
      .then(() => undefined),
  );
}

/** POST /images/create?fromSrc=: docker import of the body ("-") or a URL, with `changes`. */
async function importImage(ctx: Ctx, fromSrc: string) {
  if (!fromSrc) throw badRequest("fromSrc is required");
  const config = applyCommitChanges<ImageConfig>({}, ctx.query.getAll("changes"));
  const platform = ctx.str("platform") ? parsePlatform(ctx.str("platform") as string) : undefined;
  await jsonStream(ctx, async (write) => {
    const img = await ctx.engine.importImage(fromSrc, ctx.req, {
      config,
      message: ctx.str("message"),
      repo: ctx.str("repo") || undefined,
      tag: ctx.str("tag") || undefined,
      platform,
      onProgress: write,
    });
    write({ status: img.id });
  });
}

/** POST /images/load: docker load; "Loaded image: x:y" lines as dockerd's JSON stream. */
async function loadImages(ctx: Ctx) {
  if (await platformDoes(ctx)) return;
  const quiet = ctx.bool("quiet");
  await jsonStream(ctx, async (write) => {
    const lines = await ctx.engine.load(ctx.req, quiet ? undefined : write);
    for (const l of lines) write({ stream: `${l}\n` });
  });
}

/** Streams a tar to the client (application/x-tar). */
async function sendTar(ctx: Ctx, tar: Readable) {
  const res = ctx.mustRes();
  res.writeHead(200, { "Content-Type": "application/x-tar" });
  try {
    await pipeline(tar, res);
  } catch {
    res.destroy(); // the client sees a truncated stream, as with dockerd
  }
}

/** /images/{name}/{op}: names contain slashes, so the route is a wildcard parsed here. */
function splitName(rest: string, ops: string[]): { name: string; op: string } {
  for (const op of ops) {
    if (rest.endsWith("/" + op)) return { name: rest.slice(0, -op.length - 1), op };
  }
  return { name: rest, op: "" };
}

export const imageRoutes: Route[] = [
  [
    "GET",
    "/images/json",
    async (ctx) => {
      const raw = { all: ctx.bool("all"), filters: ctx.str("filters"), digests: ctx.bool("digests") };
      ctx.send(200, await ctx.engine.listImages(parseFilters(raw.filters), raw));
    },
  ],
  ["POST", "/images/create", createImage],
  ["POST", "/commit", commit],
  ["POST", "/images/load", loadImages],
  [
    "POST",
    "/images/prune",
    async (ctx) =>
      ctx.send(200, await ctx.engine.pruneImages(parseFilters(ctx.str("filters")), ctx.str("filters"))),
  ],
  [
    "GET",
    "/images/get",
    async (ctx) => {
      const names = ctx.query.getAll("names");
      if (names.length === 0) throw badRequest("no images specified (names)");
      if (await platformDoes(ctx)) return;
      await sendTar(ctx, await ctx.engine.save(names));
    },
  ],
  [
    "GET",
    "/images/search",
    unsupportedHandler("image search is not supported: Sockerless has no access to a registry search index"),
  ],
  [
    "GET",
    "/images/*",
    async (ctx) => {
      const { name, op } = splitName(ctx.param("*"), ["json", "history", "get"]);
      if (op === "get") {
        if (!(await platformDoes(ctx))) await sendTar(ctx, await ctx.engine.save([name]));
        return;
      }
      if (op === "json") return ctx.send(200, await ctx.engine.inspectImage(name));
      if (op === "history") return ctx.send(200, await ctx.engine.imageHistory(name));
      throw notFound(`page not found`);
    },
  ],
  [
    "DELETE",
    "/images/*",
    async (ctx) => {
      ctx.send(200, await ctx.engine.removeImage(ctx.param("*"), ctx.bool("force"), ctx.bool("noprune")));
    },
  ],
  [
    "POST",
    "/images/*",
    async (ctx) => {
      const { name, op } = splitName(ctx.param("*"), ["tag", "push"]);
      if (op === "tag") {
        const repo = ctx.str("repo");
        if (!repo) throw badRequest("repository name must have at least one component");
        await ctx.engine.tagImage(name, repo, ctx.str("tag"));
        return ctx.send(201);
      }
      if (op === "push") {
        if (await platformDoes(ctx)) return;
        return jsonStream(ctx, (write) => ctx.engine.push(name, ctx.str("tag"), registryAuth(ctx), write));
      }
      throw notFound("page not found");
    },
  ],
];
