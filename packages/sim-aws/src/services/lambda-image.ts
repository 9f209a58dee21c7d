import type { Simulator } from "../sim.js";
import { ecrOf } from "./ecr.js";
import { invalidValue } from "./lambda-functions.js";

/** Where an ImageUri points and how the engine pulls it. */
export interface ImageSource {
  /** what the engine pulls (ECR-style hosts mapped to the simulator's registry) */
  pullRef: string;
  /** the repository part of the ImageUri as given, for ResolvedImageUri */
  repository: string;
  /** set when the image is in this simulator's ECR */
  ecr?: { repository: string; reference: string };
}

/**
 * Parse an ImageUri. "<account>.dkr.ecr.<region>.amazonaws.com/<repo>" and the simulator's own
 * registry host both mean this simulator's ECR (the engine cannot resolve the former); any
 * other registry is pulled as is.
 */
export function imageSource(sim: Simulator, uri: string): ImageSource {
  const m = /^([^/]+)\/(.+?)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/.exec(uri);
  if (!m || (!m[3] && !m[4]))
    throw invalidValue(`Source image ${uri} is not valid. Provide a valid source image.`);
  const [, host, path, tag, digest] = m;
  const reference = digest ?? tag;
  const awsEcr = /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com$/.test(host);
  if (!awsEcr && host !== sim.registryHost) return { pullRef: uri, repository: `${host}/${path}` };
  const suffix = digest ? `@${digest}` : `:${tag}`;
  return {
    pullRef: `${sim.registryHost}/${path}${suffix}`,
    repository: `${host}/${path}`,
    ecr: { repository: path, reference },
  };
}

/** For an image in this simulator's ECR: its manifest digest, or the error AWS gives. */
export function ecrDigest(sim: Simulator, src: ImageSource, uri: string): string | undefined {
  if (!src.ecr) return undefined;
  const ecr = ecrOf(sim);
  const repo = ecr?.store.repo(src.ecr.repository);
  const image = repo && ecr!.store.resolve(repo, src.ecr.reference);
  if (!image) throw invalidValue(`Source image ${uri} does not exist. Provide a valid source image.`);
  return image.digest;
}

/** Pull an image into the engine (with ECR credentials when it is ours). */
export async function pullImage(
  sim: Simulator,
  src: ImageSource,
): Promise<{ imageId: string; digest?: string }> {
  const ecr = src.ecr ? ecrOf(sim) : undefined;
  const authconfig = ecr
    ? { username: "AWS", password: ecr.auth.issue().password, serveraddress: sim.registryHost }
    : undefined;
  const stream = await sim.docker.pull(src.pullRef, authconfig ? { authconfig } : {});
  await new Promise<void>((resolve, reject) =>
    sim.docker.modem.followProgress(
      stream,
      (err: Error | null, events: { error?: string; errorDetail?: { message?: string } }[]) => {
        const failed = events?.find((e) => e.error || e.errorDetail);
        if (err || failed) reject(err ?? new Error(failed!.errorDetail?.message ?? failed!.error));
        else resolve();
      },
    ),
  );
  const info = await sim.docker.getImage(src.pullRef).inspect();
  // the manifest digest the engine recorded for this repository
  const name = src.pullRef.replace(/@sha256:[a-f0-9]{64}$/, "").replace(/:[\w][\w.-]*$/, "");
  const digest = (info.RepoDigests ?? []).find((d) => d.split("@")[0] === name)?.split("@")[1];
  return { imageId: info.Id, digest };
}
