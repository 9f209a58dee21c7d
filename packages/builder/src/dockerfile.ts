import { DockerfileParser } from "dockerfile-ast";
import { badRequest } from "@sockerless/api";
import { processWord } from "./words.js";

/**
 * A Dockerfile split into instructions. dockerfile-ast (the parser behind the VS Code Docker
 * extension) finds the parser directives and where each instruction starts and ends (line
 * continuations, comments, heredocs); the text of each instruction is then read the way Docker's
 * own parser does: continuation lines joined with the escape character removed, comment and empty
 * lines inside a continuation dropped, leading `--flag=value` words taken as flags, and a JSON
 * array of strings recognised as the exec form.
 */
export interface Flag {
  name: string;
  value: string | undefined;
}

export interface Instruction {
  /** Upper-case keyword ("RUN"). */
  keyword: string;
  /** 1-based line of the keyword. */
  line: number;
  /** The instruction as written, continuation lines joined (what `Step N/M :` prints). */
  original: string;
  flags: Flag[];
  /** The text after the keyword and its flags. */
  args: string;
  /** Set when `args` is a JSON array of strings (exec form). */
  json?: string[];
}

export interface ParsedDockerfile {
  escape: string;
  instructions: Instruction[];
}

const reEscape = (c: string) => c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Takes the leading `--name[=value]` words off an instruction's arguments. */
function splitFlags(rest: string, escape: string): { flags: Flag[]; args: string } {
  const flags: Flag[] = [];
  let s = rest;
  for (;;) {
    s = s.replace(/^\s+/, "");
    if (!s.startsWith("--")) break;
    let i = 0;
    let quote = "";
    for (; i < s.length; i++) {
      const c = s[i];
      if (quote) {
        if (c === quote) quote = "";
        else if (c === escape && quote === '"') i++;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === escape) i++;
      else if (/\s/.test(c)) break;
    }
    const word = s.slice(2, i);
    s = s.slice(i);
    if (word === "") break; // "--" alone ends the flags
    const eq = word.indexOf("=");
    if (eq < 0) flags.push({ name: word, value: undefined });
    else flags.push({ name: word.slice(0, eq), value: processWord(word.slice(eq + 1), new Map(), escape) });
  }
  return { flags, args: s.trim() };
}

function parseJsonArray(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  try {
    const v: unknown = JSON.parse(args);
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  } catch {
    // not JSON: shell form
  }
  return undefined;
}

/** Parses one logical line ("RUN echo hi") into an instruction. */
export function parseLine(text: string, line: number, escape = "\\"): Instruction {
  const original = text.trim();
  const m = /^(\S+)\s*([\s\S]*)$/.exec(original);
  if (!m) throw badRequest(`dockerfile parse error line ${line}: empty instruction`);
  const keyword = m[1].toUpperCase();
  const { flags, args } = splitFlags(m[2], escape);
  const inst: Instruction = { keyword, line, original, flags, args };
  const json = parseJsonArray(args);
  if (json) inst.json = json;
  if (["RUN", "COPY", "ADD"].includes(keyword) && /(^|\s)<<-?\s*["']?[A-Za-z_]\w*["']?(\s|$)/.test(args)) {
    throw badRequest(
      `dockerfile parse error line ${line}: heredocs are not supported by the legacy builder (use a RUN line or COPY a file)`,
    );
  }
  return inst;
}

export function parseDockerfile(text: string): ParsedDockerfile {
  const df = DockerfileParser.parse(text);
  const escape = df.getEscapeCharacter();
  const lines = text.split(/\r?\n/);
  const continuation = new RegExp(`${reEscape(escape)}[ \\t]*$`);
  const instructions: Instruction[] = [];
  for (const inst of df.getInstructions()) {
    const { start, end } = inst.getRange();
    let joined = "";
    for (let i = start.line; i <= end.line && i < lines.length; i++) {
      const l = lines[i];
      if (i > start.line && (/^\s*$/.test(l) || /^\s*#/.test(l))) continue;
      const c = continuation.exec(l);
      joined += c ? l.slice(0, c.index) : l;
      if (!c) break;
    }
    instructions.push(parseLine(joined, start.line + 1, escape));
  }
  return { escape, instructions };
}
