import { STATUS_CODES } from "node:http";
import { DockerError } from "@sockerless/api";
import { DEFAULT_DOMAIN } from "./reference.js";
import { EndpointError, RegistryClient, registryEndpoints } from "./registry-client.js";
import type { RegistryAuth, RegistryOptions } from "./types.js";

const HUB_ALIASES = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/** The registry domain of a login's serveraddress ("https://index.docker.io/v1/", "host:5000", "http://host"). */
export function loginDomain(serveraddress: string | undefined): string {
  const s = (serveraddress ?? "").trim();
  if (!s) return DEFAULT_DOMAIN;
  const host = s.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "");
  return HUB_ALIASES.includes(host) ? DEFAULT_DOMAIN : host;
}

/**
 * docker login (POST /auth): GET /v2/ of the registry with the credentials, through the token flow
 * when the registry asks for a bearer token. Resolves when the registry accepts them; otherwise
 * a 401 with dockerd's message.
 */
export async function login(
  auth: RegistryAuth,
  opts: RegistryOptions,
): Promise<{ Status: string; IdentityToken: string }> {
  const domain = loginDomain(auth.serveraddress);
  const endpoints = (await registryEndpoints(domain, opts)).filter((e) => !e.mirror);
  let lastErr: unknown;
  for (let i = 0; i < endpoints.length; i++) {
    const client = new RegistryClient(endpoints[i], "", auth);
    try {
      const { status, url } = await client.checkLogin();
      if (status === 200) return { Status: "Login Succeeded", IdentityToken: "" };
      throw new DockerError(
        401,
        `login attempt to ${url} failed with status: ${status} ${STATUS_CODES[status] ?? ""}`.trim(),
      );
    } catch (err) {
      lastErr = err;
      if (err instanceof EndpointError && i < endpoints.length - 1) continue;
      break;
    }
  }
  if (lastErr instanceof DockerError && !(lastErr instanceof EndpointError)) {
    // a token server refusing the credentials is an authentication failure too
    throw lastErr.status === 401 ? lastErr : new DockerError(401, lastErr.message);
  }
  throw lastErr;
}
