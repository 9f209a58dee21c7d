import type { JsonHandler } from "../sim.js";
import { clusterNotFound, invalidParam, mergeTags, reqStr, strList, tags } from "./ecs-input.js";
import { type Ecs, type Tag, parseArn } from "./ecs-model.js";

/** TagResource, UntagResource, ListTagsForResource on clusters, task definitions and tasks. */

/** The tag list of the resource an ARN names, to read and replace. */
function tagged(ecs: Ecs, arn: string): { get: () => Tag[]; set: (t: Tag[]) => void } {
  const p = parseArn(arn);
  if (!p) throw invalidParam("Invalid ARN: the resourceArn is not a valid Amazon ECS resource ARN.");
  const kind = p.resource.split("/")[0];
  const d = ecs.store.data;
  if (kind === "cluster") {
    const c = d.clusters[arn];
    if (!c || c.status !== "ACTIVE") throw clusterNotFound();
    return { get: () => c.tags, set: (t) => (c.tags = t) };
  }
  if (kind === "task-definition") {
    const td = d.taskDefs[arn];
    if (!td) throw invalidParam("The specified task definition does not exist.");
    return { get: () => td.tags, set: (t) => (td.tags = t) };
  }
  if (kind === "task") {
    const rec = d.tasks[p.resource.split("/").pop()!];
    if (!rec || rec.task.taskArn !== arn) throw invalidParam("The specified task does not exist.");
    return { get: () => rec.task.tags ?? [], set: (t) => (rec.task.tags = t) };
  }
  throw invalidParam(`The specified resource is not found: ${arn}`);
}

export function tagHandlers(ecs: Ecs): Record<string, JsonHandler> {
  return {
    TagResource(input) {
      const arn = reqStr(input, "resourceArn", "resourceArn can not be blank.");
      const add = tags(input);
      if (!add) throw invalidParam("tags can not be empty.");
      const r = tagged(ecs, arn);
      const merged = mergeTags(r.get(), add);
      if (merged.length > 50) throw invalidParam("Tags can not exceed 50 in number.");
      r.set(merged);
      ecs.store.changed();
      return {};
    },

    UntagResource(input) {
      const arn = reqStr(input, "resourceArn", "resourceArn can not be blank.");
      const keys = strList(input, "tagKeys");
      if (!keys) throw invalidParam("tagKeys can not be empty.");
      const r = tagged(ecs, arn);
      r.set(r.get().filter((t) => !keys.includes(t.key)));
      ecs.store.changed();
      return {};
    },

    ListTagsForResource(input) {
      const arn = reqStr(input, "resourceArn", "resourceArn can not be blank.");
      return { tags: tagged(ecs, arn).get() };
    },
  };
}
