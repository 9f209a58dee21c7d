/**
 * DNS search domains for the workload: containers on a user-defined Docker network resolve each
 * other by short name, which on a cloud means searching the network's DNS namespace. Fargate
 * (awsvpc) task definitions cannot set `dnsSearchDomains`, so the agent adds them to the
 * container's resolv.conf before the main process starts.
 */
import { readFileSync, writeFileSync } from "node:fs";

const SEARCH = /^\s*(search|domain)(\s+.*)?$/;

/**
 * `text` with `domains` first on its search line, then the domains it searched already; its
 * nameservers, options and comments are kept. `domain` and `search` lines are one setting (the
 * last one wins), so they become one search line, where the first of them was.
 */
export function withSearchDomains(text: string, domains: string[]): string {
  const lines = text.split("\n");
  let existing: string[] = [];
  let at = -1;
  lines.forEach((l, i) => {
    const m = SEARCH.exec(l);
    if (!m) return;
    existing = (m[2] ?? "").trim().split(/\s+/).filter(Boolean);
    if (at < 0) at = i;
  });
  const search = `search ${[...new Set([...domains, ...existing])].join(" ")}`;
  const kept = lines.filter((l) => !SEARCH.test(l));
  // where the first one was (no search line before it), else first, as Docker writes it
  kept.splice(Math.max(at, 0), 0, search);
  return kept.join("\n");
}

/**
 * Rewrite the file in place (it is usually a bind mount: a rename over it would fail). When it
 * cannot be read or written (a non-root user, a read-only root file system) the workload still
 * runs, without the short names: one line on the agent's log says so.
 */
export function addSearchDomains(
  domains: string[],
  log: (msg: string) => void,
  file = "/etc/resolv.conf",
): void {
  if (!domains.length) return;
  try {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    writeFileSync(file, withSearchDomains(text, domains));
  } catch (e) {
    log(
      `cannot add DNS search domains ${domains.join(" ")} to ${file} (${(e as Error).message}): short container names will not resolve`,
    );
  }
}
