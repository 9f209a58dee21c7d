import { readFileSync } from "node:fs";

export interface Identity {
  uid: number;
  gid: number;
  home: string;
}

export class UserError extends Error {}

function entries(file: string): string[][] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(":"));
}

const numeric = (s: string) => /^\d+$/.test(s);

/**
 * Resolve a Docker `User` (`name`, `uid`, `name:group`, `uid:gid`) against the image's own
 * /etc/passwd and /etc/group, the way runc does: a numeric uid missing from passwd is allowed
 * (gid 0, home /), a missing name is an error.
 */
export function resolveUser(spec: string, root = "/"): Identity | undefined {
  if (!spec) return undefined;
  const [userPart, groupPart] = spec.split(":", 2);
  const passwd = entries(`${root}etc/passwd`);
  let id: Identity;
  const byName = passwd.find((e) => e[0] === userPart);
  const byUid = numeric(userPart) ? passwd.find((e) => e[2] === userPart) : undefined;
  const entry = byName ?? byUid;
  if (entry) id = { uid: Number(entry[2]), gid: Number(entry[3]), home: entry[5] || "/" };
  else if (numeric(userPart)) id = { uid: Number(userPart), gid: 0, home: "/" };
  else throw new UserError(`unable to find user ${userPart}: no matching entries in passwd file`);
  if (groupPart !== undefined && groupPart !== "") {
    if (numeric(groupPart)) id.gid = Number(groupPart);
    else {
      const g = entries(`${root}etc/group`).find((e) => e[0] === groupPart);
      if (!g) throw new UserError(`unable to find group ${groupPart}: no matching entries in group file`);
      id.gid = Number(g[2]);
    }
  }
  return id;
}
