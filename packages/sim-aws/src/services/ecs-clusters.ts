import { AwsError } from "../errors.js";
import type { Call, JsonHandler } from "../sim.js";
import { clusterNotFound, invalidParam, list, paginate, str, strList, tags } from "./ecs-input.js";
import { type ClusterRec, type Ecs, type Json, parseArn, snapshot } from "./ecs-model.js";

/** Clusters: create (idempotent by name), describe, list, delete; "default" made on first use. */

const NAME = /^[a-zA-Z0-9_-]{1,255}$/;

export function clusterArnOf(ecs: Ecs, call: Call, ref: string): string {
  if (ref.startsWith("arn:")) return ref;
  return ecs.sim.arn("ecs", `cluster/${ref}`, call.region);
}

export function clusterNameOf(arn: string): string {
  return parseArn(arn)?.resource.replace(/^cluster\//, "") ?? arn;
}

/** The ACTIVE cluster a request names (default "default"), or ClusterNotFoundException. */
export function findCluster(
  ecs: Ecs,
  call: Call,
  ref: string | undefined,
  createDefault = false,
): ClusterRec {
  const arn = clusterArnOf(ecs, call, ref || "default");
  const c = ecs.store.data.clusters[arn];
  if (c?.status === "ACTIVE") return c;
  // AWS makes the "default" cluster the first time something is launched into it
  if (createDefault && clusterNameOf(arn) === "default") return createClusterRec(ecs, call, "default", []);
  throw clusterNotFound();
}

function createClusterRec(ecs: Ecs, call: Call, name: string, tagList: Json[], extra: Json = {}): ClusterRec {
  const arn = ecs.sim.arn("ecs", `cluster/${name}`, call.region);
  const existing = ecs.store.data.clusters[arn];
  if (existing?.status === "ACTIVE") return existing;
  const rec: ClusterRec = {
    clusterArn: arn,
    clusterName: name,
    status: "ACTIVE",
    tags: tagList as ClusterRec["tags"],
    settings: extra.settings ?? [{ name: "containerInsights", value: "disabled" }],
    configuration: extra.configuration,
    capacityProviders: extra.capacityProviders ?? [],
    defaultCapacityProviderStrategy: extra.defaultCapacityProviderStrategy ?? [],
  };
  ecs.store.data.clusters[arn] = rec;
  ecs.store.changed();
  return rec;
}

/** The Cluster shape; task counts come from the tasks themselves. */
export function clusterView(ecs: Ecs, c: ClusterRec, include: string[] = ["TAGS", "SETTINGS"]): Json {
  let running = 0;
  let pending = 0;
  if (c.status === "ACTIVE")
    for (const t of Object.values(ecs.store.data.tasks)) {
      if (t.task.clusterArn !== c.clusterArn) continue;
      if (t.task.lastStatus === "RUNNING") running++;
      else if (["PROVISIONING", "PENDING", "ACTIVATING"].includes(t.task.lastStatus)) pending++;
    }
  const out: Json = {
    clusterArn: c.clusterArn,
    clusterName: c.clusterName,
    status: c.status,
    registeredContainerInstancesCount: 0,
    runningTasksCount: running,
    pendingTasksCount: pending,
    activeServicesCount: 0,
    statistics: [],
    capacityProviders: c.capacityProviders,
    defaultCapacityProviderStrategy: c.defaultCapacityProviderStrategy,
  };
  if (include.includes("TAGS")) out.tags = c.tags;
  if (include.includes("SETTINGS")) out.settings = c.settings;
  if (include.includes("CONFIGURATIONS") && c.configuration) out.configuration = c.configuration;
  return snapshot(out);
}

export function clusterHandlers(ecs: Ecs): Record<string, JsonHandler> {
  return {
    CreateCluster(input, call) {
      const name = str(input, "clusterName") || "default";
      if (!NAME.test(name))
        throw invalidParam(
          "Cluster name can only contain up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens.",
        );
      const rec = createClusterRec(ecs, call, name, tags(input) ?? [], {
        settings: list(input, "settings"),
        configuration: input.configuration,
        capacityProviders: strList(input, "capacityProviders"),
        defaultCapacityProviderStrategy: list(input, "defaultCapacityProviderStrategy"),
      });
      return { cluster: clusterView(ecs, rec) };
    },

    DescribeClusters(input, call) {
      const refs = strList(input, "clusters") ?? ["default"];
      if (refs.length > 100) throw invalidParam("clusters can have at most 100 items.");
      const include = strList(input, "include") ?? [];
      const clusters: Json[] = [];
      const failures: Json[] = [];
      for (const ref of refs) {
        const arn = clusterArnOf(ecs, call, ref);
        const c = ecs.store.data.clusters[arn];
        // deleted clusters stay describable as INACTIVE, as in AWS
        if (c) clusters.push(clusterView(ecs, c, include));
        else failures.push({ arn, reason: "MISSING" });
      }
      return { clusters, failures };
    },

    ListClusters(input, call) {
      const arns = Object.values(ecs.store.data.clusters)
        .filter((c) => c.status === "ACTIVE" && parseArn(c.clusterArn)?.region === call.region)
        .map((c) => c.clusterArn)
        .sort();
      const { page, nextToken } = paginate(arns, input);
      return { clusterArns: page, nextToken };
    },

    DeleteCluster(input, call) {
      const ref = str(input, "cluster");
      if (!ref) throw invalidParam("Cluster can not be blank.");
      const c = findCluster(ecs, call, ref);
      const active = Object.values(ecs.store.data.tasks).some(
        (t) => t.task.clusterArn === c.clusterArn && t.task.lastStatus !== "STOPPED",
      );
      if (active)
        throw new AwsError(
          "ClusterContainsTasksException",
          "The Cluster cannot be deleted while Tasks are active.",
        );
      c.status = "INACTIVE";
      ecs.store.changed();
      return { cluster: clusterView(ecs, c) };
    },
  };
}
