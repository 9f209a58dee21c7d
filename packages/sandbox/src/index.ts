export * from "./types.js";
export { spawnSandbox, parseSignal } from "./sandbox.js";
export {
  resolveCommand,
  resolveUser,
  parseShellArgs,
  builtinCommands,
  DEFAULT_PATH,
  type CommandResolution,
  type StartError,
  type UserInfo,
  type ShellInvocation,
} from "./command.js";
export { isElf } from "./rootfs.js";
