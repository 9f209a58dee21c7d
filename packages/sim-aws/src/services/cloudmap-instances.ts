import { AwsError } from "../errors.js";
import type { JsonHandler, Simulator } from "../sim.js";
import {
  cloudMapState,
  instanceNotFound,
  invalidInput,
  namespaceNotFound,
  paginate,
  recordOperation,
  required,
  serviceNotFound,
  type Instance,
  type Service,
} from "./cloudmap-store.js";
import { serviceById } from "./cloudmap-services.js";

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The attributes a DNS service's records need (A: an IPv4 address, SRV: a port too). */
function checkAttributes(s: Service, attrs: Record<string, string>): void {
  const ip = attrs.AWS_INSTANCE_IPV4;
  if (ip !== undefined && !IPV4.test(ip)) throw invalidInput(`Invalid AWS_INSTANCE_IPV4: ${ip}`);
  const types = (s.dnsConfig?.DnsRecords ?? []).map((r) => r.Type);
  if (attrs.AWS_ALIAS_DNS_NAME) return;
  if (types.includes("A") && ip === undefined)
    throw invalidInput("AWS_INSTANCE_IPV4 is required for services with an A record");
  if (types.includes("AAAA") && attrs.AWS_INSTANCE_IPV6 === undefined && ip === undefined)
    throw invalidInput("AWS_INSTANCE_IPV6 is required for services with an AAAA record");
  if (types.includes("SRV") && attrs.AWS_INSTANCE_PORT === undefined)
    throw invalidInput("AWS_INSTANCE_PORT is required for services with an SRV record");
}

/** Register (or re-register) an instance; also what ECS service registries call for their tasks. */
export function registerInstance(
  sim: Simulator,
  serviceId: string,
  instanceId: string,
  attributes: Record<string, string>,
  creatorRequestId?: string,
): string {
  const st = cloudMapState(sim);
  const s = serviceById(sim, serviceId);
  if (!/^[0-9a-zA-Z_/:.@-]{1,64}$/.test(instanceId)) throw invalidInput(`Invalid InstanceId: ${instanceId}`);
  checkAttributes(s, attributes);
  s.instances[instanceId] = {
    id: instanceId,
    attributes: { ...attributes },
    creatorRequestId,
    health: s.instances[instanceId]?.health ?? "HEALTHY",
  };
  s.revision++;
  return recordOperation(st, "REGISTER_INSTANCE", { SERVICE: s.id, INSTANCE: instanceId }, creatorRequestId);
}

export function deregisterInstance(sim: Simulator, serviceId: string, instanceId: string): string {
  const st = cloudMapState(sim);
  const s = serviceById(sim, serviceId);
  if (!s.instances[instanceId]) throw instanceNotFound(instanceId);
  delete s.instances[instanceId];
  s.revision++;
  return recordOperation(st, "DEREGISTER_INSTANCE", { SERVICE: s.id, INSTANCE: instanceId });
}

/** Health as Cloud Map reports it: instances of services without health checks are UNKNOWN. */
const healthOf = (s: Service, i: Instance) =>
  s.healthCheckConfig || s.healthCheckCustomConfig ? i.health : ("UNKNOWN" as const);

