import type { AgentSettings, AwsSettings } from "@sockerless/cloud-aws";

/** `sockerless serve --backend ecs` settings (flags or SOCKERLESS_ECS_* variables). */
export interface EcsSettings extends AwsSettings {
  cluster: string;
  /** awsvpc subnets; none: the default VPC's default subnets */
  subnets: string[];
  securityGroups: string[];
  /** pulls from ECR and awslogs on Fargate need it */
  executionRoleArn: string;
  taskRoleArn?: string;
  logGroup: string;
  assignPublicIp: boolean;
  /** Fargate task size when the container sets no memory limit */
  cpu: string;
  memory: string;
  /** the agent in every task dials back here */
  agent: AgentSettings;
  /** derives each container's agent token; daemons sharing it accept each other's agents */
  agentSecret?: string;
  /** where images with the agent layer are pushed */
  ecrRepository: string;
}

export const ECS_DEFAULTS = {
  cluster: "sockerless",
  logGroup: "/sockerless",
  cpu: "256",
  memory: "512",
  ecrRepository: "sockerless",
};
