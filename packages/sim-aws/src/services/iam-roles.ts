import { AwsError } from "../errors.js";
import { members, queryList, queryStructList } from "../protocols/query.js";
import type { QueryHandler, Simulator } from "../sim.js";
import {
  NAME,
  alreadyExists,
  deleteConflict,
  encodeDoc,
  iamId,
  iamState,
  isoNow,
  listPage,
  mergeTags,
  noSuchEntity,
  param,
  pathParam,
  policyDocument,
  tagsXml,
  validTags,
  type Role,
} from "./iam-store.js";

export function roleXml(r: Role, full = true) {
  return {
    Path: r.path,
    RoleName: r.name,
    RoleId: r.id,
    Arn: r.arn,
    CreateDate: r.created,
    AssumeRolePolicyDocument: encodeDoc(r.trust),
    Description: r.description,
    MaxSessionDuration: r.maxSessionDuration,
    // ListRoles leaves out the boundary, tags and last use, as IAM does
    ...(full && r.permissionsBoundary
      ? {
          PermissionsBoundary: {
            PermissionsBoundaryType: "Policy",
            PermissionsBoundaryArn: r.permissionsBoundary,
          },
        }
      : {}),
    ...(full ? tagsXml(r.tags) : {}),
    ...(full ? { RoleLastUsed: {} } : {}),
  };
}

function sessionDuration(params: Record<string, string>): number | undefined {
  const v = params.MaxSessionDuration;
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 3600 || n > 43200)
    throw new AwsError(
      "ValidationError",
      `1 validation error detected: Value '${v}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200`,
    );
  return n;
}

export function roleHandlers(sim: Simulator): Record<string, QueryHandler> {
  const st = iamState(sim);
  const roleName = (params: Record<string, string>) => param(params, "RoleName", { pattern: NAME, max: 64 });
  const role = (params: Record<string, string>): Role => {
    const name = roleName(params);
    const r = st.data.roles[name.toLowerCase()];
    if (!r) throw noSuchEntity(`The role with name ${name} cannot be found.`);
    return r;
  };

  return {
    CreateRole(params) {
      const name = roleName(params);
      const path = pathParam(params);
      const trust = policyDocument(params, "AssumeRolePolicyDocument");
      if (st.data.roles[name.toLowerCase()]) throw alreadyExists(`Role with name ${name} already exists.`);
      const r: Role = {
        name,
        path,
        id: iamId("AROA"),
        arn: `arn:aws:iam::${sim.opts.account}:role${path}${name}`,
        created: isoNow(),
        trust,
        description: params.Description,
        maxSessionDuration: sessionDuration(params) ?? 3600,
        permissionsBoundary: params.PermissionsBoundary,
        tags: mergeTags([], validTags(queryStructList(params, "Tags"))),
        attached: [],
        inline: {},
      };
      st.data.roles[name.toLowerCase()] = r;
      st.changed();
      return { Role: roleXml(r) };
    },

    GetRole(params) {
      return { Role: roleXml(role(params)) };
    },

    DeleteRole(params) {
      const r = role(params);
      if (r.attached.length) throw deleteConflict("Cannot delete entity, must detach all policies first.");
      if (Object.keys(r.inline).length)
        throw deleteConflict("Cannot delete entity, must delete policies first.");
      delete st.data.roles[r.name.toLowerCase()];
      st.changed();
      return {};
    },

    ListRoles(params) {
      const prefix = pathParam(params, "PathPrefix");
      const roles = Object.values(st.data.roles).filter((r) => r.path.startsWith(prefix));
      const p = listPage(roles, (r) => r.name.toLowerCase(), params);
      return {
        Roles: members(p.items.map((r) => roleXml(r, false))),
        IsTruncated: p.IsTruncated,
        Marker: p.Marker,
      };
    },

    UpdateRole(params) {
      const r = role(params);
      if (params.Description !== undefined) r.description = params.Description;
      r.maxSessionDuration = sessionDuration(params) ?? r.maxSessionDuration;
      st.changed();
      return {};
    },

    UpdateAssumeRolePolicy(params) {
      const r = role(params);
      r.trust = policyDocument(params, "PolicyDocument");
      st.changed();
      return {};
    },

    TagRole(params) {
      const r = role(params);
      r.tags = mergeTags(r.tags, validTags(queryStructList(params, "Tags")));
      st.changed();
      return {};
    },

    UntagRole(params) {
      const r = role(params);
      const keys = new Set(queryList(params, "TagKeys"));
      r.tags = r.tags.filter((t) => !keys.has(t.Key));
      st.changed();
      return {};
    },

    ListRoleTags(params) {
      const r = role(params);
      const p = listPage(r.tags, (t) => t.Key, params);
      return { Tags: members(p.items), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },

    PutRolePolicy(params) {
      const r = role(params);
      const name = param(params, "PolicyName", { pattern: NAME, max: 128 });
      r.inline[name] = policyDocument(params, "PolicyDocument");
      st.changed();
      return {};
    },

    GetRolePolicy(params) {
      const r = role(params);
      const name = param(params, "PolicyName", { pattern: NAME, max: 128 });
      const doc = r.inline[name];
      if (doc === undefined) throw noSuchEntity(`The role policy with name ${name} cannot be found.`);
      return { RoleName: r.name, PolicyName: name, PolicyDocument: encodeDoc(doc) };
    },

    DeleteRolePolicy(params) {
      const r = role(params);
      const name = param(params, "PolicyName", { pattern: NAME, max: 128 });
      if (r.inline[name] === undefined)
        throw noSuchEntity(`The role policy with name ${name} cannot be found.`);
      delete r.inline[name];
      st.changed();
      return {};
    },

    ListRolePolicies(params) {
      const r = role(params);
      const p = listPage(Object.keys(r.inline), (n) => n, params);
      return { PolicyNames: members(p.items), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },

    // instance profiles are not simulated, so a role never has any (Terraform asks before deleting)
    ListInstanceProfilesForRole(params) {
      role(params);
      return { InstanceProfiles: members([]), IsTruncated: false };
    },
  };
}
