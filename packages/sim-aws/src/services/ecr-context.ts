import { AwsError } from "../errors.js";
import type { Simulator } from "../sim.js";
import type { EcrStore, RepositoryRecord } from "./ecr-store.js";

/** What the ECR operations share. */
export interface EcrContext {
  sim: Simulator;
  store: EcrStore;
  account: string;
  repoNotFound(name: string): AwsError;
  /** the repository named by input.repositoryName, or RepositoryNotFoundException */
  getRepo(input: Record<string, any>): RepositoryRecord;
}

export const invalidParameter = (message: string) => new AwsError("InvalidParameterException", message);

/** Offset-based pages; the token is opaque to clients. */
export function paginate<T>(
  items: T[],
  input: Record<string, any>,
  def: number,
  max: number,
): { page: T[]; nextToken?: string } {
  const n = input.maxResults ?? def;
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw invalidParameter(
      `Invalid parameter at 'maxResults' failed to satisfy constraint: 'must be between 1 and ${max}'`,
    );
  let start = 0;
  if (input.nextToken) {
    start = Number(Buffer.from(String(input.nextToken), "base64url").toString("utf8"));
    if (!Number.isInteger(start) || start < 0) throw invalidParameter("Invalid parameter at 'nextToken'");
  }
  const page = items.slice(start, start + n);
  const next = start + n < items.length ? Buffer.from(String(start + n)).toString("base64url") : undefined;
  return { page, nextToken: next };
}
