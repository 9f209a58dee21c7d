import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Ecs, Json } from "./ecs-model.js";

/**
 * The elastic network interface of an awsvpc task. EC2 shares no subnet registry with ECS, so
 * the address is drawn from a 10.N.0.0/16 block fixed per subnet id, unique among the live tasks
 * of that subnet (AWS reserves the first four addresses and the last one, and so do we).
 */
export function eniAttachment(ecs: Ecs, region: string, subnetId: string): Json {
  const second = (createHash("sha256").update(subnetId).digest().readUInt16BE(0) % 250) + 1;
  const used = new Set<string>();
  for (const t of Object.values(ecs.store.data.tasks)) {
    if (t.task.lastStatus === "STOPPED") continue;
    const d = detailsOf(t.task.attachments?.[0]);
    if (d.subnetId === subnetId && d.privateIPv4Address) used.add(d.privateIPv4Address);
  }
  let ip = "";
  for (let n = 4; n < 65535; n++) {
    ip = `10.${second}.${n >> 8}.${n & 255}`;
    if (!used.has(ip)) break;
  }
  const domain = region === "us-east-1" ? "ec2.internal" : `${region}.compute.internal`;
  const mac = ["0a", ...[...randomBytes(5)].map((b) => b.toString(16).padStart(2, "0"))].join(":");
  return {
    id: randomUUID(),
    type: "ElasticNetworkInterface",
    status: "PRECREATED",
    details: [
      { name: "subnetId", value: subnetId },
      { name: "networkInterfaceId", value: `eni-${randomBytes(9).toString("hex").slice(0, 17)}` },
      { name: "macAddress", value: mac },
      { name: "privateDnsName", value: `ip-${ip.replace(/\./g, "-")}.${domain}` },
      { name: "privateIPv4Address", value: ip },
    ],
  };
}

export function detailsOf(attachment: Json | undefined): Record<string, string> {
  return Object.fromEntries(((attachment?.details ?? []) as Json[]).map((d) => [d.name, d.value]));
}

/** The subnet's CIDR block as the metadata endpoint reports it. */
export function subnetCidr(ip: string): string {
  const [a, b] = ip.split(".");
  return `${a}.${b}.0.0/16`;
}
