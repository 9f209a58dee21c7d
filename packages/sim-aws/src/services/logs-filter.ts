import { invalidParameter } from "../errors.js";

export type Matcher = (message: string) => boolean;

/**
 * CloudWatch Logs filter patterns for unstructured events: every plain term must appear, no
 * `-term` may appear, and when `?term`s are given at least one of them must appear. Terms are
 * case-sensitive; "quoted phrases" keep their spaces. `%regex%` matches a regular expression.
 * JSON (`{ $.x = … }`) and space-delimited (`[a, b]`) patterns are handled by logs-json-filter.
 */
export function compileFilter(pattern: string | undefined, json?: (p: string) => Matcher): Matcher {
  const p = (pattern ?? "").trim();
  if (!p) return () => true;
  if (p.length > 2 && p.startsWith("%") && p.endsWith("%")) {
    let re: RegExp;
    try {
      re = new RegExp(p.slice(1, -1));
    } catch {
      throw invalidParameter("Invalid regex in filter pattern");
    }
    return (m) => re.test(m);
  }
  if (p.startsWith("{") || p.startsWith("[")) {
    if (!json) throw invalidParameter("Invalid character(s) in term");
    return json(p);
  }
  const all: string[] = [];
  const any: string[] = [];
  const none: string[] = [];
  for (const t of terms(p)) {
    if (t.prefix === "?") any.push(t.text);
    else if (t.prefix === "-") none.push(t.text);
    else all.push(t.text);
  }
  return (m) =>
    all.every((t) => m.includes(t)) &&
    !none.some((t) => m.includes(t)) &&
    (any.length === 0 || any.some((t) => m.includes(t)));
}

interface Term {
  prefix: "" | "?" | "-";
  text: string;
}

function terms(p: string): Term[] {
  const out: Term[] = [];
  const re = /([?-]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))/g;
  for (let m = re.exec(p); m; m = re.exec(p)) {
    const text = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3];
    if (m[2] === undefined && text.includes('"'))
      throw invalidParameter("Invalid filter pattern: unbalanced quote");
    if (text) out.push({ prefix: m[1] as Term["prefix"], text });
  }
  return out;
}
