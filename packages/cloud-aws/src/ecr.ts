import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  type ECRClient,
  GetAuthorizationTokenCommand,
  RepositoryAlreadyExistsException,
} from "@aws-sdk/client-ecr";

/** Where the AWS backends push images the cloud must pull: an ECR repository, with a fresh login. */
export class EcrRepository {
  private ensured: Promise<string> | undefined;

  constructor(
    private readonly ecr: ECRClient,
    readonly name: string,
  ) {}

  /** The repository URI (`<registry host>/<name>`), creating the repository when missing. */
  uri(): Promise<string> {
    this.ensured ??= this.ensure().catch((e) => {
      this.ensured = undefined;
      throw e;
    });
    return this.ensured;
  }

  private async ensure(): Promise<string> {
    try {
      const out = await this.ecr.send(new CreateRepositoryCommand({ repositoryName: this.name }));
      return out.repository!.repositoryUri!;
    } catch (e) {
      if (!(e instanceof RepositoryAlreadyExistsException)) throw e;
      const d = await this.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [this.name] }));
      return d.repositories![0].repositoryUri!;
    }
  }

  /** Is the image still there (a lifecycle policy or a person may have deleted it)? */
  async has(digest: string): Promise<boolean> {
    try {
      const out = await this.ecr.send(
        new DescribeImagesCommand({ repositoryName: this.name, imageIds: [{ imageDigest: digest }] }),
      );
      return !!out.imageDetails?.length;
    } catch (e) {
      const name = (e as Error).name;
      if (name !== "ImageNotFoundException" && name !== "RepositoryNotFoundException") throw e;
      if (name === "RepositoryNotFoundException") this.ensured = undefined;
      return false;
    }
  }

  /** Registry credentials (user AWS, a 12-hour token) as a docker login would use them. */
  async auth(): Promise<{ username: string; password: string; serveraddress: string }> {
    const out = await this.ecr.send(new GetAuthorizationTokenCommand({}));
    const d = out.authorizationData![0];
    const [username, password] = Buffer.from(d.authorizationToken!, "base64").toString("utf8").split(":");
    return { username, password, serveraddress: d.proxyEndpoint!.replace(/^https?:\/\//, "") };
  }
}