export function instanceHandlers(sim: Simulator): Record<string, JsonHandler> {
  const st = cloudMapState(sim);
  const instance = (input: Record<string, any>) => {
    const s = serviceById(sim, required(input, "ServiceId"));
    const id = required(input, "InstanceId");
    const i = s.instances[id];
    if (!i) throw instanceNotFound(id);
    return { s, i };
  };

  return {
    RegisterInstance(input) {
      const attrs = input.Attributes;
      if (!attrs || typeof attrs !== "object") throw invalidInput("Attributes is required");
      return {
        OperationId: registerInstance(
          sim,
          required(input, "ServiceId"),
          required(input, "InstanceId"),
          attrs,
          input.CreatorRequestId,
        ),
      };
    },

    DeregisterInstance(input) {
      return {
        OperationId: deregisterInstance(sim, required(input, "ServiceId"), required(input, "InstanceId")),
      };
    },

    GetInstance(input) {
      const { i } = instance(input);
      return {
        Instance: {
          Id: i.id,
          CreatorRequestId: i.creatorRequestId,
          Attributes: i.attributes,
          CreatedByAccount: sim.opts.account,
        },
      };
    },

    ListInstances(input) {
      const s = serviceById(sim, required(input, "ServiceId"));
      const { page, NextToken } = paginate(Object.values(s.instances), input);
      return {
        Instances: page.map((i) => ({
          Id: i.id,
          Attributes: i.attributes,
          CreatedByAccount: sim.opts.account,
        })),
        NextToken,
      };
    },

    DiscoverInstances(input) {
      const nsName = required(input, "NamespaceName");
      const svcName = required(input, "ServiceName");
      const ns = Object.values(st.data.namespaces).find((n) => n.name.toLowerCase() === nsName.toLowerCase());
      if (!ns) throw namespaceNotFound(nsName);
      const s = Object.values(st.data.services).find(
        (x) => x.namespaceId === ns.id && x.name.toLowerCase() === svcName.toLowerCase(),
      );
      if (!s) throw serviceNotFound(svcName);
      const max = input.MaxResults ?? 100;
      if (!Number.isInteger(max) || max < 1 || max > 1000)
        throw invalidInput("MaxResults must be between 1 and 1000");
      const has = (i: Instance, params: Record<string, string> | undefined) =>
        Object.entries(params ?? {}).every(([k, v]) => i.attributes[k] === v);
      let found = Object.values(s.instances).filter((i) => has(i, input.QueryParameters));
      const preferred = found.filter((i) => has(i, input.OptionalParameters));
      if (preferred.length) found = preferred;
      // HealthStatus only applies to services with health checks (default: healthy ones);
      // the others return every instance
      if (s.healthCheckConfig || s.healthCheckCustomConfig) {
        const want = input.HealthStatus ?? "HEALTHY";
        const healthy = found.filter((i) => i.health === "HEALTHY");
        if (want === "HEALTHY") found = healthy;
        else if (want === "UNHEALTHY") found = found.filter((i) => i.health === "UNHEALTHY");
        else if (want === "HEALTHY_OR_ELSE_ALL" && healthy.length) found = healthy;
      }
      return {
        Instances: found.slice(0, max).map((i) => ({
          InstanceId: i.id,
          NamespaceName: ns.name,
          ServiceName: s.name,
          HealthStatus: healthOf(s, i),
          Attributes: i.attributes,
        })),
        InstancesRevision: s.revision,
      };
    },

    DiscoverInstancesRevision(input) {
      const ns = Object.values(st.data.namespaces).find((n) => n.name === required(input, "NamespaceName"));
      if (!ns) throw namespaceNotFound(input.NamespaceName);
      const s = Object.values(st.data.services).find(
        (x) => x.namespaceId === ns.id && x.name === required(input, "ServiceName"),
      );
      if (!s) throw serviceNotFound(input.ServiceName);
      return { InstancesRevision: s.revision };
    },

    GetInstancesHealthStatus(input) {
      const s = serviceById(sim, required(input, "ServiceId"));
      const ids: string[] = input.Instances ?? Object.keys(s.instances);
      for (const id of ids) if (!s.instances[id]) throw instanceNotFound(id);
      const { page, NextToken } = paginate(ids, input);
      return { Status: Object.fromEntries(page.map((id) => [id, healthOf(s, s.instances[id])])), NextToken };
    },

    UpdateInstanceCustomHealthStatus(input) {
      const { s, i } = instance(input);
      if (!s.healthCheckCustomConfig)
        throw new AwsError("CustomHealthNotFound", `Service ${s.id} does not have a custom health check`);
      if (input.Status !== "HEALTHY" && input.Status !== "UNHEALTHY")
        throw invalidInput("Status must be HEALTHY or UNHEALTHY");
      i.health = input.Status;
      s.revision++;
      st.changed();
      return {};
    },
  };
}
