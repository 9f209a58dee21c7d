import { AwsError, expectType, required } from "../errors.js";
import type { JsonHandler } from "../sim.js";
import { invalidParameter, paginate, type EcrContext } from "./ecr-context.js";
import type { EcrAuth } from "./ecr-auth.js";
import { REPO_NAME_RE } from "./ecr-manifest.js";
import type { RepositoryRecord, Tag } from "./ecr-store.js";

/** Repositories, their tags, and registry credentials. */
export function repositoryHandlers(ctx: EcrContext, auth: EcrAuth): Record<string, JsonHandler> {
  const { sim, store, account, repoNotFound, getRepo } = ctx;
  const repoArn = (name: string) => sim.arn("ecr", `repository/${name}`);

  const repositoryJson = (r: RepositoryRecord) => ({
    repositoryArn: repoArn(r.name),
    registryId: account,
    repositoryName: r.name,
    // read lazily: the registry host is known only once the server listens
    repositoryUri: `${sim.registryHost}/${r.name}`,
    createdAt: r.createdAt / 1000,
    imageTagMutability: r.imageTagMutability,
    imageScanningConfiguration: { scanOnPush: r.scanOnPush },
    encryptionConfiguration: r.encryption,
  });

  const repoOfArn = (input: Record<string, any>): RepositoryRecord => {
    const arn = required<string>(input, "resourceArn");
    const m = /^arn:aws[a-z-]*:ecr:[^:]*:\d{12}:repository\/(.+)$/.exec(arn);
    if (!m)
      throw invalidParameter(
        `Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'`,
      );
    const r = store.repo(m[1]);
    if (!r) throw repoNotFound(m[1]);
    return r;
  };

  return {
    CreateRepository(input) {
      const name = required<string>(input, "repositoryName");
      if (name.length < 2 || name.length > 256 || !REPO_NAME_RE.test(name))
        throw invalidParameter(
          `Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '${REPO_NAME_RE.source.slice(1, -1)}''`,
        );
      if (store.repo(name))
        throw new AwsError(
          "RepositoryAlreadyExistsException",
          `The repository with name '${name}' already exists in the registry with id '${account}'`,
        );
      expectType(input, "tags", "array");
      const mutability = input.imageTagMutability ?? "MUTABLE";
      if (mutability !== "MUTABLE" && mutability !== "IMMUTABLE")
        throw invalidParameter(`Invalid parameter at 'imageTagMutability': must be MUTABLE or IMMUTABLE`);
      const r: RepositoryRecord = {
        name,
        createdAt: Date.now(),
        tags: checkTags(input.tags ?? []),
        imageTagMutability: mutability,
        scanOnPush: Boolean(input.imageScanningConfiguration?.scanOnPush),
        encryption: {
          encryptionType: input.encryptionConfiguration?.encryptionType ?? "AES256",
          ...(input.encryptionConfiguration?.kmsKey ? { kmsKey: input.encryptionConfiguration.kmsKey } : {}),
        },
        images: {},
        tagIndex: {},
        blobs: {},
      };
      store.add(r);
      return { repository: repositoryJson(r) };
    },

    DescribeRepositories(input) {
      expectType(input, "repositoryNames", "array");
      const names: string[] | undefined = input.repositoryNames;
      if (names && input.maxResults !== undefined)
        throw invalidParameter("maxResults cannot be used when repositoryNames is specified");
      if (names) {
        return {
          repositories: names.map((n) => {
            const r = store.repo(n);
            if (!r) throw repoNotFound(n);
            return repositoryJson(r);
          }),
        };
      }
      const { page, nextToken } = paginate(store.list(), input, 100, 1000);
      return { repositories: page.map(repositoryJson), ...(nextToken ? { nextToken } : {}) };
    },

    async DeleteRepository(input) {
      const r = getRepo(input);
      if (Object.keys(r.images).length && !input.force)
        throw new AwsError(
          "RepositoryNotEmptyException",
          `The repository with name '${r.name}' in registry with id '${account}' cannot be deleted because it still contains images`,
        );
      const out = repositoryJson(r);
      await store.deleteRepository(r.name);
      return { repository: out };
    },

    PutImageTagMutability(input) {
      const r = getRepo(input);
      const m = required<string>(input, "imageTagMutability");
      if (m !== "MUTABLE" && m !== "IMMUTABLE")
        throw invalidParameter(`Invalid parameter at 'imageTagMutability': must be MUTABLE or IMMUTABLE`);
      r.imageTagMutability = m;
      store.changed();
      return { registryId: account, repositoryName: r.name, imageTagMutability: m };
    },

    TagResource(input) {
      const r = repoOfArn(input);
      for (const t of checkTags(required(input, "tags"))) {
        const i = r.tags.findIndex((x) => x.Key === t.Key);
        if (i >= 0) r.tags[i] = t;
        else r.tags.push(t);
      }
      if (r.tags.length > 50)
        throw new AwsError("TooManyTagsException", "A repository can have at most 50 tags");
      store.changed();
      return {};
    },

    UntagResource(input) {
      const r = repoOfArn(input);
      const keys = required<string[]>(input, "tagKeys");
      r.tags = r.tags.filter((t) => !keys.includes(t.Key));
      store.changed();
      return {};
    },

    ListTagsForResource(input) {
      return { tags: repoOfArn(input).tags };
    },

    GetAuthorizationToken() {
      const { password, expiresAt } = auth.issue();
      return {
        authorizationData: [
          {
            authorizationToken: Buffer.from(`AWS:${password}`).toString("base64"),
            expiresAt: expiresAt.getTime() / 1000,
            proxyEndpoint: `http://${sim.registryHost}`,
          },
        ],
      };
    },
  };
}

function checkTags(tags: unknown): Tag[] {
  if (!Array.isArray(tags) || tags.some((t) => typeof t?.Key !== "string" || typeof t?.Value !== "string"))
    throw new AwsError("InvalidTagParameterException", "Tags must be a list of {Key, Value} strings");
  return tags.map((t) => ({ Key: t.Key, Value: t.Value }));
}
