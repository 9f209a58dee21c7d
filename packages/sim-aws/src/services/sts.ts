import { AwsError } from "../errors.js";
import type { Simulator } from "../sim.js";
import { roleByArn } from "./iam.js";
import { callerIdentity, credentialsXml, issueSession } from "./sts-identity.js";

const validation = (message: string) => new AwsError("ValidationError", message);

function duration(params: Record<string, string>, min: number, max: number, fallback: number): number {
  const v = params.DurationSeconds;
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw validation(
      `1 validation error detected: Value '${v}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to ${min}`,
    );
  if (n > max)
    throw validation(
      `1 validation error detected: Value '${v}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to ${max}`,
    );
  return n;
}

/** STS (Query protocol): who is calling, and temporary credentials for roles and sessions. */
export function register(sim: Simulator): void {
  sim.registerQuery({
    signingName: "sts",
    xmlns: "https://sts.amazonaws.com/doc/2011-06-15/",
    style: "aws",
    handlers: {
      GetCallerIdentity(_params, call) {
        const { UserId, Account, Arn } = callerIdentity(sim, call.req);
        return { UserId, Account, Arn };
      },

      AssumeRole(params, call) {
        const roleArn = params.RoleArn ?? "";
        if (roleArn.length < 20)
          throw validation(
            `1 validation error detected: Value '${roleArn}' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20`,
          );
        const session = params.RoleSessionName ?? "";
        if (!/^[\w+=,.@-]{2,64}$/.test(session))
          throw validation(
            `1 validation error detected: Value '${session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`,
          );
        if (params.Policy !== undefined) {
          try {
            JSON.parse(params.Policy);
          } catch {
            throw new AwsError("MalformedPolicyDocument", "The policy is not in the valid JSON format.");
          }
        }
        const me = callerIdentity(sim, call.req);
        const role = roleByArn(sim, roleArn);
        // AWS does not reveal whether a role exists: a missing role is an authorization failure
        if (!role)
          throw new AwsError(
            "AccessDenied",
            `User: ${me.Arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
            403,
          );
        const seconds = duration(params, 900, 43200, 3600);
        if (me.kind === "session" && seconds > 3600)
          throw validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
          );
        if (seconds > role.maxSessionDuration)
          throw validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.");
        const arn = `arn:aws:sts::${sim.opts.account}:assumed-role/${role.name}/${session}`;
        const assumedRoleId = `${role.id}:${session}`;
        const s = issueSession(sim, seconds, arn, assumedRoleId);
        return {
          Credentials: credentialsXml(s),
          AssumedRoleUser: { AssumedRoleId: assumedRoleId, Arn: arn },
          ...(params.SourceIdentity ? { SourceIdentity: params.SourceIdentity } : {}),
        };
      },

      GetSessionToken(params, call) {
        const me = callerIdentity(sim, call.req);
        if (me.kind === "session")
          throw new AwsError("AccessDenied", "Cannot call GetSessionToken with session credentials", 403);
        const asked = duration(params, 900, 129600, 43200);
        // the account owner's (root) sessions are cut to an hour rather than refused
        const seconds = me.kind === "root" ? Math.min(asked, 3600) : asked;
        return { Credentials: credentialsXml(issueSession(sim, seconds, me.Arn, me.UserId)) };
      },

      GetAccessKeyInfo(params) {
        if (!params.AccessKeyId)
          throw validation(
            "1 validation error detected: Value null at 'accessKeyId' failed to satisfy constraint: Member must not be null",
          );
        return { Account: sim.opts.account };
      },
    },
  });
}
