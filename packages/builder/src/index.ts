export {
  parseDockerfile,
  parseLine,
  type Instruction,
  type Flag,
  type ParsedDockerfile,
} from "./dockerfile.js";
export { processWord, processWords, splitRawWords, envMap, type Env } from "./words.js";
export { applyCommitChanges, applyConfigInstruction, type RunConfig, type ConfigState } from "./config.js";
export { Builder, type BuildOptions, type BuildMessage } from "./builder.js";
export { type BuildCacheItem } from "./cache.js";
