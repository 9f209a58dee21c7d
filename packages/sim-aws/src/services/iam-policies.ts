import { createHash } from "node:crypto";
import { AwsError } from "../errors.js";
import { members, queryStructList } from "../protocols/query.js";
import type { QueryHandler, Simulator } from "../sim.js";
import {
  NAME,
  alreadyExists,
  deleteConflict,
  encodeDoc,
  iamState,
  iamId,
  isoNow,
  limitExceeded,
  listPage,
  mergeTags,
  noSuchEntity,
  param,
  pathParam,
  policyDocument,
  tagsXml,
  validTags,
  type ManagedPolicy,
  type Role,
} from "./iam-store.js";

/** AWS's default quota of managed policies per role. */
const POLICIES_PER_ROLE = 10;
const AWS_MANAGED = /^arn:aws:iam::aws:policy((?:\/[\w+=,.@-]+)*\/)([\w+=,.@-]+)$/;

interface PolicyView {
  name: string;
  path: string;
  id: string;
  arn: string;
  defaultVersion: string;
  created: string;
  updated: string;
  description?: string;
  tags: ManagedPolicy["tags"];
}

/**
 * AWS managed policies exist in every account; the simulator knows their ARNs' shape but not
 * their documents, so they are attachable and describable, with metadata derived from the ARN.
 */
function awsManaged(arn: string): PolicyView | undefined {
  const m = AWS_MANAGED.exec(arn);
  if (!m) return undefined;
  const hash = createHash("sha256")
    .update(arn)
    .digest("base64")
    .replace(/[^A-Z2-7]/g, "");
  return {
    name: m[2],
    path: m[1],
    id: `ANPA${hash.slice(0, 17).padEnd(17, "A")}`,
    arn,
    defaultVersion: "v1",
    created: "2015-02-06T18:40:00Z",
    updated: "2015-02-06T18:40:00Z",
    tags: [],
  };
}

