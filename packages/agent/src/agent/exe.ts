import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";

/** A start failure reported the way runc words it; dockerd answers exit code 126 for all of them. */
export class StartError extends Error {
  readonly exitCode = 126;
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function executable(file: string): "ok" | "missing" | "dir" | "denied" {
  let st;
  try {
    st = statSync(file);
  } catch {
    return "missing";
  }
  if (st.isDirectory()) return "dir";
  try {
    accessSync(file, constants.X_OK);
  } catch {
    return "denied";
  }
  return "ok";
}

/** Find `name` the way execvp would (PATH from the process's own environment), with runc's errors. */
export function resolveExecutable(name: string, env: string[], cwd: string): string {
  if (!name) throw new StartError(`exec: "": executable file not found in $PATH`);
  if (name.includes("/")) {
    const file = path.resolve(cwd, name);
    const r = executable(file);
    if (r === "missing") throw new StartError(`exec: "${name}": stat ${name}: no such file or directory`);
    if (r !== "ok") throw new StartError(`exec: "${name}": permission denied`);
    return file;
  }
  const pathVar = env.find((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
  for (const dir of pathVar.split(":")) {
    const file = path.resolve(cwd, dir || ".", name);
    if (executable(file) === "ok") return file;
  }
  throw new StartError(`exec: "${name}": executable file not found in $PATH`);
}

export function checkWorkdir(dir: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new StartError(`chdir to cwd ("${dir}") set in config.json failed: no such file or directory`);
  }
  if (!st.isDirectory())
    throw new StartError(`chdir to cwd ("${dir}") set in config.json failed: not a directory`);
}
