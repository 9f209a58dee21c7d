export * from "./types.js";
export * from "./docker-types.js";
export {
  parseReference,
  parseNamed,
  familiarString,
  familiarNameOf,
  fullName,
  validateTag,
  DEFAULT_DOMAIN,
} from "./reference.js";
export { sha256, shortId, chainIds } from "./digest.js";
export { hostPlatform, normalizePlatform, parsePlatform, formatPlatform, platformScore } from "./platform.js";
export { MEDIA_TYPES, MANIFEST_ACCEPT, parseManifest } from "./manifest.js";
export {
  RegistryClient,
  RegistryResponseError,
  EndpointError,
  registryEndpoints,
  isInsecureRegistry,
  cidrContains,
  DOCKER_HUB_REGISTRY,
  type RegistryEndpoint,
} from "./registry-client.js";
export { parseChallenges, type Challenge } from "./auth.js";
export { unpackLayer, containedSymlinkTarget, cleanEntryName, type UnpackLayerResult } from "./unpack.js";
export { pullImage, type PullOptions } from "./pull.js";
export { pushImage, type PushOptions } from "./push.js";
export { login, loginDomain } from "./login.js";
export { saveImages } from "./save.js";
export { loadImages, type LoadOptions } from "./load.js";
export { importImage, type ImportOptions } from "./import.js";
export { compressionOf, decompress, decompressedStream, type Compression } from "./compression.js";
export { humanSize, progressBar } from "./progress.js";
export { parseTimestamp, parseGoDuration, matchLabels } from "./filters.js";
export { ImageStore } from "./store.js";
export { copyTree } from "./copy-tree.js";
export { buildManifest, layerDescriptors, type CreateImageInput } from "./create.js";
