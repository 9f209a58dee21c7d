import { AwsError } from "../errors.js";

/**
 * EC2 Query parameters are flat ("IpPermissions.1.IpRanges.2.CidrIp"); this turns them into
 * nested values, with numbered members becoming arrays in index order.
 */
export function nested(params: Record<string, string>): Record<string, any> {
  const root: Record<string, any> = {};
  for (const [key, value] of Object.entries(params)) {
    const parts = key.split(".");
    // never walk into the prototype chain
    if (parts.some((p) => p === "__proto__" || p === "constructor" || p === "prototype")) continue;
    let cur = root;
    parts.forEach((p, i) => {
      if (i === parts.length - 1) cur[p] = value;
      else cur = cur[p] = typeof cur[p] === "object" ? cur[p] : {};
    });
  }
  return arrays(root) as Record<string, any>;
}

function arrays(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length && keys.every((k) => /^\d+$/.test(k)))
    return keys.sort((a, b) => Number(a) - Number(b)).map((k) => arrays(o[k]));
  for (const k of keys) o[k] = arrays(o[k]);
  return o;
}

/** A list parameter (Name.1, Name.2 …), [] when absent. */
export function list(p: Record<string, any>, name: string): any[] {
  const v = p[name];
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

export interface Filter {
  name: string;
  values: string[];
}

/** Filter.N.Name / Filter.N.Value.M */
export const filters = (p: Record<string, any>): Filter[] =>
  list(p, "Filter").map((f) => ({ name: String(f.Name ?? ""), values: list(f, "Value").map(String) }));

/** Tags for one resource type out of TagSpecification.N.{ResourceType, Tag.M.Key/Value}. */
export function tagSpecs(p: Record<string, any>, resourceType: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of list(p, "TagSpecification")) {
    if (spec.ResourceType !== resourceType)
      throw new AwsError(
        "InvalidParameterValue",
        `'${spec.ResourceType}' is not a valid taggable resource type for this operation.`,
      );
    for (const t of list(spec, "Tag")) out[String(t.Key)] = String(t.Value ?? "");
  }
  return out;
}

export function missing(name: string): AwsError {
  return new AwsError("MissingParameter", `The request must contain the parameter ${name}`);
}

export function required(p: Record<string, any>, name: string, apiName = name): string {
  const v = p[name];
  if (v === undefined || v === "") throw missing(apiName);
  return String(v);
}
