import { AwsError } from "../errors.js";
import type { JsonHandler, Simulator } from "../sim.js";
import {
  cloudMapId,
  cloudMapState,
  filterMatch,
  idOf,
  invalidInput,
  namespaceNotFound,
  nowSeconds,
  paginate,
  required,
  serviceNotFound,
  type Service,
} from "./cloudmap-store.js";

export function serviceXml(sim: Simulator, s: Service) {
  return {
    Id: s.id,
    Arn: s.arn,
    ResourceOwner: sim.opts.account,
    Name: s.name,
    NamespaceId: s.namespaceId,
    Description: s.description,
    InstanceCount: Object.keys(s.instances).length,
    DnsConfig: s.dnsConfig ? { NamespaceId: s.namespaceId, ...s.dnsConfig } : undefined,
    Type: s.type,
    HealthCheckConfig: s.healthCheckConfig,
    HealthCheckCustomConfig: s.healthCheckCustomConfig,
    CreateDate: s.created,
    CreatorRequestId: s.creatorRequestId,
    CreatedByAccount: sim.opts.account,
  };
}

const SERVICE_NAME =
  /^((?=^.{1,127}$)^([a-zA-Z0-9_][a-zA-Z0-9-_]{0,61}[a-zA-Z0-9_]|[a-zA-Z0-9])(\.([a-zA-Z0-9_][a-zA-Z0-9-_]{0,61}[a-zA-Z0-9_]|[a-zA-Z0-9]))*$)|(^\.$)/;

export function serviceById(sim: Simulator, idOrArn: string): Service {
  const id = idOf(idOrArn);
  const s = cloudMapState(sim).data.services[id];
  if (!s) throw serviceNotFound(id);
  return s;
}

export function serviceHandlers(sim: Simulator): Record<string, JsonHandler> {
  const st = cloudMapState(sim);

  return {
    CreateService(input, call) {
      const name = required(input, "Name");
      if (!SERVICE_NAME.test(name)) throw invalidInput(`Invalid service name: ${name}`);
      const nsId = idOf(input.NamespaceId ?? input.DnsConfig?.NamespaceId ?? "");
      if (!nsId) throw invalidInput("NamespaceId is required");
      const ns = st.data.namespaces[nsId];
      if (!ns) throw namespaceNotFound(nsId);
      const dns = input.DnsConfig as Service["dnsConfig"] | undefined;
      if (dns && (ns.type === "HTTP" || input.Type === "HTTP"))
        throw invalidInput("DnsConfig can only be specified for services in DNS namespaces");
      if (dns && !dns.DnsRecords?.length) throw invalidInput("DnsConfig.DnsRecords is required");
      if (input.HealthCheckConfig && ns.type !== "DNS_PUBLIC")
        throw invalidInput("HealthCheckConfig is only supported for services in public DNS namespaces");
      const existing = Object.values(st.data.services).find(
        (s) => s.namespaceId === ns.id && s.name.toLowerCase() === name.toLowerCase(),
      );
      if (existing) {
        // a retry of the same request returns the service; a different one is a conflict
        if (input.CreatorRequestId && input.CreatorRequestId === existing.creatorRequestId)
          return { Service: serviceXml(sim, existing) };
        throw new AwsError("ServiceAlreadyExists", `Service already exists: ${existing.id}`);
      }
      const id = cloudMapId("srv");
      const s: Service = {
        id,
        arn: sim.arn("servicediscovery", `service/${id}`, call.region),
        name,
        namespaceId: ns.id,
        description: input.Description,
        type: dns ? "DNS_HTTP" : "HTTP",
        dnsConfig: dns && { RoutingPolicy: dns.RoutingPolicy ?? "MULTIVALUE", DnsRecords: dns.DnsRecords },
        healthCheckConfig: input.HealthCheckConfig,
        healthCheckCustomConfig: input.HealthCheckCustomConfig,
        created: nowSeconds(),
        creatorRequestId: input.CreatorRequestId,
        tags: input.Tags ?? [],
        instances: {},
        revision: 1,
      };
      st.data.services[id] = s;
      st.changed();
      return { Service: serviceXml(sim, s) };
    },

    GetService(input) {
      return { Service: serviceXml(sim, serviceById(sim, required(input, "Id"))) };
    },

    ListServices(input) {
      const all = Object.values(st.data.services).filter((s) =>
        filterMatch(
          input.Filters,
          (f) => ({ NAMESPACE_ID: s.namespaceId, RESOURCE_OWNER: sim.opts.account })[f],
        ),
      );
      const { page, NextToken } = paginate(all, input);
      return {
        Services: page.map((s) => {
          const { NamespaceId: _n, CreatorRequestId: _c, ...summary } = serviceXml(sim, s);
          return summary;
        }),
        NextToken,
      };
    },

    DeleteService(input) {
      const s = serviceById(sim, required(input, "Id"));
      if (Object.keys(s.instances).length)
        throw new AwsError("ResourceInUse", `Service ${s.id} has registered instances and cannot be deleted`);
      delete st.data.services[s.id];
      st.changed();
      return {};
    },
  };
}
