import { items } from "../protocols/query.js";
import type { Call, QueryHandler, Simulator } from "../sim.js";
import { filters, list, nested, required, tagSpecs } from "./ec2-params.js";
import {
  ec2Error,
  ec2Id,
  ec2State,
  groupNotFound,
  invalidValue,
  matches,
  nextSeq,
  paged,
  tagSet,
  vpcNotFound,
  type Rule,
  type SecurityGroup,
} from "./ec2-store.js";
import { describeRule, permissionsXml, ruleSpecs, sameRule, type RuleSpec } from "./ec2-rules.js";

/** A new group: VPC groups allow all egress; a VPC's default group also admits its own members. */
export function createGroup(
  sim: Simulator,
  g: { name: string; description: string; vpcId: string; isDefault?: boolean; tags?: Record<string, string> },
): SecurityGroup {
  const st = ec2State(sim);
  const id = ec2Id("sg");
  const rules: Rule[] = [{ id: ec2Id("sgr"), egress: true, protocol: "-1", cidr: "0.0.0.0/0" }];
  if (g.isDefault) rules.unshift({ id: ec2Id("sgr"), egress: false, protocol: "-1", groupId: id });
  const group: SecurityGroup = {
    id,
    seq: nextSeq(st),
    tags: g.tags ?? {},
    name: g.name,
    description: g.description,
    vpcId: g.vpcId,
    rules,
  };
  st.data.groups[id] = group;
  st.changed();
  return group;
}

