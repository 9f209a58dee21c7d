import type { ProgressMessage } from "./types.js";

const UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/** go-units HumanSize: decimal units, 4 significant digits ("%.4g%s"). */
export function humanSize(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${UNITS[i]}`;
}

/** The progress bar string dockerd puts in "progress" (jsonmessage.JSONProgress.String, width 200). */
export function progressBar(current: number, total: number): string {
  if (current <= 0 && total <= 0) return "";
  if (total <= 0) return humanSize(current).padStart(8);
  const pct = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
  const bar = `[${"=".repeat(pct)}>${" ".repeat(Math.max(0, 50 - pct))}] `;
  const numbers =
    current > total
      ? humanSize(current).padStart(8)
      : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return bar + numbers;
}

export type ProgressFn = (m: ProgressMessage) => void;

/** A progress message with progressDetail and the rendered bar. */
export function detailMessage(status: string, id: string, current: number, total: number): ProgressMessage {
  return { status, progressDetail: { current, total }, progress: progressBar(current, total), id };
}

/** Emits byte progress at most every `step` bytes (dockerd's progressreader uses 512 KiB), and at the end. */
export function throttled(
  emit: (current: number) => void,
  total: number,
  step = 512 * 1024,
): (current: number) => void {
  let last = 0;
  return (current: number) => {
    if (current - last >= step || (current >= total && last < total)) {
      last = current;
      emit(current);
    }
  };
}
