import { serverError } from "@sockerless/api";
import type { Descriptor, ImageIndex, ImageManifest } from "./docker-types.js";
import { isSha256Digest } from "./digest.js";

export const MEDIA_TYPES = {
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerForeignLayer: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
} as const;

export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.dockerManifestList,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.ociIndex,
].join(", ");

/** Upper bound for a manifest body (containerd uses 4 MiB). */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;

export type ParsedManifest =
  | { kind: "index"; mediaType: string; index: ImageIndex }
  | { kind: "manifest"; mediaType: string; manifest: ImageManifest };

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null;

function checkDescriptor(d: unknown, what: string): Descriptor {
  if (!isObject(d) || typeof d.digest !== "string" || !isSha256Digest(d.digest)) {
    throw serverError(`invalid ${what} descriptor in manifest: unsupported or malformed digest`);
  }
  if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw serverError(`invalid ${what} descriptor in manifest: bad size`);
  }
  return d as unknown as Descriptor;
}

/** Classifies and validates a manifest body by Content-Type (falling back to its mediaType field). */
export function parseManifest(body: Buffer, contentType: string | null, refString: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    throw serverError(`error parsing manifest for ${refString}: invalid JSON`);
  }
  if (!isObject(json)) throw serverError(`error parsing manifest for ${refString}: not an object`);
  const ct = (contentType ?? "").split(";")[0].trim();
  const fieldType = typeof json.mediaType === "string" ? json.mediaType : "";
  let mediaType = ct;
  const known = [
    MEDIA_TYPES.dockerManifest,
    MEDIA_TYPES.dockerManifestList,
    MEDIA_TYPES.ociManifest,
    MEDIA_TYPES.ociIndex,
  ] as string[];
  if (!known.includes(mediaType)) {
    if (known.includes(fieldType)) mediaType = fieldType;
    else if (
      json.schemaVersion === 1 ||
      ct === MEDIA_TYPES.dockerSchema1 ||
      ct === MEDIA_TYPES.dockerSchema1Signed
    ) {
      throw serverError(
        `[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 support is disabled by default and will be removed in an upcoming release. Suggest the author of ${refString} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/`,
      );
    } else if (Array.isArray(json.manifests)) mediaType = MEDIA_TYPES.ociIndex;
    else if (isObject(json.config) && Array.isArray(json.layers)) mediaType = MEDIA_TYPES.ociManifest;
    else throw serverError(`unsupported manifest media type and no default available: ${ct || fieldType}`);
  }
  if (mediaType === MEDIA_TYPES.dockerManifestList || mediaType === MEDIA_TYPES.ociIndex) {
    if (!Array.isArray(json.manifests)) throw serverError(`error parsing manifest list for ${refString}`);
    for (const d of json.manifests) checkDescriptor(d, "manifest");
    return { kind: "index", mediaType, index: json as unknown as ImageIndex };
  }
  if (!isObject(json.config) || !Array.isArray(json.layers)) {
    throw serverError(`error parsing manifest for ${refString}: missing config or layers`);
  }
  checkDescriptor(json.config, "config");
  for (const l of json.layers) checkDescriptor(l, "layer");
  return { kind: "manifest", mediaType, manifest: json as unknown as ImageManifest };
}

/** Layer media types this implementation can unpack. */
export function checkLayerMediaType(mediaType: string): void {
  const ok = [
    MEDIA_TYPES.dockerLayerGzip,
    MEDIA_TYPES.ociLayer,
    MEDIA_TYPES.ociLayerGzip,
    MEDIA_TYPES.ociLayerZstd,
    "application/vnd.docker.image.rootfs.diff.tar",
  ] as string[];
  if (!ok.includes(mediaType)) throw serverError(`unsupported layer media type ${mediaType}`);
}