export function policyHandlers(sim: Simulator): Record<string, QueryHandler> {
  const st = iamState(sim);
  const roles = () => Object.values(st.data.roles);
  const attachments = (arn: string) => roles().filter((r) => r.attached.includes(arn)).length;

  const policyXml = (p: PolicyView, full: boolean) => ({
    PolicyName: p.name,
    PolicyId: p.id,
    Arn: p.arn,
    Path: p.path,
    DefaultVersionId: p.defaultVersion,
    AttachmentCount: attachments(p.arn),
    PermissionsBoundaryUsageCount: 0,
    IsAttachable: true,
    ...(full && p.description ? { Description: p.description } : {}),
    CreateDate: p.created,
    UpdateDate: p.updated,
    ...tagsXml(p.tags),
  });

  const arnParam = (params: Record<string, string>) => {
    const arn = param(params, "PolicyArn", { max: 2048 });
    if (!/^arn:aws:iam::(\d{12}|aws):policy\//.test(arn))
      throw new AwsError("InvalidInput", `ARN ${arn} is not valid.`);
    return arn;
  };
  const local = (params: Record<string, string>): ManagedPolicy => {
    const arn = arnParam(params);
    const p = st.data.policies[arn];
    if (!p) throw noSuchEntity(`Policy ${arn} does not exist or is not attachable.`);
    return p;
  };
  const anyPolicy = (arn: string): PolicyView | undefined => st.data.policies[arn] ?? awsManaged(arn);
  const role = (params: Record<string, string>): Role => {
    const name = param(params, "RoleName", { pattern: NAME, max: 64 });
    const r = st.data.roles[name.toLowerCase()];
    if (!r) throw noSuchEntity(`The role with name ${name} cannot be found.`);
    return r;
  };
  const versionXml = (p: ManagedPolicy, v: ManagedPolicy["versions"][number], withDoc: boolean) => ({
    ...(withDoc ? { Document: encodeDoc(v.document) } : {}),
    VersionId: v.id,
    IsDefaultVersion: v.id === p.defaultVersion,
    CreateDate: v.created,
  });

  return {
    CreatePolicy(params) {
      const name = param(params, "PolicyName", { pattern: NAME, max: 128 });
      const path = pathParam(params);
      const document = policyDocument(params, "PolicyDocument");
      const arn = `arn:aws:iam::${sim.opts.account}:policy${path}${name}`;
      if (
        Object.values(st.data.policies).some(
          (p) => p.name.toLowerCase() === name.toLowerCase() && p.path === path,
        )
      )
        throw alreadyExists(`A policy called ${name} already exists. Duplicate names are not allowed.`);
      const now = isoNow();
      const p: ManagedPolicy = {
        name,
        path,
        id: iamId("ANPA"),
        arn,
        description: params.Description,
        created: now,
        updated: now,
        defaultVersion: "v1",
        versions: [{ id: "v1", document, created: now }],
        nextVersion: 2,
        tags: mergeTags([], validTags(queryStructList(params, "Tags"))),
      };
      st.data.policies[arn] = p;
      st.changed();
      return { Policy: policyXml(p, false) };
    },

    GetPolicy(params) {
      const arn = arnParam(params);
      const p = anyPolicy(arn);
      if (!p) throw noSuchEntity(`Policy ${arn} was not found.`);
      return { Policy: policyXml(p, true) };
    },

    DeletePolicy(params) {
      const p = local(params);
      if (attachments(p.arn)) throw deleteConflict("Cannot delete a policy attached to entities.");
      if (p.versions.length > 1)
        throw deleteConflict(
          "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
        );
      delete st.data.policies[p.arn];
      st.changed();
      return {};
    },

    ListPolicies(params) {
      const scope = params.Scope ?? "All";
      const prefix = pathParam(params, "PathPrefix");
      // AWS managed policies are listed only once attached: their catalogue isn't simulated
      const aws = [...new Set(roles().flatMap((r) => r.attached))]
        .map(awsManaged)
        .filter((p) => p !== undefined);
      const pool: PolicyView[] = [
        ...(scope === "AWS" ? [] : Object.values(st.data.policies)),
        ...(scope === "Local" ? [] : aws),
      ];
      const matching = pool.filter(
        (p) => p.path.startsWith(prefix) && (params.OnlyAttached !== "true" || attachments(p.arn) > 0),
      );
      const page = listPage(matching, (p) => p.arn, params);
      return {
        Policies: members(page.items.map((p) => policyXml(p, false))),
        IsTruncated: page.IsTruncated,
        Marker: page.Marker,
      };
    },

    CreatePolicyVersion(params) {
      const p = local(params);
      const document = policyDocument(params, "PolicyDocument");
      if (p.versions.length >= 5)
        throw limitExceeded(
          "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
        );
      const v = { id: `v${p.nextVersion++}`, document, created: isoNow() };
      p.versions.push(v);
      if (params.SetAsDefault === "true") p.defaultVersion = v.id;
      p.updated = v.created;
      st.changed();
      return { PolicyVersion: versionXml(p, v, false) };
    },

    GetPolicyVersion(params) {
      const p = local(params);
      const id = param(params, "VersionId");
      const v = p.versions.find((x) => x.id === id);
      if (!v) throw noSuchEntity(`Policy ${p.arn} version ${id} does not exist or is not attachable.`);
      return { PolicyVersion: versionXml(p, v, true) };
    },

    ListPolicyVersions(params) {
      const p = local(params);
      return { Versions: members(p.versions.map((v) => versionXml(p, v, false))), IsTruncated: false };
    },

    SetDefaultPolicyVersion(params) {
      const p = local(params);
      const id = param(params, "VersionId");
      if (!p.versions.some((v) => v.id === id))
        throw noSuchEntity(`Policy ${p.arn} version ${id} does not exist or is not attachable.`);
      p.defaultVersion = id;
      st.changed();
      return {};
    },

    DeletePolicyVersion(params) {
      const p = local(params);
      const id = param(params, "VersionId");
      if (!p.versions.some((v) => v.id === id))
        throw noSuchEntity(`Policy ${p.arn} version ${id} does not exist or is not attachable.`);
      if (id === p.defaultVersion) throw deleteConflict("Cannot delete the default version of a policy.");
      p.versions = p.versions.filter((v) => v.id !== id);
      st.changed();
      return {};
    },

    AttachRolePolicy(params) {
      const r = role(params);
      const arn = arnParam(params);
      if (!anyPolicy(arn)) throw noSuchEntity(`Policy ${arn} does not exist or is not attachable.`);
      if (r.attached.includes(arn)) return {};
      if (r.attached.length >= POLICIES_PER_ROLE)
        throw limitExceeded(`Cannot exceed quota for PoliciesPerRole: ${POLICIES_PER_ROLE}`);
      r.attached.push(arn);
      st.changed();
      return {};
    },

    DetachRolePolicy(params) {
      const r = role(params);
      const arn = arnParam(params);
      if (!r.attached.includes(arn)) throw noSuchEntity(`Policy ${arn} was not found.`);
      r.attached = r.attached.filter((a) => a !== arn);
      st.changed();
      return {};
    },

    ListAttachedRolePolicies(params) {
      const r = role(params);
      const prefix = pathParam(params, "PathPrefix");
      const attached = r.attached.map((arn) => anyPolicy(arn)).filter((p) => p && p.path.startsWith(prefix));
      const page = listPage(attached as PolicyView[], (p) => p.arn, params);
      return {
        AttachedPolicies: members(page.items.map((p) => ({ PolicyName: p.name, PolicyArn: p.arn }))),
        IsTruncated: page.IsTruncated,
        Marker: page.Marker,
      };
    },
  };
}
