// The Docker Engine API v1.44 coverage matrix: every operation of the API, where Sockerless routes
// it, whether it is implemented or answers 501 on purpose, and which integration test files really
// call it (from the route logs the test daemons write, see test/helpers.ts and SOCKERLESS_ROUTE_LOG).
//
//   npm run test:integration && npm run api-coverage            # regenerate docs/api-coverage.md
//   npm run api-coverage -- --check                             # fail on untested routes or a stale doc
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as prettier from "prettier";
import {
  createRouter,
  routes,
  unsupportedMessage,
  type Route,
  type RouteHit,
  type RouteStore,
} from "../packages/server/src/index.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OPS_FILE = path.join(repo, "scripts/engine-api-v1.44.tsv");
const LOG_DIR = path.join(repo, ".api-coverage");
const DOC = path.join(repo, "docs/api-coverage.md");

interface Operation {
  method: string;
  path: string;
  id: string;
  tag: string;
  /** matches request paths; `{name}` may hold slashes (image and plugin names do) */
  pattern: RegExp;
  /** literal characters in the path: the more, the more specific */
  literal: number;
}

interface Hit extends RouteHit {
  file: string;
}

function loadOperations(): Operation[] {
  return readFileSync(OPS_FILE, "utf8")
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const [method, p, id, tag] = l.split("\t");
      const source = p
        .split(/(\{[^}]+\})/)
        .map((part) =>
          part === "{name}"
            ? ".+"
            : part.startsWith("{")
              ? "[^/]+"
              : part.replace(/[.*+?^$()|[\]\\]/g, "\\$&"),
        )
        .join("");
      return {
        method,
        path: p,
        id,
        tag,
        pattern: new RegExp(`^${source}$`),
        literal: p.replace(/\{[^}]+\}/g, "").length,
      };
    });
}

/** Route logs of test files that still exist: <test file>.jsonl in .api-coverage/. */
function loadHits(): Hit[] {
  const files = existsSync(LOG_DIR) ? readdirSync(LOG_DIR).filter((f) => f.endsWith(".jsonl")) : [];
  const hits: Hit[] = [];
  for (const f of files) {
    const testFile = f.replace(/\.jsonl$/, "");
    if (!existsSync(path.join(repo, "test", testFile))) continue; // a removed or renamed test
    for (const line of readFileSync(path.join(LOG_DIR, f), "utf8").split("\n")) {
      if (line) hits.push({ ...(JSON.parse(line) as RouteHit), file: testFile });
    }
  }
  return hits;
}

