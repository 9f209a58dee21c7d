import { setTimeout as delay } from "node:timers/promises";
import { frame, badRequest } from "@sockerless/api";
import { formatNs, parseFilters, parseTimeArg, type CreateRequest } from "@sockerless/engine";
import type { Ctx } from "../context.js";
import { endStream, hijack, MUX, RAW } from "../hijack.js";
import { validateCreateBody } from "../validate.js";
import type { Route } from "./index.js";

const toNs = (v: string | undefined) => {
  if (!v || v === "0") return undefined;
  return BigInt(Math.round(parseTimeArg(v) * 1000)) * 1000n;
};

async function logs(ctx: Ctx) {
  const c = ctx.engine.containers.get(ctx.param("id"));
  const stdout = ctx.bool("stdout");
  const stderr = ctx.bool("stderr");
  if (!stdout && !stderr) throw badRequest("Bad parameters: you must choose at least one stream");
  // dockerd: a tail that is not an integer, or is negative (testcontainers sends -1), means all lines
  const tailRaw = ctx.str("tail") ?? "";
  const tailN = /^[+-]?\d+$/.test(tailRaw) ? Number(tailRaw) : -1;
  const tail = tailN >= 0 ? tailN : undefined;
  const tty = !!c.Config.Tty;
  const timestamps = ctx.bool("timestamps");
  const res = ctx.mustRes();
  res.writeHead(200, { "Content-Type": tty ? RAW : MUX });
  res.flushHeaders();
  const abort = new AbortController();
  res.on("close", () => abort.abort());
  await ctx.engine.containers.logs(
    c.Id,
    {
      stdout,
      stderr,
      tail,
      sinceNs: toNs(ctx.str("since")),
      untilNs: toNs(ctx.str("until")),
      follow: ctx.bool("follow"),
    },
    async (r) => {
      const payload = timestamps ? Buffer.concat([Buffer.from(formatNs(r.timeNs) + " "), r.data]) : r.data;
      const ok = res.write(tty ? payload : frame(r.stream, payload));
      if (!ok && !abort.signal.aborted)
        await new Promise((resolve) => res.once("drain", resolve).once("close", resolve));
    },
    abort.signal,
  );
  res.end();
}

async function attach(ctx: Ctx) {
  const id = ctx.param("id");
  const c = ctx.engine.containers.get(id);
  const tty = !!c.Config.Tty;
  const wantLogs = ctx.bool("logs");
  const stream = ctx.bool("stream");
  const socket = await hijack(ctx, tty ? RAW : MUX);
  const write = (s: "stdout" | "stderr", d: Buffer) => {
    if (!socket.writable) return;
    socket.write(tty ? d : frame(s === "stdout" ? 1 : 2, d));
  };
  if (wantLogs) {
    await ctx.engine.containers.logs(
      c.Id,
      { stdout: ctx.bool("stdout"), stderr: ctx.bool("stderr"), follow: false },
      (r) => write(r.stream === 1 ? "stdout" : "stderr", r.data),
      new AbortController().signal,
    );
  }
  if (!stream) {
    endStream(socket);
    return;
  }
  const session = ctx.engine.containers.attach(
    c.Id,
    { stdin: ctx.bool("stdin"), stdout: ctx.bool("stdout"), stderr: ctx.bool("stderr") },
    write,
  );
  socket.on("data", (d: Buffer) => session.writeStdin(d));
  socket.on("end", () => session.endStdin());
  socket.on("error", () => session.detach());
  socket.on("close", () => session.detach());
  socket.resume(); // reading the request body may have paused it
  await session.done;
  endStream(socket);
}

