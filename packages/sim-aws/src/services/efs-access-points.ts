import type { Simulator } from "../sim.js";
import { fileSystemById } from "./efs-filesystems.js";
import {
  EfsError,
  badRequest,
  efsId,
  efsRoute,
  efsState,
  idOf,
  nameTag,
  paginate,
  validTags,
  type AccessPoint,
} from "./efs-store.js";

const BASE = "/2015-02-01/access-points";
/** EFS's pattern: "/" or up to four segments, none starting with "." (so no ".."). */
const PATH = /^(\/|(\/(?!\.)+[^$#<>;`|&?{}^*/\n]+){1,4})$/;
const ID_RANGE = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 4294967295;

export const accessPointNotFound = (id: string) =>
  new EfsError("AccessPointNotFound", `Access point '${id}' does not exist.`);

export function accessPointById(sim: Simulator, idOrArn: string): AccessPoint {
  const id = idOf(idOrArn);
  const ap = efsState(sim).data.accessPoints[id];
  if (!ap) throw accessPointNotFound(id);
  return ap;
}

function validate(body: Record<string, any>): Pick<AccessPoint, "posixUser" | "rootDirectory"> {
  const u = body.PosixUser;
  if (u !== undefined && (!ID_RANGE(u.Uid) || !ID_RANGE(u.Gid)))
    throw badRequest("PosixUser needs a Uid and a Gid");
  if (u?.SecondaryGids !== undefined && (!Array.isArray(u.SecondaryGids) || u.SecondaryGids.length > 16))
    throw badRequest("PosixUser.SecondaryGids takes at most 16 ids");
  const root = body.RootDirectory ?? {};
  const p = root.Path ?? "/";
  if (typeof p !== "string" || p.length > 100 || !PATH.test(p))
    throw badRequest(`Invalid RootDirectory.Path: ${p}`);
  const info = root.CreationInfo;
  if (
    info !== undefined &&
    (!ID_RANGE(info.OwnerUid) || !ID_RANGE(info.OwnerGid) || !/^[0-7]{3,4}$/.test(info.Permissions))
  )
    throw badRequest("CreationInfo needs OwnerUid, OwnerGid and octal Permissions");
  return {
    posixUser: u && {
      Uid: u.Uid,
      Gid: u.Gid,
      ...(u.SecondaryGids ? { SecondaryGids: u.SecondaryGids } : {}),
    },
    rootDirectory: { Path: p, ...(info ? { CreationInfo: info } : {}) },
  };
}

export function describeAccessPoint(sim: Simulator, ap: AccessPoint) {
  return {
    ClientToken: ap.clientToken,
    Name: nameTag(ap.tags),
    Tags: ap.tags,
    AccessPointId: ap.id,
    AccessPointArn: ap.arn,
    FileSystemId: ap.fileSystemId,
    PosixUser: ap.posixUser,
    RootDirectory: ap.rootDirectory,
    OwnerId: sim.opts.account,
    LifeCycleState: "available",
  };
}

export function registerAccessPoints(sim: Simulator): void {
  const st = efsState(sim);

  sim.registerRest(
    "elasticfilesystem",
    "POST",
    BASE,
    efsRoute(async ({ json, call }) => {
      const body = await json();
      if (typeof body.ClientToken !== "string" || !body.ClientToken)
        throw badRequest("ClientToken is required");
      if (typeof body.FileSystemId !== "string") throw badRequest("FileSystemId is required");
      const fs = fileSystemById(sim, body.FileSystemId);
      const prior = Object.values(st.data.accessPoints).find((a) => a.clientToken === body.ClientToken);
      if (prior) {
        // the same request retried is answered with the access point it made
        if (prior.fileSystemId === fs.id) return { body: describeAccessPoint(sim, prior) };
        throw new EfsError(
          "AccessPointAlreadyExists",
          `Access point with client token '${body.ClientToken}' already exists`,
          {
            AccessPointId: prior.id,
          },
        );
      }
      const id = efsId("fsap");
      const ap: AccessPoint = {
        id,
        arn: sim.arn("elasticfilesystem", `access-point/${id}`, call.region),
        fileSystemId: fs.id,
        clientToken: body.ClientToken,
        ...validate(body),
        tags: validTags(body.Tags),
      };
      st.data.accessPoints[id] = ap;
      st.changed();
      return { body: describeAccessPoint(sim, ap) };
    }),
  );

  sim.registerRest(
    "elasticfilesystem",
    "GET",
    BASE,
    efsRoute(async ({ query }) => {
      const apId = query.get("AccessPointId");
      const fsId = query.get("FileSystemId");
      if (apId && fsId) throw badRequest("Specify either AccessPointId or FileSystemId, not both");
      let list = Object.values(st.data.accessPoints);
      if (apId) list = [accessPointById(sim, apId)];
      if (fsId) {
        const fs = fileSystemById(sim, fsId);
        list = list.filter((a) => a.fileSystemId === fs.id);
      }
      const { page, next } = paginate(list, query.get("NextToken"), query.get("MaxResults"));
      return { body: { AccessPoints: page.map((a) => describeAccessPoint(sim, a)), NextToken: next } };
    }),
  );

  sim.registerRest(
    "elasticfilesystem",
    "DELETE",
    `${BASE}/:AccessPointId`,
    efsRoute(async ({ params }) => {
      const ap = accessPointById(sim, params.AccessPointId);
      // the data under the access point stays in the file system, as in EFS
      delete st.data.accessPoints[ap.id];
      st.changed();
      return { status: 204 };
    }),
  );
}
