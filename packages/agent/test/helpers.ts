import { createReadStream, statSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import Docker from "dockerode";
import tar from "tar-stream";
import { agentLayer, type AgentLayer, type AgentProcess } from "../src/index.js";

export function refDocker(): Docker {
  const h = process.env.SOCKERLESS_REF_DOCKER_HOST;
  if (!h)
    throw new Error(
      "SOCKERLESS_REF_DOCKER_HOST is not set: run the suites through `npm test` (scripts/test-env.sh)",
    );
  return new Docker({ socketPath: h.replace(/^unix:\/\//, "") });
}

export const REGISTRY = process.env.SOCKERLESS_TEST_REGISTRY ?? "127.0.0.1:5000";

/** Build `dockerfile` with the agent layer as `agent-layer.tar` in the context; tagged by layer hash. */
export async function buildWithAgent(
  docker: Docker,
  name: string,
  dockerfile: string,
  withLayer = true,
): Promise<{ image: string; layer: AgentLayer }> {
  const layer = await agentLayer();
  const image = `${name}:${layer.diffId.slice(7, 19)}`;
  try {
    await docker.getImage(image).inspect();
    return { image, layer };
  } catch {
    // not built yet
  }
  // images of earlier agent builds are ~100 MB each
  for (const old of await docker.listImages({ filters: { reference: [name] } }))
    for (const tag of old.RepoTags ?? [])
      if (tag !== image)
        await docker
          .getImage(tag)
          .remove({ force: true })
          .catch(() => {});
  const ctx = tar.pack();
  ctx.entry({ name: "Dockerfile" }, dockerfile);
  if (withLayer) {
    const w = ctx.entry({ name: "agent-layer.tar", size: statSync(layer.tarPath).size }, (err) => {
      if (err) ctx.destroy(err);
      else ctx.finalize();
    });
    createReadStream(layer.tarPath).pipe(w);
  } else ctx.finalize();
  const stream = await docker.buildImage(ctx as unknown as NodeJS.ReadableStream, { t: image, rm: true });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(
      stream,
      (err, res) => {
        const failed = (res as { error?: string }[] | undefined)?.find((r) => r.error);
        if (err || failed) reject(err ?? new Error(failed!.error));
        else resolve();
      },
      () => {},
    ),
  );
  return { image, layer };
}

/** A free TCP port on loopback (the agent listens on it with --network host). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Collects an AgentProcess's output per stream. */
export function collect(p: AgentProcess): { out: () => string; err: () => string } {
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  p.onOutput((s, d) => void (s === "stdout" ? o : e).push(d));
  return { out: () => Buffer.concat(o).toString(), err: () => Buffer.concat(e).toString() };
}

export async function until(cond: () => boolean | Promise<boolean>, ms = 20_000, what = "condition") {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A TCP proxy whose connections the test can cut, to simulate a network blip. */
export class CuttableProxy {
  private server!: Server;
  private sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly target: number) {}
  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as AddressInfo).port;
  }
  get connections(): number {
    return this.sockets.size;
  }
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }
  stop(): void {
    this.cut();
    this.server.close();
  }
}