export const containerRoutes: Route[] = [
  [
    "GET",
    "/containers/json",
    async (ctx) => {
      const list = await ctx.engine.containers.list({
        all: ctx.bool("all"),
        limit: ctx.int("limit"),
        size: ctx.bool("size"),
        filters: parseFilters(ctx.str("filters")),
      });
      ctx.send(200, list);
    },
  ],
  [
    "POST",
    "/containers/create",
    async (ctx) => {
      const body = await ctx.json<CreateRequest>();
      validateCreateBody(body);
      const platform = ctx.str("platform");
      if (platform && !/^linux(\/|$)/.test(platform))
        throw badRequest(`"${platform}": unknown operating system or architecture: invalid argument`);
      ctx.send(201, await ctx.engine.containers.create(ctx.str("name") || undefined, body));
    },
  ],
  [
    "POST",
    "/containers/prune",
    async (ctx) => {
      ctx.send(200, await ctx.engine.containers.prune(parseFilters(ctx.str("filters"))));
    },
  ],
  [
    "GET",
    "/containers/:id/json",
    async (ctx) => {
      const id = ctx.param("id");
      ctx.send(
        200,
        ctx.bool("size")
          ? await ctx.engine.containers.inspectWithSize(id)
          : ctx.engine.containers.inspect(id),
      );
    },
  ],
  [
    "POST",
    "/containers/:id/start",
    async (ctx) => {
      if (ctx.str("detachKeys") !== undefined && !/^[a-z-,^@\\[\]_]*$/i.test(ctx.str("detachKeys")!))
        throw badRequest("Invalid detach keys");
      await ctx.engine.containers.start(ctx.param("id"));
      ctx.send(204);
    },
  ],
  [
    "POST",
    "/containers/:id/stop",
    async (ctx) => {
      await ctx.engine.containers.stop(ctx.param("id"), { signal: ctx.str("signal"), timeout: ctx.int("t") });
      ctx.send(204);
    },
  ],
  [
    "POST",
    "/containers/:id/restart",
    async (ctx) => {
      await ctx.engine.containers.restart(ctx.param("id"), {
        signal: ctx.str("signal"),
        timeout: ctx.int("t"),
      });
      ctx.send(204);
    },
  ],
  [
    "POST",
    "/containers/:id/kill",
    async (ctx) => {
      await ctx.engine.containers.kill(ctx.param("id"), ctx.str("signal"));
      ctx.send(204);
    },
  ],
  [
    "POST",
    "/containers/:id/wait",
    async (ctx) => {
      const id = ctx.param("id");
      ctx.engine.containers.get(id);
      const done = ctx.engine.containers.wait(id, ctx.str("condition"));
      // dockerd sends the headers at once so clients can start the container meanwhile
      const res = ctx.mustRes();
      const result = await Promise.race([done, Promise.resolve("pending" as const)]);
      if (result !== "pending") return ctx.send(200, result);
      res.writeHead(200, { "Content-Type": "application/json" });
      res.flushHeaders();
      res.end(JSON.stringify(await done));
    },
  ],
  [
    "DELETE",
    "/containers/:id",
    async (ctx) => {
      if (ctx.bool("link"))
        throw badRequest("Conflict, cannot remove the default link name of the container");
      await ctx.engine.containers.remove(ctx.param("id"), {
        force: ctx.bool("force"),
        volumes: ctx.bool("v"),
      });
      ctx.send(204);
    },
  ],
  [
    "POST",
    "/containers/:id/rename",
    async (ctx) => {
      await ctx.engine.containers.rename(ctx.param("id"), ctx.str("name") ?? "");
      ctx.send(204);
    },
  ],
  [
    "POST",
    "/containers/:id/update",
    async (ctx) => {
      ctx.send(200, await ctx.engine.containers.update(ctx.param("id"), await ctx.json({})));
    },
  ],
  [
    "GET",
    "/containers/:id/top",
    async (ctx) => ctx.send(200, await ctx.engine.containers.top(ctx.param("id"), ctx.str("ps_args"))),
  ],
  ["GET", "/containers/:id/logs", logs],
  ["POST", "/containers/:id/attach", attach],
  [
    "POST",
    "/containers/:id/resize",
    (ctx) => {
      ctx.engine.containers.resize(ctx.param("id"), ctx.int("h") ?? 0, ctx.int("w") ?? 0);
      ctx.send(200);
    },
  ],
  [
    "GET",
    "/containers/:id/stats",
    async (ctx) => {
      const id = ctx.param("id");
      const c = ctx.engine.containers.get(id);
      const stream = ctx.bool("stream", true) && !ctx.bool("one-shot");
      if (!stream || !c.State.Running) return ctx.send(200, await ctx.engine.containers.stats(id));
      const res = ctx.mustRes();
      res.writeHead(200, { "Content-Type": "application/json" });
      let prev: Awaited<ReturnType<typeof ctx.engine.containers.stats>> | undefined;
      const tick = async () => {
        if (!ctx.engine.containers.find(c.Id)) return false;
        const s = await ctx.engine.containers.stats(c.Id);
        if (prev) Object.assign(s, { preread: prev.read, precpu_stats: prev.cpu_stats });
        prev = s;
        res.write(JSON.stringify(s) + "\n");
        return c.State.Running;
      };
      let open = true;
      const closed = new Promise<void>((r) => res.on("close", () => r()));
      void closed.then(() => (open = false));
      try {
        while (open && (await tick())) await Promise.race([closed, delay(1000)]);
      } catch {
        // the platform stopped answering mid-stream: end the stream, as dockerd does on its errors
      }
      res.end();
    },
  ],
  [
    "GET",
    "/containers/:id/changes",
    async (ctx) => ctx.send(200, await ctx.engine.containers.changes(ctx.param("id"))),
  ],
  [
    "GET",
    "/containers/:id/export",
    async (ctx) => {
      const tar = await ctx.engine.containers.exportFs(ctx.param("id"));
      const res = ctx.mustRes();
      res.writeHead(200, { "Content-Type": "application/x-tar" });
      tar.pipe(res);
      await new Promise((r) => res.on("close", r));
    },
  ],
  [
    "POST",
    "/containers/:id/pause",
    (ctx) => ctx.engine.containers.pause(ctx.param("id")).then(() => ctx.send(204)),
  ],
  [
    "POST",
    "/containers/:id/unpause",
    (ctx) => ctx.engine.containers.unpause(ctx.param("id")).then(() => ctx.send(204)),
  ],
];
