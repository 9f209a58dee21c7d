import { createHash } from "node:crypto";
import { digestInvalid, manifestInvalid } from "./ecr-errors.js";

export const MEDIA_TYPES = {
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
} as const;

const INDEX_TYPES: string[] = [MEDIA_TYPES.dockerList, MEDIA_TYPES.ociIndex];
const IMAGE_TYPES: string[] = [MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest];

export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
export const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** ECR's repository name pattern (lowercase path components separated by "/"). */
export const REPO_NAME_RE = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export function sha256(data: Buffer | string): string {
  return "sha256:" + createHash("sha256").update(data).digest("hex");
}

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
}

export interface ParsedManifest {
  mediaType: string;
  isIndex: boolean;
  /** config + layers of an image manifest */
  blobs: Descriptor[];
  /** manifests an index points at */
  children: Descriptor[];
  /** the config's media type (what DescribeImages calls artifactMediaType) */
  artifactMediaType?: string;
  /** compressed size of the layers, what ECR reports as imageSizeInBytes */
  layersSize: number;
}

/**
 * Validate a manifest the way a registry does before storing it. The media type comes from the
 * document's own mediaType, else the Content-Type it was sent with, else its shape (OCI allows
 * omitting it).
 */
export function parseManifest(body: Buffer, contentType?: string): ParsedManifest {
  let doc: any;
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch {
    throw manifestInvalid("manifest is not valid JSON");
  }
  if (typeof doc !== "object" || doc === null || doc.schemaVersion !== 2)
    throw manifestInvalid("unsupported manifest: schemaVersion must be 2");
  const ct = contentType?.split(";")[0].trim();
  const declared = typeof doc.mediaType === "string" ? doc.mediaType : undefined;
  const mediaType =
    declared ??
    (ct && [...INDEX_TYPES, ...IMAGE_TYPES].includes(ct)
      ? ct
      : Array.isArray(doc.manifests)
        ? MEDIA_TYPES.ociIndex
        : MEDIA_TYPES.ociManifest);
  if (INDEX_TYPES.includes(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw manifestInvalid("index without manifests");
    return {
      mediaType,
      isIndex: true,
      blobs: [],
      children: doc.manifests.map(descriptor),
      layersSize: 0,
    };
  }
  if (!IMAGE_TYPES.includes(mediaType)) throw manifestInvalid(`unsupported manifest media type ${mediaType}`);
  if (!doc.config || !Array.isArray(doc.layers)) throw manifestInvalid("manifest without config or layers");
  const config = descriptor(doc.config);
  const layers: Descriptor[] = doc.layers.map(descriptor);
  return {
    mediaType,
    isIndex: false,
    blobs: [config, ...layers],
    children: [],
    artifactMediaType: config.mediaType,
    layersSize: layers.reduce((n, l) => n + l.size, 0),
  };
}

function descriptor(d: any): Descriptor {
  if (!d || typeof d.digest !== "string" || typeof d.size !== "number")
    throw manifestInvalid("descriptor without digest or size");
  if (!DIGEST_RE.test(d.digest)) throw digestInvalid(`unsupported digest ${d.digest}`);
  return {
    mediaType: typeof d.mediaType === "string" ? d.mediaType : undefined,
    digest: d.digest,
    size: d.size,
  };
}
