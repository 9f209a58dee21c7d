import type { Duplex } from "node:stream";
import type { Ctx } from "./context.js";

export const RAW = "application/vnd.docker.raw-stream";
export const MUX = "application/vnd.docker.multiplexed-stream";

/**
 * Take over the connection for a bidirectional stream (attach, exec start). With `Upgrade: tcp`
 * we answer 101; the legacy form gets a 200 with no length and the raw socket after it.
 */
export async function hijack(ctx: Ctx, contentType: string): Promise<Duplex> {
  await ctx.discardBody();
  if (ctx.upgrade) {
    const { socket, head } = ctx.upgrade;
    socket.write(
      `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
    );
    if (head.length) socket.unshift(head);
    return socket;
  }
  const res = ctx.mustRes();
  const socket = res.socket!;
  // Legacy hijack: detach Node's HTTP parser so later bytes (stdin) reach us instead of being
  // parsed as another request, as Node itself does for upgrades.
  const parser = (socket as unknown as { parser?: { unconsume?: () => void; finish?: () => void } }).parser;
  socket.removeAllListeners("data");
  socket.removeAllListeners("end");
  parser?.unconsume?.();
  parser?.finish?.();
  res.detachSocket(socket);
  socket.setTimeout(0);
  socket.write(`HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\n\r\n`);
  return socket;
}

/** Close our write side but keep reading (half-close), then destroy once both ends are done. */
export function endStream(socket: Duplex): void {
  if (!socket.writableEnded) socket.end();
}
