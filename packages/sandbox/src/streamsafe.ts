/**
 * Is bashkit's live output stream trustworthy for a script?
 *
 * bashkit 0.18's `onOutput` stream emits the output of *nested command lists* (function bodies, compound
 * commands, `sh -c`, sourced files) as they run, even when that output is being captured: inside `$(...)`,
 * on the left of a `|`, or by an output redirection of a function call. The stream then shows captured
 * text and misses the real output (`f | sort` streams f's unsorted lines; `x=$(f)` prints f's output). The
 * final ExecResult is always right. So we stream only when a conservative scan of the script (and of the
 * scripts it runs) finds none of those patterns, and otherwise deliver the output when the command ends.
 *
 * The scanner is a rough shell tokenizer: quotes, `$(...)`, backticks, `${...}`, `$((...))`, subshells,
 * heredocs, comments and case patterns; enough to find commands and the context they run in.
 */
import * as path from "node:path";
import { parseShellArgs } from "./command.js";

export interface StreamSafetyEnv {
  /** Is `name` a builtin of the interpreter (not a function, not a script)? */
  isBuiltin(name: string): boolean;
  /** Names the prelude defines as shell functions (sh, bash, env, ash, /bin/echo, ...). */
  preludeFunctions: ReadonlySet<string>;
  /** Text of a shell script at a container path (relative to the shell's cwd), if it is one. */
  readScript(p: string): string | undefined;
  /** Container path of a shell script found on PATH for a bare name, if any. */
  findScript(name: string): string | undefined;
}

interface Word {
  text: string;
  /** Contains an unquoted or double-quoted expansion ($x, $(...), `...`). */
  dynamic: boolean;
}

interface Piece {
  words: Word[];
  captured: boolean;
  pipeNext: boolean;
  outRedirect: boolean;
  /** A subshell `( ... )` ended in this piece. */
  subshell: boolean;
}

const OPENERS = new Set(["if", "while", "until", "for", "case", "select", "{", "(", "function"]);
const CLOSERS = new Set(["fi", "done", "esac", "}", ")"]);
const PREFIX_KEYWORDS = new Set(["!", "do", "then", "else", "elif", "if", "while", "until", "{", "time"]);
const NESTING_BUILTINS = new Set([
  "source",
  ".",
  "eval",
  "xargs",
  "watch",
  "parallel",
  "retry",
  "timeout",
  "sh",
  "bash",
]);
const SHELLS = new Set(["sh", "bash", "ash", "dash"]);

class Scanner {
  readonly pieces: Piece[] = [];
  readonly functions = new Set<string>();
  /** Something the scanner cannot judge (expansions in ${...} or heredocs). */
  unsure = false;

  constructor(private readonly s: string) {}

