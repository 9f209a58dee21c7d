import { AwsError } from "./errors.js";

/**
 * Opt-in fault injection per operation ("ecs:RunTask", or "ecs:*"), set with
 * POST /_sim/faults or SOCKERLESS_SIM_FAULTS, so clients can be tested against AWS's errors.
 * A latency rule on "logs:Ingest" delays container output on its way into CloudWatch Logs (the
 * awslogs driver batches for up to 5 s on AWS).
 */
export interface FaultRule {
  operation: string;
  kind: "throttle" | "error" | "latency";
  /** how many requests it applies to (default: all) */
  count?: number;
  /** probability per request, 0..1 (default 1) */
  rate?: number;
  latencyMs?: number;
  status?: number;
  code?: string;
}

export class Faults {
  private rules: FaultRule[] = [];

  set(rules: FaultRule[]): void {
    for (const r of rules) {
      if (!r.operation || !["throttle", "error", "latency"].includes(r.kind)) {
        throw new AwsError("ValidationException", `invalid fault rule ${JSON.stringify(r)}`);
      }
    }
    this.rules = rules.map((r) => ({ ...r }));
  }

  list(): FaultRule[] {
    return this.rules;
  }

  /**
   * The latency a rule adds to an internal step that is not a request (e.g. "logs:Ingest", the
   * delivery of container output into CloudWatch Logs); 0 when none applies.
   */
  delayOf(service: string, operation: string): number {
    for (const r of this.rules) {
      if (r.kind !== "latency" || !this.matches(r, service, operation)) continue;
      if (r.count !== undefined) r.count--;
      return r.latencyMs ?? 1000;
    }
    return 0;
  }

  private matches(r: FaultRule, service: string, operation: string): boolean {
    const [svc, op] = r.operation.split(":");
    if (svc !== service || (op !== "*" && op !== operation)) return false;
    if (r.count !== undefined && r.count <= 0) return false;
    return r.rate === undefined || Math.random() < r.rate;
  }

  /** Apply the rules for one request: wait, throw, or do nothing. */
  async apply(service: string, operation: string): Promise<void> {
    for (const r of this.rules) {
      if (!this.matches(r, service, operation)) continue;
      if (r.count !== undefined) r.count--;
      if (r.kind === "latency") await new Promise((res) => setTimeout(res, r.latencyMs ?? 1000));
      else if (r.kind === "throttle")
        throw new AwsError(r.code ?? "ThrottlingException", "Rate exceeded", r.status ?? 400);
      else
        throw new AwsError(
          r.code ?? "InternalFailure",
          "Injected fault: the server encountered an internal error",
          r.status ?? 500,
        );
    }
  }
}
