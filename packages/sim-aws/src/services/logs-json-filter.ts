import { invalidParameter } from "../errors.js";
import type { Matcher } from "./logs-filter.js";

/**
 * CloudWatch Logs JSON filter patterns: `{ $.a.b[0] = "x*" && ($.n > 5 || $.f IS TRUE) }`,
 * with =, !=, <, <=, >, >=, IS TRUE|FALSE|NULL, EXISTS, NOT EXISTS; `*` is a wildcard in strings.
 * An event that is not a JSON object never matches. Space-delimited patterns (`[a, b]`) are
 * rejected rather than guessed at.
 */
export function compileJsonFilter(pattern: string): Matcher {
  if (!pattern.startsWith("{"))
    throw invalidParameter("Space-delimited filter patterns are not supported by the simulator");
  const p = new Parser(tokenize(pattern));
  p.expect("{");
  const test = p.or();
  p.expect("}");
  if (!p.done()) throw bad();
  return (message) => {
    let doc: unknown;
    try {
      doc = JSON.parse(message);
    } catch {
      return false;
    }
    return typeof doc === "object" && doc !== null && test(doc);
  };
}

type Test = (doc: unknown) => boolean;
const bad = () => invalidParameter("Invalid character(s) in term");

function tokenize(s: string): string[] {
  const re = /\s*("(?:[^"\\]|\\.)*"|&&|\|\||!=|>=|<=|[{}()=<>]|\$[^\s=!<>(){}&|]*|[^\s=!<>(){}&|"]+)/gy;
  const out: string[] = [];
  let end = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    out.push(m[1]);
    end = re.lastIndex;
  }
  if (s.slice(end).trim()) throw bad();
  return out;
}

/** $.a.b[0] → ["a", "b", 0] */
function selector(tok: string): (string | number)[] {
  if (!/^\$(\.[\w-]+|\[\d+\])*$/.test(tok)) throw bad();
  return [...tok.slice(1).matchAll(/\.([\w-]+)|\[(\d+)\]/g)].map((m) =>
    m[1] !== undefined ? m[1] : Number(m[2]),
  );
}

function lookup(doc: unknown, path: (string | number)[]): unknown {
  let cur: any = doc;
  for (const k of path) {
    if (cur === null || typeof cur !== "object" || !(k in cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.split("*").map(escape).join(".*")}$`, "s");
}
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

class Parser {
  private i = 0;
  constructor(private readonly toks: string[]) {}

  done() {
    return this.i >= this.toks.length;
  }
  private peek() {
    return this.toks[this.i];
  }
  private next() {
    const t = this.toks[this.i++];
    if (t === undefined) throw bad();
    return t;
  }
  expect(t: string) {
    if (this.next() !== t) throw bad();
  }

  or(): Test {
    const parts = [this.and()];
    while (this.peek() === "||") {
      this.i++;
      parts.push(this.and());
    }
    return (d) => parts.some((f) => f(d));
  }

  private and(): Test {
    const parts = [this.unary()];
    while (this.peek() === "&&") {
      this.i++;
      parts.push(this.unary());
    }
    return (d) => parts.every((f) => f(d));
  }

  private unary(): Test {
    if (this.peek() === "(") {
      this.i++;
      const t = this.or();
      this.expect(")");
      return t;
    }
    return this.comparison();
  }

  private comparison(): Test {
    const path = selector(this.next());
    const get = (d: unknown) => lookup(d, path);
    const op = this.next();
    if (op === "IS") {
      const what = this.next();
      const want = { TRUE: true, FALSE: false, NULL: null } as Record<string, unknown>;
      if (!(what in want)) throw bad();
      return (d) => get(d) === want[what];
    }
    if (op === "EXISTS") return (d) => get(d) !== undefined;
    if (op === "NOT") {
      this.expect("EXISTS");
      return (d) => get(d) === undefined;
    }
    if (!["=", "!=", "<", "<=", ">", ">="].includes(op)) throw bad();
    const raw = this.next();
    const quoted = raw.startsWith('"');
    const text = quoted ? raw.slice(1, -1).replace(/\\(.)/g, "$1") : raw;
    const num = !quoted && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text) ? Number(text) : undefined;
    if (op !== "=" && op !== "!=") {
      if (num === undefined) throw bad();
      const cmp = {
        "<": (a: number) => a < num,
        "<=": (a: number) => a <= num,
        ">": (a: number) => a > num,
        ">=": (a: number) => a >= num,
      }[op]!;
      return (d) => {
        const v = get(d);
        return typeof v === "number" && cmp(v);
      };
    }
    const re = wildcard(text);
    const eq = (v: unknown) =>
      num !== undefined && typeof v === "number" ? v === num : typeof v === "string" && re.test(v);
    return op === "=" ? (d) => eq(get(d)) : (d) => get(d) !== undefined && !eq(get(d));
  }
}
