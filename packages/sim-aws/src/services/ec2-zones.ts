import { items } from "../protocols/query.js";
import type { QueryHandler } from "../sim.js";
import { filters, list, nested } from "./ec2-params.js";
import { invalidValue, matches } from "./ec2-store.js";

/** The availability zones of a region: six in us-east-1, three elsewhere; ids like use1-az1. */
export function zones(region: string): { name: string; id: string }[] {
  const short: Record<string, string> = {
    east: "e",
    west: "w",
    north: "n",
    south: "s",
    central: "c",
    northeast: "ne",
    southeast: "se",
    northwest: "nw",
    southwest: "sw",
  };
  const [geo, dir = "", num = ""] = region.split("-");
  const prefix = `${geo}${short[dir] ?? dir}${num}`;
  const count = region === "us-east-1" ? 6 : 3;
  return Array.from({ length: count }, (_, i) => ({
    name: `${region}${String.fromCharCode(97 + i)}`,
    id: `${prefix}-az${i + 1}`,
  }));
}

export const zoneHandlers: Record<string, QueryHandler> = {
  DescribeAvailabilityZones(params, call) {
    const p = nested(params);
    const names = list(p, "ZoneName");
    const ids = list(p, "ZoneId");
    const all = zones(call.region);
    for (const n of names)
      if (!all.some((z) => z.name === n)) throw invalidValue(`The zone '${n}' does not exist.`);
    const f = filters(p);
    const found = all.filter(
      (z) =>
        (!names.length || names.includes(z.name)) &&
        (!ids.length || ids.includes(z.id)) &&
        matches(
          f,
          {},
          (name) =>
            ({
              "zone-name": [z.name],
              "zone-id": [z.id],
              state: ["available"],
              "region-name": [call.region],
              "zone-type": ["availability-zone"],
              "group-name": [call.region],
              "opt-in-status": ["opt-in-not-required"],
            })[name],
        ),
    );
    return {
      availabilityZoneInfo: items(
        found.map((z) => ({
          zoneName: z.name,
          zoneId: z.id,
          zoneState: "available",
          regionName: call.region,
          zoneType: "availability-zone",
          optInStatus: "opt-in-not-required",
          groupName: call.region,
          networkBorderGroup: call.region,
          messageSet: items([]),
        })),
      ),
    };
  },
};
