import { randomInt } from "node:crypto";
import { AwsError } from "../errors.js";
import type { Call, JsonHandler, Simulator } from "../sim.js";
import {
  cloudMapId,
  cloudMapState,
  filterMatch,
  idOf,
  invalidInput,
  namespaceNotFound,
  nowSeconds,
  paginate,
  recordOperation,
  required,
  type Namespace,
} from "./cloudmap-store.js";
import { vpcExists } from "./ec2.js";

export function namespaceXml(sim: Simulator, n: Namespace) {
  const services = Object.values(cloudMapState(sim).data.services).filter((s) => s.namespaceId === n.id);
  return {
    Id: n.id,
    Arn: n.arn,
    ResourceOwner: sim.opts.account,
    Name: n.name,
    Type: n.type,
    Description: n.description,
    ServiceCount: services.length,
    Properties: {
      ...(n.type === "HTTP"
        ? {}
        : { DnsProperties: { HostedZoneId: n.hostedZoneId, SOA: { TTL: n.soaTtl } } }),
      HttpProperties: { HttpName: n.name },
    },
    CreateDate: n.created,
    CreatorRequestId: n.creatorRequestId,
  };
}

/** A Route 53-style hosted zone id: Z and 20 upper-case characters. */
const hostedZoneId = () =>
  `Z${Array.from({ length: 20 }, () => "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[randomInt(36)]).join("")}`;

export function namespaceHandlers(sim: Simulator): Record<string, JsonHandler> {
  const st = cloudMapState(sim);

  const create = (type: Namespace["type"], input: Record<string, any>, call: Call) => {
    const name = required(input, "Name");
    if (name.startsWith("arn:") || !/^[!-~]+$/.test(name))
      throw invalidInput(`Invalid namespace name: ${name}`);
    const requestId = input.CreatorRequestId as string | undefined;
    // a retried request (same CreatorRequestId) gets the operation of the first one back
    if (requestId) {
      const prior = Object.values(st.data.operations).find(
        (o) => o.type === "CREATE_NAMESPACE" && o.creatorRequestId === requestId,
      );
      if (prior) return { OperationId: prior.id };
    }
    if (type === "DNS_PRIVATE") {
      const vpc = required(input, "Vpc");
      if (!vpcExists(sim, vpc)) throw invalidInput(`The VPC ${vpc} does not exist`);
    }
    const clash = Object.values(st.data.namespaces).find(
      (n) =>
        n.name.toLowerCase() === name.toLowerCase() &&
        !(type === "DNS_PRIVATE" && n.type === "DNS_PRIVATE" && n.vpc !== input.Vpc),
    );
    if (clash)
      throw new AwsError("NamespaceAlreadyExists", `Namespace with name ${name} already exists: ${clash.id}`);
    const id = cloudMapId("ns");
    const ns: Namespace = {
      id,
      arn: sim.arn("servicediscovery", `namespace/${id}`, call.region),
      name,
      type,
      description: input.Description,
      vpc: input.Vpc,
      hostedZoneId: type === "HTTP" ? undefined : hostedZoneId(),
      soaTtl: type === "HTTP" ? undefined : (input.Properties?.DnsProperties?.SOA?.TTL ?? 15),
      created: nowSeconds(),
      creatorRequestId: requestId,
      tags: input.Tags ?? [],
    };
    st.data.namespaces[id] = ns;
    return { OperationId: recordOperation(st, "CREATE_NAMESPACE", { NAMESPACE: id }, requestId) };
  };

  const get = (input: Record<string, any>) => {
    const id = idOf(required(input, "Id"));
    const ns = st.data.namespaces[id];
    if (!ns) throw namespaceNotFound(id);
    return ns;
  };

  return {
    CreatePrivateDnsNamespace: (input, call) => create("DNS_PRIVATE", input, call),
    CreatePublicDnsNamespace: (input, call) => create("DNS_PUBLIC", input, call),
    CreateHttpNamespace: (input, call) => create("HTTP", input, call),

    GetNamespace(input) {
      return { Namespace: namespaceXml(sim, get(input)) };
    },

    ListNamespaces(input) {
      const all = Object.values(st.data.namespaces).filter((n) =>
        filterMatch(
          input.Filters,
          (f) => ({ TYPE: n.type, NAME: n.name, HTTP_NAME: n.name, RESOURCE_OWNER: sim.opts.account })[f],
        ),
      );
      const { page, NextToken } = paginate(all, input);
      return {
        Namespaces: page.map((n) => {
          const { CreatorRequestId: _, ...summary } = namespaceXml(sim, n);
          return summary;
        }),
        NextToken,
      };
    },

    DeleteNamespace(input) {
      const ns = get(input);
      if (Object.values(st.data.services).some((s) => s.namespaceId === ns.id))
        throw new AwsError(
          "ResourceInUse",
          `Namespace ${ns.id} has associated services and cannot be deleted`,
        );
      delete st.data.namespaces[ns.id];
      return { OperationId: recordOperation(st, "DELETE_NAMESPACE", { NAMESPACE: ns.id }) };
    },
  };
}
