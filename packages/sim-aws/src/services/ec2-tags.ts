import { items } from "../protocols/query.js";
import type { QueryHandler, Simulator } from "../sim.js";
import { filters, list, missing, nested } from "./ec2-params.js";
import {
  ec2Error,
  ec2State,
  groupNotFound,
  invalidValue,
  matches,
  subnetNotFound,
  vpcNotFound,
  type Ec2State,
  type Tags,
} from "./ec2-store.js";

/** The taggable resource types, by id prefix. */
const TYPES: { prefix: string; type: string; table: keyof Ec2State; notFound: (id: string) => Error }[] = [
  { prefix: "vpc-", type: "vpc", table: "vpcs", notFound: vpcNotFound },
  { prefix: "subnet-", type: "subnet", table: "subnets", notFound: subnetNotFound },
  { prefix: "sg-", type: "security-group", table: "groups", notFound: groupNotFound },
  {
    prefix: "eni-",
    type: "network-interface",
    table: "enis",
    notFound: (id) =>
      ec2Error("InvalidNetworkInterfaceID.NotFound", `The networkInterface ID '${id}' does not exist`),
  },
];

export function tagHandlers(sim: Simulator): Record<string, QueryHandler> {
  const st = ec2State(sim);
  const resource = (id: string): { tags: Tags } => {
    const t = TYPES.find((x) => id.startsWith(x.prefix));
    if (!t) throw ec2Error("InvalidID", `The ID '${id}' is not valid`);
    const r = (st.data[t.table] as Record<string, { tags: Tags }>)[id];
    if (!r) throw t.notFound(id);
    return r;
  };
  const resourceIds = (p: Record<string, any>) => {
    const ids = list(p, "ResourceId").map(String);
    if (!ids.length) throw missing("resourceIdSet");
    return ids;
  };

  return {
    CreateTags(params) {
      const p = nested(params);
      const resources = resourceIds(p).map(resource);
      const tags = list(p, "Tag");
      if (!tags.length) throw missing("tagSet");
      for (const t of tags)
        if (String(t.Key ?? "").startsWith("aws:"))
          throw invalidValue("Tag keys starting with 'aws:' are reserved for internal use");
      for (const r of resources) {
        for (const t of tags) r.tags[String(t.Key)] = String(t.Value ?? "");
        if (Object.keys(r.tags).length > 50)
          throw ec2Error("TagLimitExceeded", "The maximum number of Tags for a resource has been reached.");
      }
      st.changed();
      return { return: true };
    },

    DeleteTags(params) {
      const p = nested(params);
      const resources = resourceIds(p).map(resource);
      const tags = list(p, "Tag");
      for (const r of resources) {
        // no tags named: delete all; a tag with a value: delete only on a match
        if (!tags.length) r.tags = {};
        for (const t of tags)
          if (t.Value === undefined || r.tags[t.Key] === String(t.Value)) delete r.tags[String(t.Key)];
      }
      st.changed();
      return { return: true };
    },

    DescribeTags(params) {
      const p = nested(params);
      const f = filters(p);
      const rows: { resourceId: string; resourceType: string; key: string; value: string }[] = [];
      for (const t of TYPES)
        for (const r of Object.values(st.data[t.table] as Record<string, { id: string; tags: Tags }>))
          for (const [key, value] of Object.entries(r.tags)) {
            const row = { resourceId: r.id, resourceType: t.type, key, value };
            const ok = matches(
              f,
              r.tags,
              (name) =>
                ({
                  key: [key],
                  value: [value],
                  "resource-id": [r.id],
                  "resource-type": [t.type],
                })[name],
            );
            if (ok) rows.push(row);
          }
      rows.sort((a, b) => (a.resourceId + a.key < b.resourceId + b.key ? -1 : 1));
      const max = p.MaxResults === undefined ? rows.length : Number(p.MaxResults);
      const start = p.NextToken ? Number(Buffer.from(String(p.NextToken), "base64url").toString("utf8")) : 0;
      if (!Number.isInteger(start) || !Number.isInteger(max) || max < 1)
        throw invalidValue("Invalid value for nextToken or maxResults");
      const page = rows.slice(start, start + max);
      return {
        tagSet: items(page),
        nextToken:
          start + max < rows.length ? Buffer.from(String(start + max)).toString("base64url") : undefined,
      };
    },
  };
}
