/** Where the agent layer puts everything it ships, in every workload's filesystem. */
export const AGENT_ROOT = "/.sockerless";
