import path from "node:path";
import type { Readable } from "node:stream";
import tar from "tar-stream";
import { addEntry } from "@sockerless/api";
import type { Change } from "./changes.js";

const EPOCH = new Date(0);

/**
 * A container's writable layer as a Docker layer tar: added and modified paths as entries
 * (directories without their contents; their changed children come as entries of their own),
 * deleted paths as `.wh.<name>` whiteouts (only the topmost deleted path of a deleted tree).
 */
export function layerTar(rootfs: string, changes: Change[]): Readable {
  const pack = tar.pack();
  const deleted = new Set(changes.filter((c) => c.Kind === 2).map((c) => c.Path));
  (async () => {
    for (const ch of [...changes].sort((a, b) => (a.Path < b.Path ? -1 : 1))) {
      const name = ch.Path.replace(/^\/+/, "");
      if (ch.Kind === 2) {
        if (deleted.has(path.posix.dirname(ch.Path))) continue;
        const wh = path.posix.join(path.posix.dirname(name), `.wh.${path.posix.basename(name)}`);
        await new Promise<void>((resolve, reject) =>
          pack.entry({ name: wh, type: "file", size: 0, mode: 0o644, mtime: EPOCH }, "", (err) =>
            err ? reject(err) : resolve(),
          ),
        );
      } else {
        await addEntry(pack, path.join(rootfs, name), name);
      }
    }
    pack.finalize();
  })().catch((e) => pack.destroy(e));
  return pack as unknown as Readable;
}
