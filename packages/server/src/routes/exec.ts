import { frame } from "@sockerless/api";
import type { ExecCreate } from "@sockerless/engine";
import { endStream, hijack, MUX, RAW } from "../hijack.js";
import type { Route } from "./index.js";

export const execRoutes: Route[] = [
  [
    "POST",
    "/containers/:id/exec",
    async (ctx) => {
      ctx.send(201, ctx.engine.execs.create(ctx.param("id"), await ctx.json<ExecCreate>()));
    },
  ],
  [
    "POST",
    "/exec/:id/start",
    async (ctx) => {
      const body = await ctx.json<{ Detach?: boolean; Tty?: boolean }>({});
      const { proc, tty, finished } = await ctx.engine.execs.start(ctx.param("id"), { Tty: body.Tty });
      if (body.Detach) {
        ctx.send(200);
        return;
      }
      const socket = await hijack(ctx, tty ? RAW : MUX);
      proc.onOutput((s, d) => {
        if (socket.writable) socket.write(tty ? d : frame(s === "stdout" ? 1 : 2, d));
      });
      socket.on("data", (d: Buffer) => proc.writeStdin(d));
      socket.on("end", () => proc.endStdin());
      socket.on("error", () => {});
      socket.resume(); // reading the request body may have paused it
      await finished; // the exit code is recorded before the stream closes
      endStream(socket);
    },
  ],
  [
    "POST",
    "/exec/:id/resize",
    (ctx) => {
      ctx.engine.execs.resize(ctx.param("id"), ctx.int("h") ?? 0, ctx.int("w") ?? 0);
      ctx.send(200);
    },
  ],
  ["GET", "/exec/:id/json", (ctx) => ctx.send(200, ctx.engine.execs.inspect(ctx.param("id")))],
];
