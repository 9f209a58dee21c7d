import { AwsError, required } from "../errors.js";
import type { JsonHandler, Simulator } from "../sim.js";
import type { EcrAuth } from "./ecr-auth.js";
import { imageHandlers } from "./ecr-images.js";
import { repositoryHandlers } from "./ecr-repositories.js";
import type { EcrContext } from "./ecr-context.js";
import type { EcrStore, RepositoryRecord } from "./ecr-store.js";

/** The ECR control-plane operations (JSON 1.1). */
export function ecrApi(sim: Simulator, store: EcrStore, auth: EcrAuth): Record<string, JsonHandler> {
  const account = sim.opts.account;
  const repoNotFound = (name: string) =>
    new AwsError(
      "RepositoryNotFoundException",
      `The repository with name '${name}' does not exist in the registry with id '${account}'`,
    );
  const getRepo = (input: Record<string, any>): RepositoryRecord => {
    const name = required<string>(input, "repositoryName");
    const r = store.repo(name);
    if (!r) throw repoNotFound(name);
    return r;
  };
  const ctx: EcrContext = { sim, store, account, repoNotFound, getRepo };
  return { ...repositoryHandlers(ctx, auth), ...imageHandlers(ctx) };
}
