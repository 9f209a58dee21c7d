export {
  AgentExecError,
  connectAgent,
  type AgentProcess,
  type AgentSession,
  type ConnectOptions,
  type ExecRequest,
  type PathStat,
  type SessionOptions,
} from "./client.js";
export { ReverseAgentHub, type HubOptions } from "./hub.js";
export { agentLayer, wrapImageConfig, type AgentLayer, type WrapOptions } from "./layer.js";
export { logMarkLine } from "./protocol.js";
