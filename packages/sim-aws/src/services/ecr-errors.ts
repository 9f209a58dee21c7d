/** An OCI distribution error, sent as {"errors":[{code,message,detail}]}. */
export class RegistryError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = code;
  }
}

export const nameUnknown = (name: string, account: string) =>
  new RegistryError(
    "NAME_UNKNOWN",
    `The repository with name '${name}' does not exist in the registry with id '${account}'`,
    404,
  );
export const manifestUnknown = (ref: string) =>
  new RegistryError("MANIFEST_UNKNOWN", `Requested image not found`, 404, { reference: ref });
export const blobUnknown = (digest: string) =>
  new RegistryError("BLOB_UNKNOWN", "blob unknown to registry", 404, { digest });
export const digestInvalid = (message: string) => new RegistryError("DIGEST_INVALID", message, 400);
export const manifestInvalid = (message: string) => new RegistryError("MANIFEST_INVALID", message, 400);
