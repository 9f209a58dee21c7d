import type Docker from "dockerode";
import type { Simulator } from "../sim.js";
import { taskFacingUrl } from "./ecs-spec.js";

/**
 * Credentials for pulling from the simulator's own ECR registry, obtained as the ECS agent does
 * with the execution (or instance) role: ECR GetAuthorizationToken, here over the simulator's API.
 */
export async function registryAuth(sim: Simulator, image: string): Promise<Docker.AuthConfig | undefined> {
  const slash = image.indexOf("/");
  if (slash < 0 || !sim.registryHost || image.slice(0, slash) !== sim.registryHost) return undefined;
  const res = await fetch(taskFacingUrl(sim.url), {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
    },
    body: "{}",
  });
  if (!res.ok) throw new Error(`ecr GetAuthorizationToken answered ${res.status}: ${await res.text()}`);
  const data = (await res.json()) as { authorizationData?: { authorizationToken?: string }[] };
  const token = Buffer.from(data.authorizationData?.[0]?.authorizationToken ?? "", "base64").toString("utf8");
  const colon = token.indexOf(":");
  if (colon < 0) throw new Error("ecr GetAuthorizationToken returned no token");
  return {
    username: token.slice(0, colon),
    password: token.slice(colon + 1),
    serveraddress: sim.registryHost,
  };
}