export function groupHandlers(sim: Simulator): Record<string, QueryHandler> {
  const st = ec2State(sim);
  const owner = sim.opts.account;
  const defaultVpc = () => Object.values(st.data.vpcs).find((v) => v.isDefault);
  const groupArn = (g: SecurityGroup, call: Call) => sim.arn("ec2", `security-group/${g.id}`, call.region);

  /** GroupId, or GroupName within the default VPC (as EC2 resolves names). */
  const target = (p: Record<string, any>): SecurityGroup => {
    if (p.GroupId) {
      const g = st.data.groups[p.GroupId];
      if (!g) throw groupNotFound(p.GroupId);
      return g;
    }
    if (!p.GroupName) throw ec2Error("MissingParameter", "The request must contain the parameter groupId");
    const vpc = defaultVpc();
    const g = Object.values(st.data.groups).find((x) => x.vpcId === vpc?.id && x.name === p.GroupName);
    if (!g)
      throw ec2Error(
        "InvalidGroup.NotFound",
        `The security group '${p.GroupName}' does not exist in default VPC '${vpc?.id ?? "none"}'`,
      );
    return g;
  };

  const ruleXml = (g: SecurityGroup, r: Rule, call: Call) => ({
    securityGroupRuleId: r.id,
    groupId: g.id,
    groupOwnerId: owner,
    isEgress: r.egress,
    ipProtocol: r.protocol,
    fromPort: r.from ?? -1,
    toPort: r.to ?? -1,
    cidrIpv4: r.cidr,
    cidrIpv6: r.cidrV6,
    ...(r.groupId ? { referencedGroupInfo: { groupId: r.groupId, userId: owner } } : {}),
    description: r.description,
    securityGroupRuleArn: sim.arn("ec2", `security-group-rule/${r.id}`, call.region),
  });

  const authorize =
    (egress: boolean): QueryHandler =>
    (params, call) => {
      const p = nested(params);
      const g = target(p);
      const specs = ruleSpecs(sim, p, egress);
      specs.forEach((s, i) => {
        if (g.rules.some((r) => sameRule(r, s)) || specs.slice(0, i).some((o) => sameRule(o, s)))
          throw ec2Error(
            "InvalidPermission.Duplicate",
            `the specified rule "${describeRule(s)}" already exists`,
          );
      });
      const added = specs.map((s) => ({ id: ec2Id("sgr"), ...s }));
      g.rules.push(...added);
      st.changed();
      return { return: true, securityGroupRuleSet: items(added.map((r) => ruleXml(g, r, call))) };
    };

  const revoke =
    (egress: boolean): QueryHandler =>
    (params, call) => {
      const p = nested(params);
      const g = target(p);
      const ids = list(p, "SecurityGroupRuleId").map(String);
      let gone: Rule[];
      let unknown: RuleSpec[] = [];
      if (ids.length) {
        gone = g.rules.filter((r) => ids.includes(r.id) && r.egress === egress);
        if (gone.length < ids.length)
          throw ec2Error(
            "InvalidSecurityGroupRuleId.NotFound",
            "The specified security group rule does not exist.",
          );
      } else {
        const specs = ruleSpecs(sim, p, egress);
        gone = g.rules.filter((r) => specs.some((s) => sameRule(r, s)));
        unknown = specs.filter((s) => !gone.some((r) => sameRule(r, s)));
      }
      g.rules = g.rules.filter((r) => !gone.includes(r));
      st.changed();
      // rules that did not exist are reported back rather than failing the call
      return {
        return: unknown.length === 0,
        ...(unknown.length ? { unknownIpPermissionSet: permissionsXml(unknown as Rule[], owner) } : {}),
        revokedSecurityGroupRuleSet: items(gone.map((r) => ruleXml(g, r, call))),
      };
    };

  const fields = (g: SecurityGroup) => (name: string) => {
    const ing = g.rules.filter((r) => !r.egress);
    const eg = g.rules.filter((r) => r.egress);
    return (
      {
        "group-id": [g.id],
        "group-name": [g.name],
        "vpc-id": [g.vpcId],
        description: [g.description],
        "owner-id": [owner],
        "ip-permission.protocol": ing.map((r) => r.protocol),
        "ip-permission.from-port": ing.map((r) => r.from),
        "ip-permission.to-port": ing.map((r) => r.to),
        "ip-permission.cidr": ing.map((r) => r.cidr),
        "ip-permission.group-id": ing.map((r) => r.groupId),
        "egress.ip-permission.protocol": eg.map((r) => r.protocol),
        "egress.ip-permission.cidr": eg.map((r) => r.cidr),
      } as Record<string, (string | number | undefined)[]>
    )[name];
  };

  return {
    CreateSecurityGroup(params, call) {
      const p = nested(params);
      const name = required(p, "GroupName", "groupName");
      const description = required(p, "GroupDescription", "groupDescription");
      if (name.startsWith("sg-")) throw invalidValue("Group names may not be in the format sg-*.");
      if (name.length > 255)
        throw invalidValue(`Invalid value '${name}' for groupName. Length exceeds maximum of 255`);
      const vpcId = p.VpcId ?? defaultVpc()?.id;
      if (!vpcId) throw ec2Error("VPCIdNotSpecified", "No default VPC for this user");
      if (!st.data.vpcs[vpcId]) throw vpcNotFound(vpcId);
      if (Object.values(st.data.groups).some((g) => g.vpcId === vpcId && g.name === name))
        throw ec2Error(
          "InvalidGroup.Duplicate",
          `The security group '${name}' already exists for VPC '${vpcId}'`,
        );
      const g = createGroup(sim, { name, description, vpcId, tags: tagSpecs(p, "security-group") });
      return { return: true, groupId: g.id, securityGroupArn: groupArn(g, call), ...tagSet(g.tags) };
    },

    DescribeSecurityGroups(params, call) {
      const p = nested(params);
      const ids = list(p, "GroupId").map(String);
      const names = list(p, "GroupName").map(String);
      const missingIds = ids.filter((id) => !st.data.groups[id]);
      if (missingIds.length) throw groupNotFound(missingIds.join(", "));
      const byName = names.map((n) => target({ GroupName: n }).id);
      const f = filters(p);
      const found = Object.values(st.data.groups).filter(
        (g) =>
          (!ids.length || ids.includes(g.id)) &&
          (!names.length || byName.includes(g.id)) &&
          matches(f, g.tags, fields(g)),
      );
      const { page, nextToken } = paged(found, p);
      return {
        securityGroupInfo: items(
          page.map((g) => ({
            ownerId: owner,
            groupId: g.id,
            groupName: g.name,
            groupDescription: g.description,
            vpcId: g.vpcId,
            securityGroupArn: groupArn(g, call),
            ipPermissions: permissionsXml(
              g.rules.filter((r) => !r.egress),
              owner,
            ),
            ipPermissionsEgress: permissionsXml(
              g.rules.filter((r) => r.egress),
              owner,
            ),
            ...tagSet(g.tags),
          })),
        ),
        nextToken,
      };
    },

    DeleteSecurityGroup(params) {
      const g = target(nested(params));
      if (g.name === "default")
        throw ec2Error(
          "CannotDelete",
          `the specified group: "${g.id}" name: "default" cannot be deleted by a user`,
        );
      const referenced = Object.values(st.data.groups).some(
        (o) => o.id !== g.id && o.rules.some((r) => r.groupId === g.id),
      );
      const inUse = Object.values(st.data.enis).some((e) => e.groups.includes(g.id));
      if (referenced || inUse)
        throw ec2Error("DependencyViolation", `resource ${g.id} has a dependent object`);
      delete st.data.groups[g.id];
      st.changed();
      return { return: true, groupId: g.id };
    },

    AuthorizeSecurityGroupIngress: authorize(false),
    AuthorizeSecurityGroupEgress: authorize(true),
    RevokeSecurityGroupIngress: revoke(false),
    RevokeSecurityGroupEgress: revoke(true),
  };
}
