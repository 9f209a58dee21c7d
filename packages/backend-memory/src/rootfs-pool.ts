import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { copyTree } from "@sockerless/images";

const PER_IMAGE = 2;
const MAX_IMAGES = 4;

/**
 * Ready-made copies of recently used images' filesystems, so creating a container is a rename
 * instead of a copy. Refilled in the background after each use.
 */
export class RootfsPool {
  private readonly ready = new Map<string, string[]>(); // image rootfs dir -> spare copies
  private readonly filling = new Set<string>();
  private worker: Worker | undefined;
  private readonly pending = new Map<number, (error?: string) => void>();
  private nextId = 0;

  constructor(private readonly dir: string) {}

  /** Copy in a worker thread so refills never stall requests on the main thread. */
  private copyInBackground(src: string, dst: string): Promise<void> {
    if (!this.worker) {
      this.worker = new Worker(new URL("./copy-worker.js", import.meta.url));
      this.worker.unref();
      this.worker.on("message", (m: { id: number; error?: string }) => {
        this.pending.get(m.id)?.(m.error);
        this.pending.delete(m.id);
      });
      this.worker.on("error", () => {
        for (const done of this.pending.values()) done("copy worker failed");
        this.pending.clear();
        this.worker = undefined;
      });
    }
    const id = this.nextId++;
    this.worker.postMessage({ id, src, dst });
    return new Promise((resolve, reject) =>
      this.pending.set(id, (err) => (err ? reject(new Error(err)) : resolve())),
    );
  }

  async init(): Promise<void> {
    await fs.rm(this.dir, { recursive: true, force: true }); // spares from a previous run
    await fs.mkdir(this.dir, { recursive: true });
  }

  /** Put a private copy of `image` at `dest`. */
  async take(image: string, dest: string): Promise<void> {
    const spare = this.ready.get(image)?.pop();
    if (spare) await fs.rename(spare, dest);
    else copyTree(image, dest);
    this.touch(image);
    void this.refill(image);
  }

  private touch(image: string) {
    const spares = this.ready.get(image) ?? [];
    this.ready.delete(image);
    this.ready.set(image, spares); // most recently used last
    while (this.ready.size > MAX_IMAGES) {
      const [oldest, dirs] = this.ready.entries().next().value as [string, string[]];
      this.ready.delete(oldest);
      for (const d of dirs) void fs.rm(d, { recursive: true, force: true });
    }
  }

  private async refill(image: string): Promise<void> {
    if (this.filling.has(image)) return;
    this.filling.add(image);
    try {
      for (
        let spares = this.ready.get(image);
        spares && spares.length < PER_IMAGE;
        spares = this.ready.get(image)
      ) {
        const d = path.join(this.dir, randomBytes(8).toString("hex"));
        try {
          await this.copyInBackground(image, d);
        } catch {
          await fs.rm(d, { recursive: true, force: true });
          return; // the image went away; the next take copies directly
        }
        spares.push(d);
      }
    } finally {
      this.filling.delete(image);
    }
  }
}
