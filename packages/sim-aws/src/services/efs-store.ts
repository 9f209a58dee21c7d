import { randomBytes } from "node:crypto";
import { AwsError } from "../errors.js";
import type { RestHandler, RestRequest, Simulator } from "../sim.js";
import type { Persistent } from "../store.js";

export interface Tag {
  Key: string;
  Value: string;
}

export interface FileSystem {
  id: string;
  arn: string;
  creationToken: string;
  /** epoch seconds */
  created: number;
  performanceMode: string;
  throughputMode: string;
  provisionedThroughputInMibps?: number;
  encrypted: boolean;
  kmsKeyId?: string;
  availabilityZoneName?: string;
  availabilityZoneId?: string;
  tags: Tag[];
}

export interface AccessPoint {
  id: string;
  arn: string;
  fileSystemId: string;
  clientToken: string;
  posixUser?: { Uid: number; Gid: number; SecondaryGids?: number[] };
  rootDirectory: { Path: string; CreationInfo?: { OwnerUid: number; OwnerGid: number; Permissions: string } };
  tags: Tag[];
}

export interface MountTarget {
  id: string;
  fileSystemId: string;
  subnetId: string;
  vpcId: string;
  az: string;
  ip: string;
  eniId: string;
  securityGroups: string[];
}

export interface EfsState {
  fileSystems: Record<string, FileSystem>;
  accessPoints: Record<string, AccessPoint>;
  mountTargets: Record<string, MountTarget>;
}

const states = new WeakMap<Simulator, Persistent<EfsState>>();

export function efsState(sim: Simulator): Persistent<EfsState> {
  let s = states.get(sim);
  if (!s) {
    s = sim.state<EfsState>("efs", { fileSystems: {}, accessPoints: {}, mountTargets: {} });
    states.set(sim, s);
  }
  return s;
}

/** EFS ids: fs-/fsmt- with 8 hex digits (the classic form), fsap- with 17. */
export const efsId = (prefix: "fs" | "fsmt" | "fsap") =>
  `${prefix}-${randomBytes(9)
    .toString("hex")
    .slice(0, prefix === "fsap" ? 17 : 8)}`;

const STATUS: Record<string, number> = {
  BadRequest: 400,
  ValidationException: 400,
  FileSystemAlreadyExists: 409,
  FileSystemNotFound: 404,
  FileSystemInUse: 409,
  AccessPointAlreadyExists: 409,
  AccessPointNotFound: 404,
  MountTargetNotFound: 404,
  MountTargetConflict: 409,
  SubnetNotFound: 400,
  SecurityGroupNotFound: 400,
  SecurityGroupLimitExceeded: 400,
  IpAddressInUse: 409,
  NoFreeAddressesInSubnet: 409,
  UnsupportedAvailabilityZone: 400,
  AvailabilityZonesMismatch: 400,
};

/** An EFS error: its body carries ErrorCode and Message (and sometimes the resource id). */
export class EfsError extends AwsError {
  constructor(
    code: string,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(code, message, STATUS[code] ?? 400);
  }
}

export const badRequest = (message: string) => new EfsError("BadRequest", message);

/** Wrap a handler so errors go out in EFS's shape ({ErrorCode, Message}) rather than the generic one. */
export function efsRoute(
  handler: (r: RestRequest) => Promise<{ status?: number; body?: unknown }>,
): RestHandler {
  return async (r) => {
    try {
      return await handler(r);
    } catch (e) {
      if (!(e instanceof AwsError)) throw e;
      return {
        status: e.status,
        headers: { "x-amzn-ErrorType": e.code },
        body: { ErrorCode: e.code, Message: e.message, ...(e instanceof EfsError ? e.extra : {}) },
      };
    }
  };
}

/** Marker/MaxItems (or NextToken/MaxResults) paging; the marker is an offset. */
export function paginate<T>(list: T[], marker: string | null, max: string | null) {
  const n = max ? Number(max) : 100;
  if (!Number.isInteger(n) || n < 1) throw badRequest(`Invalid MaxItems: ${max}`);
  const start = marker ? Number(Buffer.from(marker, "base64url").toString("utf8")) : 0;
  if (!Number.isInteger(start) || start < 0) throw badRequest("Invalid marker");
  return {
    page: list.slice(start, start + n),
    next: start + n < list.length ? Buffer.from(String(start + n)).toString("base64url") : undefined,
  };
}

/** A file system or access point id, or its ARN, → the id. */
export const idOf = (v: string) => v.split("/").pop() ?? v;

export const nameTag = (tags: Tag[]) => tags.find((t) => t.Key === "Name")?.Value;

export function validTags(tags: unknown): Tag[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) throw badRequest("Tags must be a list");
  for (const t of tags)
    if (typeof t?.Key !== "string" || typeof t?.Value !== "string")
      throw badRequest("Each tag needs a Key and a Value");
  return tags.map((t) => ({ Key: t.Key, Value: t.Value }));
}

export function mergeTags(current: Tag[], add: Tag[]): Tag[] {
  const byKey = new Map(current.map((t) => [t.Key, t]));
  for (const t of add) byKey.set(t.Key, t);
  if (byKey.size > 50) throw badRequest("A resource can have at most 50 tags");
  return [...byKey.values()];
}