  /** Scan a command list until `term` (")" or "`", "" = end of input); returns the index after it. */
  list(start: number, term: string, captured: boolean): number {
    const s = this.s;
    let i = start;
    let piece = newPiece(captured);
    let word: Word | undefined;
    let heredocs: { delim: string; strip: boolean; quoted: boolean }[] = [];
    let caseDepth = 0;
    let inPattern = false;
    const cur = (): Word => (word ??= { text: "", dynamic: false });
    const endWord = () => {
      if (!word) return;
      piece.words.push(word);
      if (piece.words.length === 1 && piece.words[0].text === "esac" && caseDepth > 0) caseDepth--;
      const ws = piece.words;
      if (ws.length === 2 && ws[0].text === "function") this.functions.add(ws[1].text.replace(/\(\)$/, ""));
      if (ws.length >= 3 && ws[0].text === "case" && ws[ws.length - 1].text === "in") {
        caseDepth++;
        inPattern = true;
      }
      word = undefined;
    };
    const endPiece = (pipe: boolean) => {
      endWord();
      piece.pipeNext = pipe;
      if (piece.words.length > 0 || piece.subshell) this.pieces.push(piece);
      piece = newPiece(captured);
    };
    while (i < s.length) {
      const c = s[i];
      if (inPattern) {
        // case pattern: skip to the closing ")" (patterns may contain "|"), or "esac"
        if (/\s/.test(c)) {
          i++;
          continue;
        }
        if (/^esac(?![A-Za-z0-9_])/.test(s.slice(i, i + 5))) {
          inPattern = false;
          continue;
        }
        while (i < s.length && s[i] !== ")") i += s[i] === "\\" ? 2 : 1;
        i++;
        inPattern = false;
        continue;
      }
      if (term && c === term) {
        endPiece(false);
        return i + 1;
      }
      if (c === "\\") {
        if (s[i + 1] === "\n") i += 2;
        else {
          cur().text += s[i + 1] ?? "";
          i += 2;
        }
        continue;
      }
      if (c === "'") {
        const end = s.indexOf("'", i + 1);
        cur().text += s.slice(i + 1, end < 0 ? s.length : end);
        i = end < 0 ? s.length : end + 1;
        continue;
      }
      if (c === '"') {
        i = this.dquote(i + 1, cur(), captured);
        continue;
      }
      if (c === "`") {
        cur().dynamic = true;
        i = this.list(i + 1, "`", true);
        continue;
      }
      if (c === "$") {
        i = this.dollar(i, cur(), captured);
        continue;
      }
      if (c === "#" && !word) {
        while (i < s.length && s[i] !== "\n") i++;
        continue;
      }
      if (c === "\n") {
        endPiece(false);
        i++;
        for (const h of heredocs) {
          // skip the heredoc body up to its delimiter line
          for (;;) {
            const nl = s.indexOf("\n", i);
            const line = s.slice(i, nl < 0 ? s.length : nl);
            i = nl < 0 ? s.length : nl + 1;
            if ((h.strip ? line.replace(/^\t+/, "") : line) === h.delim || nl < 0) break;
            if (!h.quoted && /\$\(|`/.test(line)) this.unsure = true;
          }
        }
        heredocs = [];
        continue;
      }
      if (c === " " || c === "\t") {
        endWord();
        i++;
        continue;
      }
      if (c === ";") {
        endPiece(false);
        if (s[i + 1] === ";" || s[i + 1] === "&") {
          i += s[i + 2] === "&" ? 3 : 2;
          if (caseDepth > 0) inPattern = true;
        } else i++;
        continue;
      }
      if (c === "|") {
        if (s[i + 1] === "|") {
          endPiece(false);
          i += 2;
        } else {
          endPiece(true);
          i += s[i + 1] === "&" ? 2 : 1;
        }
        continue;
      }
      if (c === "&") {
        if (s[i + 1] === ">") {
          endWord();
          piece.outRedirect = true;
          i += s[i + 2] === ">" ? 3 : 2;
          continue;
        }
        endPiece(false);
        i += s[i + 1] === "&" ? 2 : 1;
        continue;
      }
      if (c === ">" || c === "<") {
        if (word && !/^\d+$/.test(word.text)) endWord();
        word = undefined; // an fd number belongs to the operator
        if (s[i + 1] === "(") {
          // process substitution: its output is captured
          i = this.list(i + 2, ")", true);
          continue;
        }
        if (c === ">") {
          piece.outRedirect = true;
          i += /[>&|]/.test(s[i + 1] ?? "") ? 2 : 1;
          continue;
        }
        if (s.startsWith("<<<", i)) {
          i += 3;
          continue;
        }
        if (s[i + 1] === "<") {
          const m = /^<<(-?)[ \t]*(?:'([^']*)'|"([^"]*)"|\\?([^\s;&|<>()]+))/.exec(s.slice(i));
          if (m) {
            heredocs.push({
              delim: m[2] ?? m[3] ?? m[4],
              strip: m[1] === "-",
              quoted: m[2] !== undefined || m[3] !== undefined,
            });
            i += m[0].length;
            continue;
          }
        }
        i += /[&>]/.test(s[i + 1] ?? "") ? 2 : 1;
        continue;
      }
      if (c === "(") {
        if (word && /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=$/.test(word.text)) {
          // array assignment a=(x y z)
          const end = s.indexOf(")", i);
          if (/\$\(|`/.test(s.slice(i, end < 0 ? s.length : end))) this.unsure = true;
          word.text += s.slice(i, end < 0 ? s.length : end + 1);
          i = end < 0 ? s.length : end + 1;
          continue;
        }
        if (word && s[i + 1] === ")") {
          // function definition: name()
          this.functions.add(word.text);
          endWord();
          i += 2;
          continue;
        }
        if (s[i + 1] === "(") {
          // (( arithmetic ))
          i = skipParens(s, i);
          continue;
        }
        endPiece(false);
        i = this.list(i + 1, ")", captured);
        piece.subshell = true;
        piece.words.push({ text: ")", dynamic: false });
        continue;
      }
      if (c === ")") {
        // unbalanced (e.g. a case pattern we did not recognise)
        endPiece(false);
        i++;
        continue;
      }
      cur().text += c;
      i++;
    }
    endPiece(false);
    if (term) this.unsure = true; // unterminated
    return i;
  }

  private dquote(i: number, w: Word, captured: boolean): number {
    const s = this.s;
    while (i < s.length && s[i] !== '"') {
      const c = s[i];
      if (c === "\\") {
        w.text += s[i + 1] ?? "";
        i += 2;
      } else if (c === "`") {
        w.dynamic = true;
        i = this.list(i + 1, "`", true);
      } else if (c === "$") {
        i = this.dollar(i, w, captured);
      } else {
        w.text += c;
        i++;
      }
    }
    return i + 1;
  }

  private dollar(i: number, w: Word, _captured: boolean): number {
    const s = this.s;
    const n = s[i + 1];
    if (n === "(") {
      w.dynamic = true;
      if (s[i + 2] === "(") return skipParens(s, i + 1);
      return this.list(i + 2, ")", true);
    }
    if (n === "{") {
      w.dynamic = true;
      let depth = 0;
      let j = i + 1;
      for (; j < s.length; j++) {
        if (s[j] === "{") depth++;
        else if (s[j] === "}" && --depth === 0) break;
      }
      if (/\$\(|`/.test(s.slice(i, j))) this.unsure = true;
      w.text += s.slice(i, j + 1);
      return j + 1;
    }
    if (n === "'") {
      // $'...' ANSI-C quoting
      let j = i + 2;
      while (j < s.length && s[j] !== "'") j += s[j] === "\\" ? 2 : 1;
      w.text += s.slice(i + 2, j);
      return j + 1;
    }
    if (n !== undefined && /[A-Za-z0-9_@*#?$!-]/.test(n)) {
      w.dynamic = true;
      let j = i + 1;
      if (/[A-Za-z_]/.test(n)) while (j < s.length && /[A-Za-z0-9_]/.test(s[j])) j++;
      else j++;
      w.text += s.slice(i, j);
      return j;
    }
    w.text += "$";
    return i + 1;
  }
}

function newPiece(captured: boolean): Piece {
  return { words: [], captured, pipeNext: false, outRedirect: false, subshell: false };
}

/** Skip "((...))" starting at the first "("; returns the index after the closing parens. */
function skipParens(s: string, i: number): number {
  let depth = 0;
  for (; i < s.length; i++) {
    if (s[i] === "(") depth++;
    else if (s[i] === ")" && --depth === 0) return i + 1;
  }
  return i;
}

function isAssignment(w: Word): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(w.text);
}

/** The words of the command a piece runs, past keywords, assignments and exec/command/env/... wrappers. */
function commandWords(words: Word[]): Word[] {
  let j = 0;
  while (j < words.length && (PREFIX_KEYWORDS.has(words[j].text) || isAssignment(words[j]))) j++;
  for (;;) {
    const t = words[j]?.text;
    if (t === "exec" || t === "nohup" || t === "builtin" || t === "time") {
      j++;
      while (words[j]?.text.startsWith("-")) j++;
    } else if (t === "command") {
      if (/^-[a-zA-Z]*[vV]/.test(words[j + 1]?.text ?? "")) return []; // command -v: a lookup
      j++;
      while (words[j]?.text.startsWith("-")) j++;
    } else return words.slice(j);
  }
}

export interface Verdict {
  safe: boolean;
  reason?: string;
}

/** Decide for a whole argv (what the container runs) whether live streaming is accurate. */
export function streamSafeArgv(argv: string[], env: StreamSafetyEnv, depth = 0): Verdict {
  if (argv.length === 0) return { safe: true };
  if (depth > 4) return { safe: false, reason: "nesting too deep" };
  const name = argv[0];
  const base = path.posix.basename(name);
  if (SHELLS.has(base)) {
    const inv = parseShellArgs(argv.slice(1));
    if (inv.mode === "c") return streamSafeScript(inv.script, inv.params.slice(1), env, depth + 1);
    if (inv.mode === "file") {
      const text = env.readScript(inv.file);
      return text === undefined
        ? { safe: true }
        : streamSafeScript(text, inv.params.slice(1), env, depth + 1);
    }
    return { safe: true };
  }
  const script = name.includes("/") ? name : env.findScript(name);
  if (script !== undefined) {
    const text = env.readScript(script);
    if (text !== undefined) return streamSafeScript(text, argv.slice(1), env, depth + 1);
  }
  return { safe: true };
}

/**
 * Decide for a script text whether live streaming is accurate. `params` are the positional parameters
 * when known (so `exec "$@"` can be followed), undefined otherwise.
 */
export function streamSafeScript(
  text: string,
  params: string[] | undefined,
  env: StreamSafetyEnv,
  depth = 0,
): Verdict {
  if (depth > 4) return { safe: false, reason: "nesting too deep" };
  const sc = new Scanner(text);
  sc.list(0, "", false);
  if (sc.unsure) return { safe: false, reason: "expansion the scanner cannot follow" };
  const nested = (w: Word | undefined): boolean => {
    if (!w) return false;
    const t = w.text;
    if (w.dynamic) return true;
    if (t.includes("/") || sc.functions.has(t) || env.preludeFunctions.has(t) || NESTING_BUILTINS.has(t))
      return true;
    return !env.isBuiltin(t);
  };
  for (const p of sc.pieces) {
    const first = p.words[0]?.text ?? "";
    const compound = p.subshell || CLOSERS.has(first);
    const header = first === "for" || first === "select" || first === "case" || first === "function";
    const cw = header ? [] : commandWords(p.words);
    const cmd = cw[0];
    const nx = nested(cmd) || (cmd?.text === "find" && cw.some((w) => /^-(exec|execdir|ok)$/.test(w.text)));
    if (p.captured && (compound || OPENERS.has(first) || nx))
      return { safe: false, reason: `"${cmd?.text ?? first}" inside a command substitution` };
    if (p.pipeNext && (compound || nx))
      return { safe: false, reason: `"${cmd?.text ?? first}" piped into another command` };
    if (p.outRedirect && nx && !compound)
      return { safe: false, reason: `"${cmd?.text}" with its output redirected` };
    if (!p.captured && cmd && nx) {
      const v = followNested(cw, params, env, depth);
      if (!v.safe) return v;
    }
  }
  return { safe: true };
}

/** A nested shell/script run in plain stdout context: its own content must be stream-safe too. */
function followNested(
  cw: Word[],
  params: string[] | undefined,
  env: StreamSafetyEnv,
  depth: number,
): Verdict {
  const t = cw[0].text;
  if (cw[0].dynamic) {
    if ((t === "$@" || t === "${@}") && params) return streamSafeArgv(params, env, depth + 1);
    return { safe: false, reason: `dynamic command "${t}"` };
  }
  const rest = cw.slice(1);
  if (
    rest.some((w) => w.dynamic) &&
    (SHELLS.has(path.posix.basename(t)) || t === "source" || t === "." || t === "eval")
  ) {
    return { safe: false, reason: `"${t}" with dynamic arguments` };
  }
  if (t === "eval") return streamSafeScript(rest.map((w) => w.text).join(" "), params, env, depth + 1);
  if (t === "source" || t === ".") {
    const text = rest[0] ? env.readScript(rest[0].text) : undefined;
    return text === undefined ? { safe: true } : streamSafeScript(text, params, env, depth + 1);
  }
  return streamSafeArgv(
    cw.map((w) => w.text),
    env,
    depth + 1,
  );
}
