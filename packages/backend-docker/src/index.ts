export { DockerBackend, DEFAULT_NETWORK, ref, type DockerBackendOptions } from "./backend.js";
export { EngineClient, type EngineAddress, type EngineTls } from "./client.js";
export { LABEL_DAEMON, LABEL_ID } from "./create-body.js";
