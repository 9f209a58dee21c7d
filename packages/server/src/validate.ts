import { badRequest } from "@sockerless/api";

type Kind = "string" | "boolean" | "number" | "string[]" | "object" | "strmap";

const CONFIG_FIELDS: Record<string, Kind> = {
  Hostname: "string",
  Domainname: "string",
  User: "string",
  AttachStdin: "boolean",
  AttachStdout: "boolean",
  AttachStderr: "boolean",
  Tty: "boolean",
  OpenStdin: "boolean",
  StdinOnce: "boolean",
  Env: "string[]",
  Cmd: "string[]",
  Entrypoint: "string[]",
  Image: "string",
  WorkingDir: "string",
  Labels: "strmap",
  StopSignal: "string",
  ExposedPorts: "object",
  Volumes: "object",
  HostConfig: "object",
  NetworkingConfig: "object",
  Healthcheck: "object",
};

const HOST_FIELDS: Record<string, Kind> = {
  Binds: "string[]",
  NetworkMode: "string",
  AutoRemove: "boolean",
  Privileged: "boolean",
  ExtraHosts: "string[]",
  Memory: "number",
  RestartPolicy: "object",
  Mounts: "object",
  PortBindings: "object",
  Tmpfs: "strmap",
};

function check(obj: Record<string, unknown>, fields: Record<string, Kind>, struct: string) {
  for (const [k, kind] of Object.entries(fields)) {
    const v = obj[k];
    if (v === undefined || v === null) continue;
    const ok =
      kind === "string[]"
        ? Array.isArray(v) && v.every((x) => typeof x === "string")
        : kind === "object"
          ? typeof v === "object"
          : kind === "strmap"
            ? typeof v === "object" &&
              !Array.isArray(v) &&
              Object.values(v as object).every((x) => typeof x === "string")
            : typeof v === kind;
    // Cmd and Entrypoint may also be a single string (dockerd's StrSlice)
    if (!ok && !((k === "Cmd" || k === "Entrypoint") && typeof v === "string")) {
      throw badRequest(
        `json: cannot unmarshal ${Array.isArray(v) ? "array" : typeof v} into Go struct field ${struct}.${k} of type ${goType(kind)}`,
      );
    }
  }
}

const goType = (k: Kind) =>
  ({
    string: "string",
    boolean: "bool",
    number: "int64",
    "string[]": "[]string",
    object: "object",
    strmap: "map[string]string",
  })[k];

/** Type checks of the create body, with dockerd's wording for wrong types. */
export function validateCreateBody(body: unknown): void {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw badRequest("invalid JSON: expected an object");
  const b = body as Record<string, unknown>;
  check(b, CONFIG_FIELDS, "Config");
  for (const k of ["Cmd", "Entrypoint"]) if (typeof b[k] === "string") b[k] = [b[k]];
  if (b.HostConfig) check(b.HostConfig as Record<string, unknown>, HOST_FIELDS, "HostConfig");
}
