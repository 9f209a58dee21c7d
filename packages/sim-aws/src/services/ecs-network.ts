import { randomUUID } from "node:crypto";
import { AwsError } from "../errors.js";
import { createNetworkInterface, deleteNetworkInterface, securityGroupVpc, subnetInfo } from "./ec2.js";
import type { Ecs, Json } from "./ecs-model.js";

/**
 * The elastic network interface of an awsvpc task: a real network interface in the simulator's
 * EC2, in the task's subnet, holding a free address of the subnet's CIDR while the task lives
 * (DescribeNetworkInterfaces shows it; it is deleted when the task stops).
 */

const invalidParam = (m: string) => new AwsError("InvalidParameterException", m);

/** What EC2 answered, as ECS quotes it (the AWS SDK for Java's error format). */
const ec2Quote = (message: string, code: string, requestId: string) =>
  `${message} (Service: AmazonEC2; Status Code: 400; Error Code: ${code}; Request ID: ${requestId}; Proxy: null)`;

/** RunTask's checks of awsvpcConfiguration against EC2: subnets and security groups must exist, in one VPC. */
export function checkAwsvpc(ecs: Ecs, subnets: string[], groups: string[], requestId: string): void {
  const missing = subnets.filter((s) => !subnetInfo(ecs.sim, s));
  if (missing.length)
    throw invalidParam(
      `Error retrieving subnet information for [${missing.join(", ")}]: ${ec2Quote(
        `The subnet ID '${missing.join(",")}' does not exist`,
        "InvalidSubnetID.NotFound",
        requestId,
      )}`,
    );
  const vpcs = new Set(subnets.map((s) => subnetInfo(ecs.sim, s)!.vpcId));
  if (vpcs.size > 1) throw invalidParam("The subnets provided must all belong to the same VPC.");
  const missingGroups = groups.filter((g) => securityGroupVpc(ecs.sim, g) === undefined);
  if (missingGroups.length)
    throw invalidParam(
      `Error retrieving security group information for [${missingGroups.join(", ")}]: ${ec2Quote(
        `The security group '${missingGroups.join(",")}' does not exist`,
        "InvalidGroup.NotFound",
        requestId,
      )}`,
    );
  const vpc = [...vpcs][0];
  for (const g of groups)
    if (securityGroupVpc(ecs.sim, g) !== vpc)
      throw invalidParam(
        `Security group ${g} does not appear to belong to the same VPC as the input subnets.`,
      );
}

/** Create the task's ENI in the subnet (with the VPC's default security group when none is given). */
export function eniAttachment(
  ecs: Ecs,
  region: string,
  subnetId: string,
  groups: string[] | undefined,
): Json {
  const id = randomUUID();
  const eni = createNetworkInterface(ecs.sim, subnetId, {
    description: ecs.sim.arn("ecs", `attachment/${id}`, region),
    groups: groups?.length ? groups : undefined,
  });
  const domain = region === "us-east-1" ? "ec2.internal" : `${region}.compute.internal`;
  return {
    id,
    type: "ElasticNetworkInterface",
    status: "PRECREATED",
    details: [
      { name: "subnetId", value: subnetId },
      { name: "networkInterfaceId", value: eni.id },
      { name: "macAddress", value: eni.mac },
      { name: "privateDnsName", value: `ip-${eni.ip.replace(/\./g, "-")}.${domain}` },
      { name: "privateIPv4Address", value: eni.ip },
    ],
  };
}

/** The task stopped: its network interface (and address) goes back to EC2. */
export function releaseEni(ecs: Ecs, attachments: Json[] | undefined): void {
  for (const a of attachments ?? []) {
    const eniId = detailsOf(a).networkInterfaceId;
    if (a.type === "ElasticNetworkInterface" && eniId) deleteNetworkInterface(ecs.sim, eniId);
  }
}

export function detailsOf(attachment: Json | undefined): Record<string, string> {
  return Object.fromEntries(((attachment?.details ?? []) as Json[]).map((d) => [d.name, d.value]));
}

/** The subnet's CIDR block as the metadata endpoint reports it (EC2's; a /16 guess once the subnet is gone). */
export function subnetCidr(ecs: Ecs, subnetId: string | undefined, ip: string): string {
  const s = subnetId ? subnetInfo(ecs.sim, subnetId) : undefined;
  if (s) return s.cidr;
  const [a, b] = ip.split(".");
  return `${a}.${b}.0.0/16`;
}
