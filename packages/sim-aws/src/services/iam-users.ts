import { AwsError } from "../errors.js";
import { members, queryStructList } from "../protocols/query.js";
import type { QueryHandler, Simulator } from "../sim.js";
import {
  NAME,
  alreadyExists,
  deleteConflict,
  iamId,
  iamState,
  isoNow,
  limitExceeded,
  listPage,
  mergeTags,
  noSuchEntity,
  param,
  pathParam,
  tagsXml,
  validTags,
  type User,
} from "./iam-store.js";
import { accessKeyId, callerIdentity, secretKey } from "./sts-identity.js";

const userXml = (u: User) => ({
  Path: u.path,
  UserName: u.name,
  UserId: u.id,
  Arn: u.arn,
  CreateDate: u.created,
  ...tagsXml(u.tags),
});

/** Users and their access keys (enough to sign requests as a user and see it in GetCallerIdentity). */
export function userHandlers(sim: Simulator): Record<string, QueryHandler> {
  const st = iamState(sim);
  const userName = (params: Record<string, string>) => param(params, "UserName", { pattern: NAME, max: 64 });
  const user = (name: string): User => {
    const u = st.data.users[name.toLowerCase()];
    if (!u) throw noSuchEntity(`The user with name ${name} cannot be found.`);
    u.keys ??= [];
    return u;
  };

  return {
    CreateUser(params) {
      const name = userName(params);
      const path = pathParam(params);
      if (st.data.users[name.toLowerCase()]) throw alreadyExists(`User with name ${name} already exists.`);
      const u: User = {
        name,
        path,
        id: iamId("AIDA"),
        arn: `arn:aws:iam::${sim.opts.account}:user${path}${name}`,
        created: isoNow(),
        tags: mergeTags([], validTags(queryStructList(params, "Tags"))),
        keys: [],
      };
      st.data.users[name.toLowerCase()] = u;
      st.changed();
      return { User: userXml(u) };
    },

    GetUser(params, call) {
      if (params.UserName) return { User: userXml(user(userName(params))) };
      // without a name: the caller, which must be a user (or root)
      const me = callerIdentity(sim, call.req);
      if (me.kind === "session")
        throw new AwsError("ValidationError", "Must specify userName when calling with non-User credentials");
      if (me.kind === "user") return { User: userXml(user(me.Arn.split("/").pop()!)) };
      if (!st.data.accountCreated) {
        st.data.accountCreated = isoNow();
        st.changed();
      }
      return { User: { UserId: me.UserId, Arn: me.Arn, CreateDate: st.data.accountCreated } };
    },

    DeleteUser(params) {
      const u = user(userName(params));
      if (u.keys.length) throw deleteConflict("Cannot delete entity, must delete access keys first.");
      delete st.data.users[u.name.toLowerCase()];
      st.changed();
      return {};
    },

    ListUsers(params) {
      const prefix = pathParam(params, "PathPrefix");
      const users = Object.values(st.data.users).filter((u) => u.path.startsWith(prefix));
      const p = listPage(users, (u) => u.name.toLowerCase(), params);
      return {
        Users: members(p.items.map((u) => ({ ...userXml(u), Tags: undefined }))),
        IsTruncated: p.IsTruncated,
        Marker: p.Marker,
      };
    },

    CreateAccessKey(params) {
      const u = user(userName(params));
      if (u.keys.length >= 2) throw limitExceeded("Cannot exceed quota for AccessKeysPerUser: 2");
      const k = {
        id: accessKeyId("AKIA"),
        secret: secretKey(),
        status: "Active" as const,
        created: isoNow(),
      };
      u.keys.push(k);
      st.changed();
      return {
        AccessKey: {
          UserName: u.name,
          AccessKeyId: k.id,
          Status: k.status,
          SecretAccessKey: k.secret,
          CreateDate: k.created,
        },
      };
    },

    ListAccessKeys(params) {
      const u = user(userName(params));
      return {
        AccessKeyMetadata: members(
          u.keys.map((k) => ({
            UserName: u.name,
            AccessKeyId: k.id,
            Status: k.status,
            CreateDate: k.created,
          })),
        ),
        IsTruncated: false,
      };
    },

    DeleteAccessKey(params) {
      const u = user(userName(params));
      const id = param(params, "AccessKeyId");
      if (!u.keys.some((k) => k.id === id))
        throw noSuchEntity(`The Access Key with id ${id} cannot be found.`);
      u.keys = u.keys.filter((k) => k.id !== id);
      st.changed();
      return {};
    },
  };
}
