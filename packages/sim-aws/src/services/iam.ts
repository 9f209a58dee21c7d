import type { Simulator } from "../sim.js";
import { policyHandlers } from "./iam-policies.js";
import { roleHandlers } from "./iam-roles.js";
import { iamState, type Role } from "./iam-store.js";
import { userHandlers } from "./iam-users.js";

/** IAM (Query protocol, global: no region in its ARNs). */
export function register(sim: Simulator): void {
  sim.registerQuery({
    signingName: "iam",
    xmlns: "https://iam.amazonaws.com/doc/2010-05-08/",
    style: "aws",
    handlers: { ...roleHandlers(sim), ...policyHandlers(sim), ...userHandlers(sim) },
  });
}

/** The role an ARN (arn:aws:iam::ACCOUNT:role/path/name) names, if it exists in this account. */
export function roleByArn(sim: Simulator, arn: string): Role | undefined {
  const name = /^arn:aws:iam::\d{12}:role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(arn)?.[1];
  const r = name ? iamState(sim).data.roles[name.toLowerCase()] : undefined;
  return r && r.arn === arn ? r : undefined;
}

/** Whether a role ARN exists, for ECS task/execution roles and Lambda execution roles. */
export function roleExists(sim: Simulator, arn: string): boolean {
  return roleByArn(sim, arn) !== undefined;
}
