/** An AWS service error: the code the SDKs map to exception classes, and the HTTP status. */
export class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** "Sender" (client fault) or "Receiver" (server fault), for Query protocol errors */
    readonly fault: "Sender" | "Receiver" = status >= 500 ? "Receiver" : "Sender",
    /** extra members AWS sends with some errors (Cloud Map's NamespaceId, Logs' expectedSequenceToken) */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = code;
  }
}

export const validation = (message: string) => new AwsError("ValidationException", message);
export const invalidParameter = (message: string) => new AwsError("InvalidParameterException", message);
export const notFound = (code: string, message: string) => new AwsError(code, message, 400);

/** Reject a missing required member the way AWS phrases it. */
export function required<T>(input: Record<string, unknown>, name: string): T {
  const v = input[name];
  if (v === undefined || v === null || v === "") {
    throw validation(
      `1 validation error detected: Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return v as T;
}

export function expectType(
  input: Record<string, unknown>,
  name: string,
  type: "string" | "number" | "boolean" | "object" | "array",
): void {
  const v = input[name];
  if (v === undefined || v === null) return;
  const ok =
    type === "array"
      ? Array.isArray(v)
      : type === "object"
        ? typeof v === "object" && !Array.isArray(v)
        : typeof v === type;
  if (!ok)
    throw new AwsError(
      "SerializationException",
      `Start of structure or map found where not expected (member ${name}, expected ${type})`,
    );
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

/** AWS's wording for a model constraint: "1 validation error detected: Value 'x' at 'field' failed to …". */
export function constraintMessage(value: unknown, field: string, constraint: string): string {
  return `1 validation error detected: Value ${value === undefined ? "null" : `'${String(value)}'`} at '${field}' failed to satisfy constraint: ${constraint}`;
}

export interface StringRules {
  pattern?: RegExp;
  max?: number;
  optional?: boolean;
  /** Query services send absent members as "": treat "" as missing (else it violates length >= 1) */
  emptyIsMissing?: boolean;
}

/**
 * A string member checked against its model's length and pattern constraints. Services differ only
 * in the error code they report (IAM: ValidationError, Logs: InvalidParameterException), so `fail` makes it.
 */
export function checkString(
  v: unknown,
  field: string,
  rules: StringRules,
  fail: (message: string) => AwsError,
): string {
  if (v === undefined || v === null || (v === "" && rules.emptyIsMissing)) {
    if (rules.optional) return undefined as unknown as string;
    throw fail(constraintMessage(undefined, field, "Member must not be null"));
  }
  if (typeof v !== "string") throw fail(constraintMessage(v, field, "Member must be a string"));
  if (v.length < 1)
    throw fail(constraintMessage(v, field, "Member must have length greater than or equal to 1"));
  if (rules.max && v.length > rules.max) {
    throw fail(constraintMessage(v, field, `Member must have length less than or equal to ${rules.max}`));
  }
  if (rules.pattern && !rules.pattern.test(v)) {
    throw fail(
      constraintMessage(
        v,
        field,
        `Member must satisfy regular expression pattern: ${rules.pattern.source.slice(1, -1)}`,
      ),
    );
  }
  return v;
}
