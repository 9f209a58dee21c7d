import { AwsError } from "../errors.js";
import type { JsonHandler, Simulator } from "../sim.js";
import { instanceHandlers } from "./cloudmap-instances.js";
import { namespaceHandlers } from "./cloudmap-namespaces.js";
import { serviceHandlers } from "./cloudmap-services.js";
import { cloudMapState, filterMatch, paginate, required, type Tag } from "./cloudmap-store.js";

export { deregisterInstance, registerInstance } from "./cloudmap-instances.js";

/** AWS Cloud Map (JSON 1.1, signing name servicediscovery). */
export function register(sim: Simulator): void {
  sim.registerJson("Route53AutoNaming_v20170314", "servicediscovery", {
    ...namespaceHandlers(sim),
    ...serviceHandlers(sim),
    ...instanceHandlers(sim),
    ...operationHandlers(sim),
    ...tagHandlers(sim),
  });
}

function operationHandlers(sim: Simulator): Record<string, JsonHandler> {
  const st = cloudMapState(sim);
  return {
    GetOperation(input) {
      const id = required(input, "OperationId");
      const op = st.data.operations[id];
      if (!op) throw new AwsError("OperationNotFound", `Operation not found: ${id}`);
      return {
        Operation: {
          Id: op.id,
          OwnerAccount: sim.opts.account,
          Type: op.type,
          Status: op.status,
          CreateDate: op.created,
          UpdateDate: op.updated,
          Targets: op.targets,
        },
      };
    },

    ListOperations(input) {
      const ops = Object.values(st.data.operations).filter((o) =>
        filterMatch(
          input.Filters,
          (f) =>
            ({
              NAMESPACE_ID: o.targets.NAMESPACE,
              SERVICE_ID: o.targets.SERVICE,
              STATUS: o.status,
              TYPE: o.type,
            })[f],
        ),
      );
      const { page, NextToken } = paginate(ops, input);
      return { Operations: page.map((o) => ({ Id: o.id, Status: o.status })), NextToken };
    },
  };
}

function tagHandlers(sim: Simulator): Record<string, JsonHandler> {
  const st = cloudMapState(sim);
  const resource = (arn: string): { tags: Tag[] } => {
    const r = [...Object.values(st.data.namespaces), ...Object.values(st.data.services)].find(
      (x) => x.arn === arn,
    );
    if (!r) throw new AwsError("ResourceNotFoundException", `Resource not found: ${arn}`);
    return r;
  };
  return {
    TagResource(input) {
      const r = resource(required(input, "ResourceARN"));
      const byKey = new Map(r.tags.map((t) => [t.Key, t]));
      for (const t of (input.Tags ?? []) as Tag[]) byKey.set(t.Key, { Key: t.Key, Value: t.Value });
      if (byKey.size > 50)
        throw new AwsError("TooManyTagsException", "The resource can have at most 50 tags");
      r.tags = [...byKey.values()];
      st.changed();
      return {};
    },
    UntagResource(input) {
      const r = resource(required(input, "ResourceARN"));
      const keys = new Set((input.TagKeys ?? []) as string[]);
      r.tags = r.tags.filter((t) => !keys.has(t.Key));
      st.changed();
      return {};
    },
    ListTagsForResource(input) {
      return { Tags: resource(required(input, "ResourceARN")).tags };
    },
  };
}
