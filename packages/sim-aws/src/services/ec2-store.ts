import { randomBytes } from "node:crypto";
import { AwsError } from "../errors.js";
import { items } from "../protocols/query.js";
import type { Simulator } from "../sim.js";
import type { Persistent } from "../store.js";
import type { Filter } from "./ec2-params.js";

export type Tags = Record<string, string>;

interface Resource {
  id: string;
  /** creation order, for stable listing and paging */
  seq: number;
  tags: Tags;
}

export interface Vpc extends Resource {
  cidr: string;
  cidrAssociationId: string;
  isDefault: boolean;
  dhcpOptionsId: string;
}

export interface Subnet extends Resource {
  vpcId: string;
  cidr: string;
  az: string;
  azId: string;
  defaultForAz: boolean;
  mapPublicIpOnLaunch: boolean;
}

export interface Rule {
  id: string;
  egress: boolean;
  protocol: string;
  from?: number;
  to?: number;
  cidr?: string;
  cidrV6?: string;
  groupId?: string;
  description?: string;
}

export interface SecurityGroup extends Resource {
  name: string;
  description: string;
  vpcId: string;
  rules: Rule[];
}

/** A network interface holding a private address (ECS awsvpc tasks, EFS mount targets). */
export interface Eni extends Resource {
  subnetId: string;
  ip: string;
  mac: string;
  description: string;
  groups: string[];
  interfaceType: string;
}

export interface Ec2State {
  vpcs: Record<string, Vpc>;
  subnets: Record<string, Subnet>;
  groups: Record<string, SecurityGroup>;
  enis: Record<string, Eni>;
  seq: number;
  /** the default VPC is made once; deleting it is permanent, as in AWS */
  defaultsCreated: boolean;
}

const states = new WeakMap<Simulator, Persistent<Ec2State>>();

export function ec2State(sim: Simulator): Persistent<Ec2State> {
  let s = states.get(sim);
  if (!s) {
    s = sim.state<Ec2State>("ec2", {
      vpcs: {},
      subnets: {},
      groups: {},
      enis: {},
      seq: 0,
      defaultsCreated: false,
    });
    states.set(sim, s);
  }
  return s;
}

/** EC2 ids: a type prefix and 17 hex digits. */
export const ec2Id = (prefix: string) => `${prefix}-${randomBytes(9).toString("hex").slice(0, 17)}`;

export const nextSeq = (st: Persistent<Ec2State>) => ++st.data.seq;

export const ec2Error = (code: string, message: string) => new AwsError(code, message, 400);
export const invalidValue = (message: string) => ec2Error("InvalidParameterValue", message);

export const vpcNotFound = (id: string) =>
  ec2Error("InvalidVpcID.NotFound", `The vpc ID '${id}' does not exist`);
export const subnetNotFound = (id: string) =>
  ec2Error("InvalidSubnetID.NotFound", `The subnet ID '${id}' does not exist`);
export const groupNotFound = (id: string) =>
  ec2Error("InvalidGroup.NotFound", `The security group '${id}' does not exist`);

export const tagSet = (tags: Tags) => {
  const list = Object.entries(tags).map(([key, value]) => ({ key, value }));
  return list.length ? { tagSet: items(list) } : {};
};

/** AWS filter values take * and ? wildcards. */
function wildcard(pattern: string): RegExp {
  const esc = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${esc}$`, "s");
}

/**
 * Whether a resource passes every filter. `fields` gives a filter's values for the resource,
 * or undefined when the filter name is not one this resource type supports.
 */
export function matches(
  filters: Filter[],
  tags: Tags,
  fields: (name: string) => (string | number | boolean | undefined)[] | undefined,
): boolean {
  return filters.every((f) => {
    let have: string[];
    if (f.name.startsWith("tag:")) {
      const v = tags[f.name.slice(4)];
      have = v === undefined ? [] : [v];
    } else if (f.name === "tag-key") have = Object.keys(tags);
    else if (f.name === "tag-value") have = Object.values(tags);
    else {
      const v = fields(f.name);
      if (v === undefined) throw invalidValue(`The filter '${f.name}' is invalid`);
      have = v.filter((x) => x !== undefined).map(String);
    }
    return f.values.some((want) => {
      const re = wildcard(want);
      return have.some((h) => re.test(h));
    });
  });
}

/** MaxResults/NextToken paging in creation order. */
export function paged<T extends { seq: number }>(
  list: T[],
  p: Record<string, any>,
  limits: { min: number; max: number } = { min: 5, max: 1000 },
): { page: T[]; nextToken?: string } {
  const sorted = [...list].sort((a, b) => a.seq - b.seq);
  let rest = sorted;
  if (p.NextToken) {
    const after = Number(Buffer.from(String(p.NextToken), "base64url").toString("utf8"));
    if (!Number.isInteger(after)) throw invalidValue(`Invalid value '${p.NextToken}' for nextToken`);
    rest = sorted.filter((x) => x.seq > after);
  }
  if (p.MaxResults === undefined) return { page: rest };
  const max = Number(p.MaxResults);
  if (!Number.isInteger(max) || max < limits.min || max > limits.max)
    throw invalidValue(
      `Value ( ${p.MaxResults} ) for parameter maxResults is invalid. Expecting a value between ${limits.min} and ${limits.max}.`,
    );
  const page = rest.slice(0, max);
  return {
    page,
    nextToken:
      rest.length > max ? Buffer.from(String(page[page.length - 1].seq)).toString("base64url") : undefined,
  };
}