const routeName = (r: Route) => `${r[0]} ${r[1]}`;
/** a sample request path for an operation path: /containers/{id}/json -> /containers/x/json */
const samplePath = (p: string) => p.replace(/\{[^}]+\}/g, "x");
const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();
const cell = (s: string) => s.replace(/\|/g, "\\|");
const testFiles = (got: Hit[]) => sorted(got.map((h) => `\`${h.file}\``)).join(", ");
/** what tests saw: answers other than 501, or only 501s (a backend without the feature) */
const observed = (got: Hit[]) =>
  got.every((h) => h.status === 501)
    ? `501 here: ${sorted(got.map((h) => `\`${h.message ?? ""}\``)).join(", ")}`
    : "implemented";

async function main() {
  const check = process.argv.includes("--check");
  const ops = loadOperations();
  const hits = loadHits();
  if (!hits.length) {
    console.error(
      `api-coverage: no route logs in ${path.relative(repo, LOG_DIR)}/: run npm run test:integration first`,
    );
    process.exit(1);
  }
  const router = createRouter();
  const routeOf = (method: string, p: string): Route | undefined =>
    (router.find(method as Parameters<typeof router.find>[0], p)?.store as RouteStore | undefined)?.route;
  const opOf = (method: string, p: string): Operation | undefined =>
    ops.filter((o) => o.method === method && o.pattern.test(p)).sort((a, b) => b.literal - a.literal)[0];

  const routeHits = new Map<Route, Hit[]>();
  const opHits = new Map<Operation, Hit[]>();
  for (const h of hits) {
    if (!h.path) continue; // rejected before routing (bad API version)
    const r = routeOf(h.method, h.path);
    if (r) routeHits.set(r, [...(routeHits.get(r) ?? []), h]);
    const op = opOf(h.method, h.path);
    if (op) opHits.set(op, [...(opHits.get(op) ?? []), h]);
  }

  const problems: string[] = [];
  const opRows: string[] = [];
  const counts = { tested: 0, only501: 0, unsupported: 0, notRouted: 0, untested: 0 };
  const byTag = [...ops].sort(
    (a, b) => a.tag.localeCompare(b.tag) || a.path.localeCompare(b.path) || a.method.localeCompare(b.method),
  );
  for (const op of byTag) {
    const route = routeOf(op.method, samplePath(op.path));
    const got = opHits.get(op) ?? [];
    let status: string;
    if (!route) {
      status = "not routed: 404 `page not found`";
      counts.notRouted++;
    } else if (unsupportedMessage(route[2]) !== undefined) {
      status = `501 on purpose: \`${unsupportedMessage(route[2])}\``;
      counts.unsupported++;
    } else if (!got.length) {
      status = "**routed, no test calls it**";
      counts.untested++;
      // e.g. one /images/* operation when the catch-all route is tested through another
      problems.push(
        `${op.id} (${op.method} ${op.path}) is routed to ${routeName(route)} but no test calls it`,
      );
    } else {
      status = observed(got);
      if (status === "implemented") counts.tested++;
      else counts.only501++;
    }
    opRows.push(
      `| ${op.tag} | \`${op.method} ${op.path}\` | ${op.id} | ${route ? `\`${cell(routeName(route))}\`` : ""} | ${status} | ${testFiles(got)} |`,
    );
  }

  const routeRows: string[] = [];
  for (const r of [...routes].sort((a, b) => a[1].localeCompare(b[1]) || a[0].localeCompare(b[0]))) {
    const got = routeHits.get(r) ?? [];
    const message = unsupportedMessage(r[2]);
    const served = sorted(
      ops.filter((o) => routeOf(o.method, samplePath(o.path)) === r).map((o) => o.id),
    ).join(", ");
    if (message === undefined && !got.length) problems.push(`route ${routeName(r)} has no test`);
    const status =
      message !== undefined ? `501 on purpose: \`${message}\`` : !got.length ? "**no test**" : observed(got);
    routeRows.push(
      `| \`${cell(routeName(r))}\` | ${served || "(none in v1.44)"} | ${status} | ${testFiles(got)} |`,
    );
  }

  const raw = [
    "# Docker Engine API v1.44 coverage",
    "",
    "<!-- Generated by scripts/api-coverage.ts; do not edit. -->",
    "",
    "Every operation of the Docker Engine API v1.44 ([operation list](../scripts/engine-api-v1.44.tsv),",
    "from moby's `docs/api/v1.44.yaml`), where Sockerless routes it and its status. **Tested by** lists",
    "the integration test files (in `test/`) whose daemons actually served the operation: the test daemons record",
    "every request (`SOCKERLESS_ROUTE_LOG`, set by `test/helpers.ts`).",
    "",
    "Regenerate after the integration tests: `npm run test:integration && npm run api-coverage`.",
    "`npm run api-coverage -- --check` (run by `scripts/test-all.sh`) fails when a route that is not",
    "501 on purpose has no test, when an operation is routed but no test calls it (even one sharing a",
    "tested catch-all route such as `/images/*`), or when this file is stale.",
    "",
    `Operations: ${ops.length}; implemented and tested: ${counts.tested}; routed but answering 501 in`,
    `tests (backend limits): ${counts.only501}; 501 on purpose: ${counts.unsupported}; not routed: ${counts.notRouted}` +
      (counts.untested ? `; **routed without a test of their own: ${counts.untested}**` : "") +
      ".",
    "",
    "| Tag | Operation | operationId | Route | Status | Tested by |",
    "| --- | --- | --- | --- | --- | --- |",
    ...opRows,
    "",
    "## Registered routes",
    "",
    "Every route of the router (`packages/server/src/routes`), the v1.44 operations it serves, and the",
    "test files that called it.",
    "",
    "| Route | Operations | Status | Tested by |",
    "| --- | --- | --- | --- |",
    ...routeRows,
    "",
  ].join("\n");

  // formatted as `prettier --check` wants it, so lint and the check agree
  const doc = await prettier.format(raw, { ...(await prettier.resolveConfig(DOC)), filepath: DOC });
  const list = (xs: string[]) => xs.map((p) => `  - ${p}`).join("\n");
  const current = existsSync(DOC) ? readFileSync(DOC, "utf8") : "";
  if (check) {
    if (current !== doc)
      problems.push(`${path.relative(repo, DOC)} is stale: run npm run api-coverage and commit it`);
    if (problems.length) {
      console.error(`api-coverage --check: ${problems.length} problem(s):\n${list(problems)}`);
      process.exit(1);
    }
    console.log(`api-coverage --check: ok (${ops.length} operations, ${routes.length} routes)`);
    return;
  }
  writeFileSync(DOC, doc);
  console.log(`api-coverage: wrote ${path.relative(repo, DOC)}`);
  if (problems.length) console.error(`api-coverage: ${problems.length} problem(s):\n${list(problems)}`);
}

await main();
