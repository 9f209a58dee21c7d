import { randomUUID } from "node:crypto";
import { AwsError } from "../errors.js";
import type { Simulator } from "../sim.js";
import type { Persistent } from "../store.js";

export interface ImageConfig {
  EntryPoint?: string[];
  Command?: string[];
  WorkingDirectory?: string;
}

/** A function as stored (only $LATEST: versions and aliases are not simulated). */
export interface FunctionRecord {
  name: string;
  role: string;
  description: string;
  timeout: number;
  memorySize: number;
  environment: Record<string, string>;
  imageUri: string;
  imageConfig: ImageConfig;
  architectures: string[];
  ephemeralStorage: number;
  logGroup: string;
  tags: Record<string, string>;
  lastModified: string;
  revisionId: string;
  /** hex digest of the image manifest, once known */
  codeSha256: string;
  resolvedImageUri?: string;
  /** the engine's image id once pulled */
  imageId?: string;
  state: "Pending" | "Active" | "Failed";
  stateReason?: string;
  stateReasonCode?: string;
  lastUpdateStatus?: "InProgress" | "Successful" | "Failed";
  lastUpdateStatusReason?: string;
  lastUpdateStatusReasonCode?: string;
  /** bumped by every change that execution environments must not outlive */
  generation: number;
}

/** Function records, persisted. */
export class FunctionStore {
  readonly state: Persistent<{ functions: Record<string, FunctionRecord> }>;

  constructor(readonly sim: Simulator) {
    this.state = sim.state("lambda", { functions: {} });
  }

  get(name: string): FunctionRecord | undefined {
    return Object.hasOwn(this.state.data.functions, name) ? this.state.data.functions[name] : undefined;
  }

  list(): FunctionRecord[] {
    return Object.values(this.state.data.functions).sort((a, b) => a.name.localeCompare(b.name));
  }

  put(f: FunctionRecord): void {
    this.state.data.functions[f.name] = f;
    this.state.changed();
  }

  delete(name: string): void {
    delete this.state.data.functions[name];
    this.state.changed();
  }

  changed(): void {
    this.state.changed();
  }

  arn(name: string, qualifier?: string): string {
    return this.sim.arn("lambda", `function:${name}${qualifier ? `:${qualifier}` : ""}`);
  }

  /**
   * A function by name, full or partial ARN, optionally qualified ("name:$LATEST"), or the
   * AWS error for it. Only $LATEST exists here.
   */
  resolve(ref: string, qualifierParam?: string | null): FunctionRecord {
    const m =
      /^(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?([a-zA-Z0-9_-]{1,64})(?::([a-zA-Z0-9$_-]+))?$/.exec(
        ref,
      );
    if (!m)
      throw validation(
        `1 validation error detected: Value '${ref}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?`,
      );
    const [, name, q] = m;
    const qualifier = qualifierParam || q;
    const f = this.get(name);
    if (!f || (qualifier && qualifier !== "$LATEST"))
      throw new AwsError(
        "ResourceNotFoundException",
        `Function not found: ${this.arn(name, qualifier)}`,
        404,
      );
    return f;
  }
}

/** Invoking or updating a function that is not Active. */
export const conflictState = (state: string) =>
  new AwsError(
    "ResourceConflictException",
    `The operation cannot be performed at this time. The function is currently in the following state: ${state}`,
    409,
  );

export const validation = (message: string) => new AwsError("ValidationException", message);
export const invalidValue = (message: string) => new AwsError("InvalidParameterValueException", message);

export function newFunction(name: string, imageUri: string, fields: Partial<FunctionRecord>): FunctionRecord {
  return {
    name,
    role: "",
    description: "",
    timeout: 3,
    memorySize: 128,
    environment: {},
    imageConfig: {},
    architectures: ["x86_64"],
    ephemeralStorage: 512,
    logGroup: `/aws/lambda/${name}`,
    tags: {},
    codeSha256: "",
    ...fields,
    imageUri,
    lastModified: lastModified(),
    revisionId: randomUUID(),
    state: "Pending",
    stateReason: "The function is being created.",
    stateReasonCode: "Creating",
    generation: 0,
  };
}

/** Lambda's LastModified format: 2024-01-01T00:00:00.000+0000 */
export function lastModified(d = new Date()): string {
  return d.toISOString().replace("Z", "+0000");
}

/** Record a change: new revision, new LastModified. */
export function touch(f: FunctionRecord): void {
  f.lastModified = lastModified();
  f.revisionId = randomUUID();
}

/** FunctionConfiguration as the API returns it. */
export function configurationOf(store: FunctionStore, f: FunctionRecord): Record<string, unknown> {
  const ic = Object.fromEntries(Object.entries(f.imageConfig).filter(([, v]) => v !== undefined));
  return {
    FunctionName: f.name,
    FunctionArn: store.arn(f.name),
    Role: f.role,
    CodeSize: 0,
    Description: f.description,
    Timeout: f.timeout,
    MemorySize: f.memorySize,
    LastModified: f.lastModified,
    CodeSha256: f.codeSha256,
    Version: "$LATEST",
    ...(Object.keys(f.environment).length ? { Environment: { Variables: f.environment } } : {}),
    TracingConfig: { Mode: "PassThrough" },
    RevisionId: f.revisionId,
    State: f.state,
    ...(f.stateReason ? { StateReason: f.stateReason } : {}),
    ...(f.stateReasonCode ? { StateReasonCode: f.stateReasonCode } : {}),
    ...(f.lastUpdateStatus ? { LastUpdateStatus: f.lastUpdateStatus } : {}),
    ...(f.lastUpdateStatusReason ? { LastUpdateStatusReason: f.lastUpdateStatusReason } : {}),
    ...(f.lastUpdateStatusReasonCode ? { LastUpdateStatusReasonCode: f.lastUpdateStatusReasonCode } : {}),
    PackageType: "Image",
    ...(Object.keys(ic).length ? { ImageConfigResponse: { ImageConfig: ic } } : {}),
    Architectures: f.architectures,
    EphemeralStorage: { Size: f.ephemeralStorage },
    LoggingConfig: { LogFormat: "Text", LogGroup: f.logGroup },
    SnapStart: { ApplyOn: "None", OptimizationStatus: "Off" },
  };
}
