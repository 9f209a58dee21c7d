/** An error that maps to a Docker API status code and `{"message": ...}` body. */
export class DockerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "DockerError";
  }
}

export const badRequest = (msg: string) => new DockerError(400, msg);
export const notFound = (msg: string) => new DockerError(404, msg);
export const conflict = (msg: string) => new DockerError(409, msg);
export const notModified = () => new DockerError(304, "");
export const notImplemented = (msg: string) => new DockerError(501, msg);
export const forbidden = (msg: string) => new DockerError(403, msg);
export const serverError = (msg: string) => new DockerError(500, msg);

export const noSuchContainer = (id: string) => notFound(`No such container: ${id}`);
export const noSuchImage = (ref: string) => notFound(`No such image: ${ref}`);
export const noSuchExec = (id: string) => notFound(`No such exec instance: ${id}`);
export const noSuchVolume = (name: string) => notFound(`get ${name}: no such volume`);
export const noSuchNetwork = (id: string) => notFound(`network ${id} not found`);
