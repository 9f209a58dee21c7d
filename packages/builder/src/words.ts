import { badRequest } from "@sockerless/api";

/**
 * Docker's word processing for Dockerfile arguments (the builder's shell lexer): quotes are
 * removed, the escape character escapes the next character, and $VAR / ${VAR} / ${VAR:-word} /
 * ${VAR:+word} / ${VAR-word} / ${VAR+word} / ${VAR:?msg} / ${VAR?msg} expand from `env`.
 * No command substitution, no globbing: this is not a shell.
 */
export type Env = ReadonlyMap<string, string>;

/** Env as a Map from "K=V" entries (later entries win, as in a container's environment). */
export function envMap(list: readonly string[] | null | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of list ?? []) {
    const i = e.indexOf("=");
    if (i < 0) m.set(e, "");
    else m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

const isNameStart = (c: string) => /[A-Za-z_]/.test(c);
const isNameChar = (c: string) => /[A-Za-z0-9_]/.test(c);

class Lexer {
  private pos = 0;
  constructor(
    private readonly s: string,
    private readonly env: Env,
    private readonly escape: string,
  ) {}

  private peek(): string {
    return this.s[this.pos] ?? "";
  }
  private next(): string {
    return this.s[this.pos++] ?? "";
  }
  private eof(): boolean {
    return this.pos >= this.s.length;
  }

  /** Words of the input; `split` false keeps the whole input as one word (unquoted spaces kept). */
  words(split: boolean): string[] {
    const out: string[] = [];
    let word = "";
    let inWord = false;
    while (!this.eof()) {
      const c = this.peek();
      if (split && /\s/.test(c)) {
        this.next();
        if (inWord) out.push(word);
        word = "";
        inWord = false;
        continue;
      }
      inWord = true;
      if (c === "'") {
        this.next();
        word += this.singleQuoted();
      } else if (c === '"') {
        this.next();
        word += this.doubleQuoted();
      } else if (c === "$") {
        word += this.dollar();
      } else if (c === this.escape) {
        this.next();
        if (!this.eof()) word += this.next();
      } else {
        word += this.next();
      }
    }
    if (inWord) out.push(word);
    return out;
  }

  private singleQuoted(): string {
    let out = "";
    for (;;) {
      if (this.eof()) throw badRequest("unexpected end of statement while looking for matching single-quote");
      const c = this.next();
      if (c === "'") return out;
      out += c;
    }
  }

  private doubleQuoted(): string {
    let out = "";
    for (;;) {
      if (this.eof()) throw badRequest("unexpected end of statement while looking for matching double-quote");
      const c = this.peek();
      if (c === '"') {
        this.next();
        return out;
      }
      if (c === "$") {
        out += this.dollar();
        continue;
      }
      this.next();
      if (c === this.escape && ['"', "$", this.escape].includes(this.peek())) out += this.next();
      else out += c;
    }
  }

  private lookup(name: string): string | undefined {
    return this.env.get(name);
  }

  private dollar(): string {
    this.next(); // $
    const c = this.peek();
    if (c === "{") {
      this.next();
      return this.braced();
    }
    if (!isNameStart(c)) return "$";
    let name = "";
    while (isNameChar(this.peek())) name += this.next();
    return this.lookup(name) ?? "";
  }

  /** The word of a ${name<op>word} modifier, itself expanded; stops at the closing brace. */
  private modifierWord(): string {
    let out = "";
    for (;;) {
      if (this.eof()) throw badRequest("missing '}' in variable substitution");
      const c = this.peek();
      if (c === "}") {
        this.next();
        return out;
      }
      if (c === "$") out += this.dollar();
      else if (c === "'") {
        this.next();
        out += this.singleQuoted();
      } else if (c === '"') {
        this.next();
        out += this.doubleQuoted();
      } else if (c === this.escape) {
        this.next();
        out += this.next();
      } else out += this.next();
    }
  }

  private braced(): string {
    let name = "";
    while (isNameChar(this.peek())) name += this.next();
    if (!name) throw badRequest(`bad substitution: invalid variable name in \${${this.s.slice(this.pos)}`);
    const value = this.lookup(name);
    const c = this.next();
    if (c === "}") return value ?? "";
    let op = c;
    if (c === ":") op += this.next();
    switch (op) {
      case ":-": {
        const w = this.modifierWord();
        return value ? value : w;
      }
      case "-": {
        const w = this.modifierWord();
        return value !== undefined ? value : w;
      }
      case ":+": {
        const w = this.modifierWord();
        return value ? w : "";
      }
      case "+": {
        const w = this.modifierWord();
        return value !== undefined ? w : "";
      }
      case ":?": {
        const w = this.modifierWord();
        if (!value) throw badRequest(`${name}: ${w || "is not allowed to be unset"}`);
        return value;
      }
      case "?": {
        const w = this.modifierWord();
        if (value === undefined) throw badRequest(`${name}: ${w || "is not allowed to be unset"}`);
        return value;
      }
      default:
        throw badRequest(`unsupported modifier (${op}) in substitution`);
    }
  }
}

/** One word: quotes removed, variables expanded, whitespace kept (ENV values, WORKDIR, USER...). */
export function processWord(word: string, env: Env, escape = "\\"): string {
  return new Lexer(word, env, escape).words(false)[0] ?? "";
}

/** Several words split on unquoted whitespace, each processed (EXPOSE, VOLUME, COPY sources...). */
export function processWords(text: string, env: Env, escape = "\\"): string[] {
  return new Lexer(text, env, escape).words(true);
}

/**
 * The parser's word split (Docker's parseWords): splits on unquoted whitespace but keeps quotes
 * and escapes in the words, for ENV/LABEL/ARG key=value lists whose values are processed later.
 */
export function splitRawWords(rest: string, escape = "\\"): string[] {
  const words: string[] = [];
  let word = "";
  let quote = "";
  let inWord = false;
  for (let i = 0; i < rest.length; i++) {
    const ch = rest[i];
    if (!quote && /\s/.test(ch)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (quote) {
      if (ch === quote) quote = "";
      else if (ch === escape && quote !== "'" && i + 1 < rest.length) {
        word += ch;
        i++;
        word += rest[i];
        continue;
      }
      word += ch;
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === escape && i + 1 < rest.length) {
      word += ch;
      i++;
      word += rest[i];
      continue;
    }
    word += ch;
  }
  if (inWord) words.push(word);
  return words;
}
