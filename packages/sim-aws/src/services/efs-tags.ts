import type { Simulator } from "../sim.js";
import { accessPointById } from "./efs-access-points.js";
import { fileSystemById } from "./efs-filesystems.js";
import { badRequest, efsRoute, efsState, mergeTags, paginate, validTags, type Tag } from "./efs-store.js";

/** Tags on file systems and access points: the resource-tags API and the older per-file-system one. */
export function registerTags(sim: Simulator): void {
  const st = efsState(sim);
  const resource = (id: string): { tags: Tag[] } =>
    /(^|\/)fsap-/.test(id) ? accessPointById(sim, id) : fileSystemById(sim, id);
  const add = (r: { tags: Tag[] }, tags: unknown) => {
    const t = validTags(tags);
    if (!t.length) throw badRequest("Tags is required");
    r.tags = mergeTags(r.tags, t);
    st.changed();
  };
  const remove = (r: { tags: Tag[] }, keys: string[]) => {
    r.tags = r.tags.filter((t) => !keys.includes(t.Key));
    st.changed();
  };
  const rest = (method: string, path: string, handler: Parameters<typeof efsRoute>[0]) =>
    sim.registerRest("elasticfilesystem", method, `/2015-02-01${path}`, efsRoute(handler));

  rest("POST", "/resource-tags/:ResourceId", async ({ params, json }) => {
    add(resource(params.ResourceId), (await json()).Tags);
    return { body: {} };
  });
  rest("DELETE", "/resource-tags/:ResourceId", async ({ params, query }) => {
    const keys = query.getAll("tagKeys");
    if (!keys.length) throw badRequest("tagKeys is required");
    remove(resource(params.ResourceId), keys);
    return { body: {} };
  });
  rest("GET", "/resource-tags/:ResourceId", async ({ params, query }) => {
    const { page, next } = paginate(
      resource(params.ResourceId).tags,
      query.get("NextToken"),
      query.get("MaxResults"),
    );
    return { body: { Tags: page, NextToken: next } };
  });

  // the older file-system-only tag operations
  rest("POST", "/create-tags/:FileSystemId", async ({ params, json }) => {
    add(fileSystemById(sim, params.FileSystemId), (await json()).Tags);
    return { status: 204 };
  });
  rest("POST", "/delete-tags/:FileSystemId", async ({ params, json }) => {
    const keys = (await json()).TagKeys;
    if (!Array.isArray(keys)) throw badRequest("TagKeys is required");
    remove(fileSystemById(sim, params.FileSystemId), keys);
    return { status: 204 };
  });
  rest("GET", "/tags/:FileSystemId", async ({ params, query }) => {
    const marker = query.get("Marker");
    const { page, next } = paginate(
      fileSystemById(sim, params.FileSystemId).tags,
      marker,
      query.get("MaxItems"),
    );
    return { body: { Tags: page, Marker: marker ?? undefined, NextMarker: next } };
  });
}
