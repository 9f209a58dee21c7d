import { appendFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { writeAtomic } from "./util.js";

const COMPACT_AFTER = 100;

/**
 * A JSON record kept as a snapshot plus an append-only journal of newer versions. Appending is
 * cheap; replacing a file by rename forces ext4 to flush it (auto_da_alloc), ~10 ms per state
 * change on slow disks. A daemon crash can leave at most a torn last line, which is ignored.
 */
export class RecordFile<T> {
  private seq = 0;
  private journaled = 0;

  constructor(private readonly dir: string) {}

  private get snapshot() {
    return path.join(this.dir, "config.json");
  }

  private get journal() {
    return path.join(this.dir, "state.jsonl");
  }

  async load(): Promise<T | undefined> {
    let best: { seq: number; rec: T } | undefined;
    const consider = (text: string) => {
      try {
        const v = JSON.parse(text) as { seq: number; rec: T };
        if (!best || v.seq > best.seq) best = v;
      } catch {
        // a torn line from a crash
      }
    };
    for (const file of [this.snapshot, this.journal]) {
      const text = await readFile(file, "utf8").catch(() => "");
      if (file === this.snapshot) consider(text);
      else for (const line of text.split("\n")) if (line) consider(line);
    }
    if (!best) return undefined;
    this.seq = best.seq;
    return best.rec;
  }

  async save(rec: T): Promise<void> {
    const line = JSON.stringify({ seq: ++this.seq, rec });
    if (this.seq === 1 || this.journaled >= COMPACT_AFTER) {
      await writeAtomic(this.snapshot, line);
      await rm(this.journal, { force: true });
      this.journaled = 0;
      return;
    }
    // Synchronous: a short append, cheaper than a hop through the thread pool.
    appendFileSync(this.journal, line + "\n");
    this.journaled++;
  }
}
