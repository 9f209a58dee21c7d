import Docker from "dockerode";

/**
 * `sockerless cleanup --label K[=V]`: remove every container (running or not, with its anonymous
 * volumes), then network, volume and image carrying all the given labels — what testcontainers'
 * Ryuk reaper does for a session, run explicitly (e.g. after a test run) since Ryuk's image is
 * not reachable offline. Talks to the daemon through the Docker API, so it works with any backend.
 */
export interface CleanupResult {
  removed: string[];
  failed: string[];
}

export async function cleanupByLabel(docker: Docker, labels: string[]): Promise<CleanupResult> {
  if (labels.length === 0) throw new Error("cleanup needs at least one --label KEY[=VALUE]");
  const filters = JSON.stringify({ label: labels });
  const out: CleanupResult = { removed: [], failed: [] };
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      out.removed.push(what);
    } catch (e) {
      out.failed.push(`${what}: ${(e as Error).message}`);
    }
  };
  // containers first: networks, volumes and images in use by them cannot go before
  for (const c of await docker.listContainers({ all: true, filters })) {
    await attempt(`container ${c.Id.slice(0, 12)} ${c.Names[0] ?? ""}`.trim(), () =>
      docker.getContainer(c.Id).remove({ force: true, v: true }),
    );
  }
  for (const n of await docker.listNetworks({ filters })) {
    await attempt(`network ${n.Id.slice(0, 12)} ${n.Name}`, () => docker.getNetwork(n.Id).remove());
  }
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) {
    await attempt(`volume ${v.Name}`, () => docker.getVolume(v.Name).remove());
  }
  for (const i of await docker.listImages({ filters })) {
    await attempt(`image ${i.Id}`, () => docker.getImage(i.Id).remove({ force: true }));
  }
  return out;
}
