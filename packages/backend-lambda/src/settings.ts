import type { AgentSettings, AwsSettings } from "@sockerless/cloud-aws";

/** `sockerless serve --backend lambda` settings (flags or SOCKERLESS_LAMBDA_* variables). */
export interface LambdaSettings extends AwsSettings {
  roleArn: string;
  /** MemorySize when the container sets no memory limit */
  memoryMb: number;
  /** the function timeout: the longest a container can run */
  timeoutSec: number;
  /** function names are <prefix><container id[:12]>; also the scope a daemon recovers */
  functionPrefix: string;
  /** how long a new function may take to become Active (its image pull) */
  startTimeoutMs: number;
  /** the agent in every execution environment dials back here */
  agent: AgentSettings;
  /** derives each container's agent token; daemons sharing it accept each other's agents */
  agentSecret?: string;
  /** where images with the agent layer are pushed */
  ecrRepository: string;
}

export const LAMBDA_DEFAULTS = {
  memoryMb: 1024,
  timeoutSec: 900,
  functionPrefix: "sockerless-",
  startTimeoutMs: 300_000,
  ecrRepository: "sockerless",
};
