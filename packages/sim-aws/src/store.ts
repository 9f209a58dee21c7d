import { randomBytes } from "node:crypto";
import { promises as fs, readFileSync } from "node:fs";
import path from "node:path";

/**
 * One service's state as a JSON document under --data-dir, written atomically (temp file +
 * rename) shortly after each change. Without a data dir the state lives in memory only.
 */
export class Persistent<T> {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string | undefined,
    public data: T,
  ) {
    if (!file) return;
    try {
      this.data = JSON.parse(readFileSync(file, "utf8")) as T;
    } catch {
      // first start, or no state yet
    }
  }

  /** Mark the state changed; it is written within 50 ms. */
  changed(): void {
    if (!this.file || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing = this.writing.then(() => this.write());
    }, 50);
  }

  private async write(): Promise<void> {
    const file = this.file!;
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(this.data));
    await fs.rename(tmp, file);
  }

  /** Write now (shutdown). */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.writing = this.writing.then(() => this.write());
    }
    await this.writing;
  }
}
