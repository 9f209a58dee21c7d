import { DescribeSubnetsCommand, type EC2Client } from "@aws-sdk/client-ec2";
import {
  CreatePrivateDnsNamespaceCommand,
  CreateServiceCommand,
  DeleteServiceCommand,
  DeregisterInstanceCommand,
  GetOperationCommand,
  ListInstancesCommand,
  ListNamespacesCommand,
  ListServicesCommand,
  RegisterInstanceCommand,
  type ServiceDiscoveryClient,
} from "@aws-sdk/client-servicediscovery";
import { log } from "@sockerless/api";
import type { ContainerRecord } from "@sockerless/engine";
import { pollUntil } from "@sockerless/cloud-aws";

/** Docker's network drivers without name resolution between containers. */
const NO_DNS = new Set(["bridge", "host", "none"]);

/**
 * Docker networks as Cloud Map private DNS namespaces (<network>.<suffix>, in the tasks' VPC): a
 * container's name and aliases on a network are services there, each running task an instance
 * with its ENI address, so tasks in the VPC resolve each other by name as containers on one
 * Docker network do.
 */
export class CloudMapNames {
  private readonly namespaces = new Map<string, Promise<string>>();
  private vpc: Promise<string> | undefined;

  constructor(
    private readonly sd: ServiceDiscoveryClient,
    private readonly ec2: EC2Client,
    private readonly subnets: () => string[],
    private readonly suffix: string,
  ) {}

  namespaceName(network: string): string {
    return `${network}.${this.suffix}`;
  }

  /** The namespaces of the container's networks with names: its task's DNS search domains. */
  searchDomains(rec: ContainerRecord): string[] {
    return Object.keys(rec.Networks)
      .filter((net) => !NO_DNS.has(net))
      .map((net) => this.namespaceName(net));
  }

  private vpcId(): Promise<string> {
    this.vpc ??= this.ec2
      .send(new DescribeSubnetsCommand({ SubnetIds: this.subnets().slice(0, 1) }))
      .then((o) => o.Subnets![0].VpcId!);
    return this.vpc;
  }

  private namespace(network: string): Promise<string> {
    let p = this.namespaces.get(network);
    if (!p) {
      p = this.findOrCreateNamespace(this.namespaceName(network)).catch((e) => {
        this.namespaces.delete(network);
        throw e;
      });
      this.namespaces.set(network, p);
    }
    return p;
  }

  private async findNamespace(name: string): Promise<string | undefined> {
    let NextToken: string | undefined;
    do {
      const page = await this.sd.send(
        new ListNamespacesCommand({ Filters: [{ Name: "TYPE", Values: ["DNS_PRIVATE"] }], NextToken }),
      );
      const hit = page.Namespaces?.find((n) => n.Name === name);
      if (hit) return hit.Id;
      NextToken = page.NextToken;
    } while (NextToken);
    return undefined;
  }

  private async findOrCreateNamespace(name: string): Promise<string> {
    const found = await this.findNamespace(name);
    if (found) return found;
    const op = await this.sd.send(
      new CreatePrivateDnsNamespaceCommand({ Name: name, Vpc: await this.vpcId(), CreatorRequestId: name }),
    );
    return pollUntil(
      async () => {
        const o = (await this.sd.send(new GetOperationCommand({ OperationId: op.OperationId }))).Operation;
        if (o?.Status === "FAIL")
          throw new Error(`Cloud Map could not create namespace ${name}: ${o.ErrorMessage}`);
        return o?.Status === "SUCCESS" ? o.Targets?.NAMESPACE : undefined;
      },
      { intervalMs: 250, timeoutMs: 120_000, what: `Cloud Map namespace ${name}` },
    );
  }

  private async service(namespaceId: string, name: string, create: boolean): Promise<string | undefined> {
    let NextToken: string | undefined;
    do {
      const page = await this.sd.send(
        new ListServicesCommand({ Filters: [{ Name: "NAMESPACE_ID", Values: [namespaceId] }], NextToken }),
      );
      const hit = page.Services?.find((s) => s.Name === name);
      if (hit) return hit.Id;
      NextToken = page.NextToken;
    } while (NextToken);
    if (!create) return undefined;
    const out = await this.sd.send(
      new CreateServiceCommand({
        Name: name,
        NamespaceId: namespaceId,
        CreatorRequestId: `${namespaceId}-${name}`,
        DnsConfig: { RoutingPolicy: "MULTIVALUE", DnsRecords: [{ Type: "A", TTL: 10 }] },
      }),
    );
    return out.Service!.Id;
  }

  /** network -> the names the container answers to there (its name, short id, aliases) */
  private names(rec: ContainerRecord): [string, string[]][] {
    return Object.entries(rec.Networks)
      .filter(([net]) => !NO_DNS.has(net))
      .map(([net, ep]) => [
        net,
        [...new Set([rec.Name.slice(1), rec.Id.slice(0, 12), ...(ep.Aliases ?? [])])].map((n) =>
          n.toLowerCase(),
        ),
      ]);
  }

  /** The task runs at `ip`: register it under each of its names. */
  async register(rec: ContainerRecord, taskId: string, ip: string): Promise<void> {
    for (const [net, names] of this.names(rec)) {
      const ns = await this.namespace(net);
      for (const name of names) {
        const svc = (await this.service(ns, name, true))!;
        await this.sd.send(
          new RegisterInstanceCommand({
            ServiceId: svc,
            InstanceId: taskId,
            CreatorRequestId: `${svc}-${taskId}`,
            Attributes: { AWS_INSTANCE_IPV4: ip },
          }),
        );
      }
    }
  }

  /** The task stopped: its names no longer point at it. */
  async deregister(rec: ContainerRecord, taskId: string): Promise<void> {
    for (const [net, names] of this.names(rec)) {
      const ns = await this.findNamespace(this.namespaceName(net));
      if (!ns) continue;
      for (const name of names) {
        const svc = await this.service(ns, name, false);
        if (svc)
          await this.sd
            .send(new DeregisterInstanceCommand({ ServiceId: svc, InstanceId: taskId }))
            .catch((e) => {
              if ((e as Error).name !== "InstanceNotFound") throw e;
            });
      }
    }
  }

  /** docker rm: its tasks' names go, and its services when no other task is registered in them. */
  async remove(rec: ContainerRecord, taskIds: string[]): Promise<void> {
    for (const t of taskIds) await this.deregister(rec, t);
    for (const [net, names] of this.names(rec)) {
      const ns = await this.findNamespace(this.namespaceName(net));
      if (!ns) continue;
      for (const name of names) {
        const svc = await this.service(ns, name, false);
        if (!svc) continue;
        const left = await this.sd.send(new ListInstancesCommand({ ServiceId: svc }));
        if (left.Instances?.length) continue; // another container answers to this alias
        await this.sd.send(new DeleteServiceCommand({ Id: svc })).catch((e) => {
          log.warn({ err: e, svc }, "ecs: could not delete a Cloud Map service");
        });
      }
    }
  }
}
