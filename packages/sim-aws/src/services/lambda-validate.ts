import { invalidValue, validation, type FunctionRecord } from "./lambda-functions.js";

/** Input checks for CreateFunction and the updates, with AWS's error codes and wording. */

const ROLE_RE = /^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/;

/** Variables Lambda sets itself and refuses in Environment.Variables. */
const RESERVED_ENV = [
  "_HANDLER",
  "_X_AMZN_TRACE_ID",
  "AWS_DEFAULT_REGION",
  "AWS_REGION",
  "AWS_EXECUTION_ENV",
  "AWS_LAMBDA_FUNCTION_NAME",
  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
  "AWS_LAMBDA_FUNCTION_VERSION",
  "AWS_LAMBDA_INITIALIZATION_TYPE",
  "AWS_LAMBDA_LOG_GROUP_NAME",
  "AWS_LAMBDA_LOG_STREAM_NAME",
  "AWS_ACCESS_KEY",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_LAMBDA_RUNTIME_API",
  "LAMBDA_TASK_ROOT",
  "LAMBDA_RUNTIME_DIR",
];

function range(input: Record<string, any>, key: string, min: number, max: number): number | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  const field = key.charAt(0).toLowerCase() + key.slice(1);
  if (!Number.isInteger(v) || v < min)
    throw validation(
      `1 validation error detected: Value '${v}' at '${field}' failed to satisfy constraint: Member must have value greater than or equal to ${min}`,
    );
  if (v > max)
    throw validation(
      `1 validation error detected: Value '${v}' at '${field}' failed to satisfy constraint: Member must have value less than or equal to ${max}`,
    );
  return v;
}

function stringList(v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
    throw validation(`${what} must be a list of strings`);
  return v as string[];
}

/** The configuration fields CreateFunction and UpdateFunctionConfiguration share, validated. */
export function configFields(input: Record<string, any>): Partial<FunctionRecord> {
  const out: Partial<FunctionRecord> = {};
  if (input.Role !== undefined) {
    if (typeof input.Role !== "string" || !ROLE_RE.test(input.Role))
      throw validation(
        `1 validation error detected: Value '${input.Role}' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: ${ROLE_RE.source.slice(1, -1)}`,
      );
    out.role = input.Role;
  }
  if (input.Description !== undefined) out.description = String(input.Description);
  const timeout = range(input, "Timeout", 1, 900);
  if (timeout !== undefined) out.timeout = timeout;
  const memory = range(input, "MemorySize", 128, 10240);
  if (memory !== undefined) out.memorySize = memory;
  if (input.Environment !== undefined) {
    const vars = input.Environment?.Variables ?? {};
    if (typeof vars !== "object" || Object.values(vars).some((v) => typeof v !== "string"))
      throw validation("Environment.Variables must map names to strings");
    const reserved = Object.keys(vars).filter((k) => RESERVED_ENV.includes(k));
    if (reserved.length)
      throw invalidValue(
        `Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${reserved.join(", ")}`,
      );
    out.environment = { ...vars };
  }
  if (input.ImageConfig !== undefined) {
    const ic = input.ImageConfig ?? {};
    out.imageConfig = {
      EntryPoint: stringList(ic.EntryPoint, "ImageConfig.EntryPoint"),
      Command: stringList(ic.Command, "ImageConfig.Command"),
      WorkingDirectory: ic.WorkingDirectory === undefined ? undefined : String(ic.WorkingDirectory),
    };
  }
  if (input.EphemeralStorage !== undefined) {
    const size = range(input.EphemeralStorage ?? {}, "Size", 512, 10240);
    if (size !== undefined) out.ephemeralStorage = size;
  }
  if (input.LoggingConfig?.LogGroup !== undefined) out.logGroup = String(input.LoggingConfig.LogGroup);
  return out;
}

/** Reject the Zip package type: only container images run here. */
export function requireImagePackage(input: Record<string, any>): string {
  const packageType = input.PackageType ?? "Zip";
  if (packageType !== "Image")
    throw invalidValue(
      `PackageType ${packageType} is not supported by this simulator: only container-image functions (PackageType "Image" with Code.ImageUri) can run`,
    );
  const uri = input.Code?.ImageUri ?? input.ImageUri;
  if (typeof uri !== "string" || !uri) throw invalidValue("Code.ImageUri is required for PackageType Image");
  return uri;
}
