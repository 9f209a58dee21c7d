// Copies trees off the main thread for the rootfs pool (copyTree is synchronous).
import { parentPort } from "node:worker_threads";
import { copyTree } from "@sockerless/images";

parentPort!.on("message", (m: { id: number; src: string; dst: string }) => {
  try {
    copyTree(m.src, m.dst);
    parentPort!.postMessage({ id: m.id });
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});
