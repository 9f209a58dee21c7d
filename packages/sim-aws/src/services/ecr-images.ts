import { AwsError, expectType, required } from "../errors.js";
import type { JsonHandler } from "../sim.js";
import { invalidParameter, paginate, type EcrContext } from "./ecr-context.js";
import { RegistryError } from "./ecr-errors.js";
import { DIGEST_RE, sha256 } from "./ecr-manifest.js";
import { own, type ImageRecord, type RepositoryRecord } from "./ecr-store.js";

interface ImageId {
  imageDigest?: string;
  imageTag?: string;
}

/** Images: listing, manifests, deletion, and the API way to push. */
export function imageHandlers(ctx: EcrContext): Record<string, JsonHandler> {
  const { store, account, getRepo } = ctx;

  const imageDetail = (r: RepositoryRecord, i: ImageRecord) => {
    const tags = store.tagsOf(r, i.digest);
    return {
      registryId: account,
      repositoryName: r.name,
      imageDigest: i.digest,
      ...(tags.length ? { imageTags: tags } : {}),
      imageSizeInBytes: i.imageSizeInBytes,
      imagePushedAt: i.pushedAt / 1000,
      imageManifestMediaType: i.mediaType,
      ...(i.artifactMediaType ? { artifactMediaType: i.artifactMediaType } : {}),
      ...(i.lastPulledAt ? { lastRecordedPullTime: i.lastPulledAt / 1000 } : {}),
      imageStatus: "ACTIVE",
    };
  };

  /** Resolve an imageId the way BatchGetImage/BatchDeleteImage do; a failure code otherwise. */
  const lookup = (
    r: RepositoryRecord,
    id: ImageId,
  ): ImageRecord | { failureCode: string; failureReason: string } => {
    if (!id.imageDigest && !id.imageTag)
      return {
        failureCode: "MissingDigestAndTag",
        failureReason: "Invalid request parameters: both tag and digest cannot be null",
      };
    if (id.imageDigest && !DIGEST_RE.test(id.imageDigest))
      return {
        failureCode: "InvalidImageDigest",
        failureReason:
          "Invalid request parameters: image digest should satisfy the regex 'sha256:[a-f0-9]{64}'",
      };
    const byTag = id.imageTag ? store.resolve(r, id.imageTag) : undefined;
    if (id.imageTag && id.imageDigest && byTag && byTag.digest !== id.imageDigest)
      return {
        failureCode: "ImageTagDoesNotMatchDigest",
        failureReason: "Invalid request parameters: given tag does not map to the given digest",
      };
    const image = id.imageDigest ? store.resolve(r, id.imageDigest) : byTag;
    if (!image || (id.imageTag && !byTag))
      return { failureCode: "ImageNotFound", failureReason: "Requested image not found" };
    return image;
  };

  return {
    DescribeImages(input) {
      const r = getRepo(input);
      expectType(input, "imageIds", "array");
      if (input.imageIds) {
        return {
          imageDetails: (input.imageIds as ImageId[]).map((id) => {
            const found = lookup(r, id);
            if (!("digest" in found))
              throw new AwsError(
                "ImageNotFoundException",
                `The image with imageId {imageDigest:'${id.imageDigest ?? "null"}', imageTag:'${id.imageTag ?? "null"}'} does not exist within the repository with name '${r.name}' in the registry with id '${account}'`,
              );
            return imageDetail(r, found);
          }),
        };
      }
      const images = filterByTagStatus(r, Object.values(r.images), input.filter?.tagStatus).sort(
        (a, b) => a.pushedAt - b.pushedAt,
      );
      const { page, nextToken } = paginate(images, input, 100, 1000);
      return { imageDetails: page.map((i) => imageDetail(r, i)), ...(nextToken ? { nextToken } : {}) };
    },

    ListImages(input) {
      const r = getRepo(input);
      const ids: ImageId[] = [];
      for (const i of filterByTagStatus(r, Object.values(r.images), input.filter?.tagStatus)) {
        const tags = store.tagsOf(r, i.digest);
        if (!tags.length) ids.push({ imageDigest: i.digest });
        for (const t of tags) ids.push({ imageDigest: i.digest, imageTag: t });
      }
      const { page, nextToken } = paginate(ids, input, 100, 1000);
      return { imageIds: page, ...(nextToken ? { nextToken } : {}) };
    },

    async BatchGetImage(input) {
      const r = getRepo(input);
      const images = [];
      const failures = [];
      for (const id of required<ImageId[]>(input, "imageIds")) {
        const found = lookup(r, id);
        if (!("digest" in found)) {
          failures.push({ imageId: id, ...found });
          continue;
        }
        images.push({
          registryId: account,
          repositoryName: r.name,
          imageId: { imageDigest: found.digest, ...(id.imageTag ? { imageTag: id.imageTag } : {}) },
          imageManifest: (await store.blobs.readAll(found.digest)).toString("utf8"),
          imageManifestMediaType: found.mediaType,
        });
      }
      return { images, failures };
    },

    async BatchDeleteImage(input) {
      const r = getRepo(input);
      const imageIds: ImageId[] = [];
      const failures = [];
      for (const id of required<ImageId[]>(input, "imageIds")) {
        const found = lookup(r, id);
        if (!("digest" in found)) {
          failures.push({ imageId: id, ...found });
          continue;
        }
        if (id.imageTag && !id.imageDigest) {
          await store.untag(r, id.imageTag);
          imageIds.push({ imageDigest: found.digest, imageTag: id.imageTag });
          continue;
        }
        const parent = store.referencedBy(r, found.digest);
        if (parent) {
          failures.push({
            imageId: id,
            failureCode: "ImageReferencedByManifestList",
            failureReason: `Requested image referenced by manifest list: [${parent}]`,
          });
          continue;
        }
        const tags = await store.deleteImage(r, found.digest);
        if (!tags.length) imageIds.push({ imageDigest: found.digest });
        for (const t of tags) imageIds.push({ imageDigest: found.digest, imageTag: t });
      }
      return { imageIds, failures };
    },

    /** The API way to push a manifest whose blobs are already in the repository. */
    async PutImage(input) {
      const r = getRepo(input);
      const manifest = Buffer.from(required<string>(input, "imageManifest"), "utf8");
      const digest = sha256(manifest);
      const tag: string | undefined = input.imageTag;
      if (tag && own(r.tagIndex, tag) === digest)
        throw new AwsError(
          "ImageAlreadyExistsException",
          `Image with digest '${digest}' and tag '${tag}' already exists in the repository with name '${r.name}' in registry with id '${account}'`,
        );
      if (input.imageDigest && input.imageDigest !== digest)
        throw invalidParameter(`Invalid parameter at 'imageDigest': manifest digest is ${digest}`);
      try {
        const image = await store.putManifest(r, tag ?? digest, manifest, input.imageManifestMediaType);
        return {
          image: {
            registryId: account,
            repositoryName: r.name,
            imageId: { imageDigest: image.digest, ...(tag ? { imageTag: tag } : {}) },
            imageManifest: manifest.toString("utf8"),
            imageManifestMediaType: image.mediaType,
          },
        };
      } catch (e) {
        throw apiErrorOf(e);
      }
    },

    BatchCheckLayerAvailability(input) {
      const r = getRepo(input);
      const layers = [];
      const failures = [];
      for (const d of required<string[]>(input, "layerDigests")) {
        const size = own(r.blobs, d) !== undefined ? store.blobs.size(d) : undefined;
        if (!DIGEST_RE.test(d))
          failures.push({
            layerDigest: d,
            failureCode: "InvalidLayerDigest",
            failureReason: "Invalid layer digest",
          });
        else if (size === undefined) layers.push({ layerDigest: d, layerAvailability: "UNAVAILABLE" });
        else layers.push({ layerDigest: d, layerAvailability: "AVAILABLE", layerSize: size });
      }
      return { layers, failures };
    },
  };
}

function filterByTagStatus(
  r: RepositoryRecord,
  images: ImageRecord[],
  status: string | undefined,
): ImageRecord[] {
  const tagged = new Set(Object.values(r.tagIndex));
  if (status === "TAGGED") return images.filter((i) => tagged.has(i.digest));
  if (status === "UNTAGGED") return images.filter((i) => !tagged.has(i.digest));
  return images;
}

/** Registry validation failures, as PutImage reports them. */
function apiErrorOf(e: unknown): unknown {
  if (!(e instanceof RegistryError)) return e;
  switch (e.code) {
    case "MANIFEST_BLOB_UNKNOWN":
      return new AwsError("LayersNotFoundException", e.message);
    case "TAG_INVALID":
      return e.message.includes("immutable")
        ? new AwsError("ImageTagAlreadyExistsException", e.message)
        : invalidParameter(e.message);
    case "DIGEST_INVALID":
      return new AwsError("ImageDigestDoesNotMatchException", e.message);
    default:
      return invalidParameter(e.message);
  }
}
