import { badRequest, notImplemented } from "@sockerless/api";
import { Builder, type BuildMessage, type BuildOptions } from "@sockerless/builder";
import type { Engine } from "@sockerless/engine";
import type { RegistryAuth } from "@sockerless/images";
import type { Ctx } from "../context.js";
import { unsupportedHandler } from "../unsupported.js";
import { platformDoes } from "./images.js";
import type { Route } from "./index.js";

const BUILDKIT_MESSAGE =
  "BuildKit is not supported by Sockerless: build with the legacy builder by setting DOCKER_BUILDKIT=0 (docker build) or COMPOSE_DOCKER_CLI_BUILD=0 (compose)";

const builders = new WeakMap<Engine, Promise<Builder>>();

/** The builder of an engine (its layer cache lives in the data root), made on first use. */
export function builderFor(engine: Engine): Promise<Builder> {
  let b = builders.get(engine);
  if (!b) {
    const builder = new Builder(engine);
    b = builder.init().then(() => builder);
    builders.set(engine, b);
  }
  return b;
}

function jsonParam<T>(ctx: Ctx, name: string, dflt: T): T {
  const raw = ctx.str(name);
  if (!raw) return dflt;
  try {
    const v = JSON.parse(raw) as unknown;
    return (v && typeof v === "object" ? v : dflt) as T;
  } catch {
    throw badRequest(`invalid JSON in ${name}: ${raw}`);
  }
}

function registryConfig(ctx: Ctx): Record<string, RegistryAuth> {
  const h = ctx.req.headers["x-registry-config"];
  if (typeof h !== "string" || !h) return {};
  try {
    const json = Buffer.from(h.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8");
    const v = JSON.parse(json) as unknown;
    return v && typeof v === "object" ? (v as Record<string, RegistryAuth>) : {};
  } catch {
    return {};
  }
}

/** POST /build: the legacy builder with dockerd's JSON progress stream. */
async function build(ctx: Ctx) {
  if (ctx.str("version") === "2") throw badRequest(BUILDKIT_MESSAGE);
  if (await platformDoes(ctx)) return;
  // every step is a commit: refuse before running anything on a backend that cannot commit
  if (!ctx.engine.backend.diffTar)
    throw notImplemented(`image build is not supported by the ${ctx.engine.backend.name} backend`);
  const remote = ctx.str("remote");
  if (remote) {
    throw notImplemented(
      `remote build contexts (remote=${remote}) are not supported by Sockerless: send the context as a tar`,
    );
  }
  if (ctx.bool("squash")) throw badRequest("squash is only supported with experimental mode");
  const opts: BuildOptions = {
    dockerfile: ctx.str("dockerfile") || "Dockerfile",
    tags: ctx.query.getAll("t").filter(Boolean),
    buildArgs: jsonParam(ctx, "buildargs", {}),
    labels: jsonParam(ctx, "labels", {}),
    target: ctx.str("target") || undefined,
    noCache: ctx.bool("nocache"),
    rm: ctx.bool("rm", true),
    forceRm: ctx.bool("forcerm"),
    pull: ctx.bool("pull"),
    quiet: ctx.bool("q"),
    platform: ctx.str("platform") || undefined,
    networkMode: ctx.str("networkmode") || undefined,
    auth: registryConfig(ctx),
  };
  const builder = await builderFor(ctx.engine);
  const res = ctx.mustRes();
  const abort = new AbortController();
  // watch the socket: the response reports "close" as soon as the fully read request is destroyed,
  // and a client that leaves while a step prints nothing shows only as the end of its input (FIN)
  const socket = ctx.req.socket;
  const onGone = () => {
    if (!res.writableFinished) abort.abort(new Error("build cancelled: the client went away"));
  };
  socket.on("close", onGone);
  socket.on("end", onGone);
  opts.signal = abort.signal;
  let started = false;
  const emit = (m: BuildMessage) => {
    if (!started) {
      res.writeHead(200, { "Content-Type": "application/json" });
      started = true;
    }
    res.write(JSON.stringify(m) + "\r\n");
  };
  try {
    await builder.build(ctx.req, opts, emit);
  } catch (e) {
    socket.off("close", onGone).off("end", onGone);
    if (!started) throw e;
    const message = e instanceof Error ? e.message : String(e);
    const code = (e as { code?: unknown }).code;
    emit({ errorDetail: { ...(typeof code === "number" ? { code } : {}), message }, error: message });
  }
  socket.off("close", onGone).off("end", onGone);
  res.end();
}

export const buildRoutes: Route[] = [
  ["POST", "/build", build],
  [
    "POST",
    "/build/prune",
    async (ctx) => {
      const builder = await builderFor(ctx.engine);
      ctx.send(200, await builder.prune(ctx.bool("all")));
    },
  ],
  ["POST", "/session", unsupportedHandler(BUILDKIT_MESSAGE)],
];
