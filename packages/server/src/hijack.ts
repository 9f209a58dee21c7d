import type { Duplex } from "node:stream";
import type { Ctx } from "./context.js";

export const RAW = "application/vnd.docker.raw-stream";
export const MUX = "application/vnd.docker.multiplexed-stream";

/**
 * Take over the connection for a bidirectional stream (attach, exec start). With `Upgrade: tcp`
 * we answer 101; the legacy form gets a 200 with no length and the raw socket after it.
 */
export function hijack(ctx: Ctx, contentType: string): Duplex {
  if (ctx.upgrade) {
    const { socket, head } = ctx.upgrade;
    socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    if (head.length) socket.unshift(head);
    return socket;
  }
  const res = ctx.mustRes();
  const socket = res.socket!;
  // Legacy hijack: write the head ourselves and keep Node's response from writing anything more.
  socket.write(`HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\n\r\n`);
  res.detachSocket(socket);
  ctx.req.removeAllListeners("data");
  socket.setTimeout(0);
  return socket;
}

/** Close our write side but keep reading (half-close), then destroy once both ends are done. */
export function endStream(socket: Duplex): void {
  if (!socket.writableEnded) socket.end();
}
