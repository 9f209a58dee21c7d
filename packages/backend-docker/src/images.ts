import { DockerError } from "@sockerless/api";
import type { ImageProvider } from "@sockerless/engine";
import type {
  ImageDeleteResponseItem,
  ImageHistoryItem,
  ImageInspect,
  ImagePruneReport,
  ImageRecord,
  ImageSummary,
  ProgressMessage,
  RegistryAuth,
} from "@sockerless/images";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { EngineClient } from "./client.js";

const enc = encodeURIComponent;

/** X-Registry-Auth as the docker CLI sends it: base64url JSON. */
function authHeader(auth: RegistryAuth | undefined): Record<string, string> {
  if (!auth) return {};
  return { "X-Registry-Auth": Buffer.from(JSON.stringify(auth)).toString("base64url") };
}

/**
 * Images are the engine's: it pulls with its own registry configuration, and every image it has
 * (also those pulled directly on it) is listed through Sockerless. Answers pass through as given.
 */
export class EngineImages implements ImageProvider {
  private readonly seen = new Map<string, ImageRecord>();

  constructor(
    private readonly client: EngineClient,
    /** the engine's name of a Sockerless container */
    readonly containerRef: (id: string) => string,
  ) {}

  /** build, commit, push, save, load and import are the engine's own, answered as it answers */
  forward(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    return this.client.forward(req, res, path, query);
  }

  async resolve(ref: string): Promise<ImageRecord | undefined> {
    let img: ImageInspect;
    try {
      img = await this.inspect(ref);
    } catch (e) {
      if (e instanceof DockerError && e.status === 404) return undefined;
      throw e;
    }
    const rec: ImageRecord = {
      id: img.Id,
      repoTags: img.RepoTags ?? [],
      repoDigests: img.RepoDigests ?? [],
      created: img.Created ?? "",
      architecture: img.Architecture ?? "",
      os: img.Os ?? "linux",
      config: (img.Config ?? {}) as ImageRecord["config"],
      diffIds: img.RootFS?.Layers ?? [],
      layers: [],
      size: img.Size ?? 0,
      history: [],
    };
    this.seen.set(rec.id, rec);
    return rec;
  }

  cached(id: string): ImageRecord | undefined {
    return this.seen.get(id);
  }

  list(q: { all: boolean; filters: string | undefined; digests: boolean }): Promise<ImageSummary[]> {
    return this.client.json("GET", "/images/json", {
      query: { all: q.all || undefined, filters: q.filters, digests: q.digests || undefined },
    });
  }

  inspect(ref: string): Promise<ImageInspect> {
    return this.client.json("GET", `/images/${enc(ref)}/json`);
  }

  history(ref: string): Promise<ImageHistoryItem[]> {
    return this.client.json("GET", `/images/${enc(ref)}/history`);
  }

  async pull(
    ref: string,
    auth: RegistryAuth | undefined,
    platform: string | undefined,
    onProgress: (m: ProgressMessage) => void,
  ): Promise<void> {
    const res = await this.client.stream("POST", "/images/create", {
      query: { fromImage: ref, platform },
      headers: authHeader(auth),
    });
    let rest = "";
    let failure: string | undefined;
    const handle = (line: string) => {
      if (!line.trim()) return;
      let m: ProgressMessage;
      try {
        m = JSON.parse(line) as ProgressMessage;
      } catch {
        return; // not a progress message; the engine only sends JSON lines
      }
      if (m.error || m.errorDetail) failure = m.errorDetail?.message ?? m.error;
      else onProgress(m);
    };
    for await (const chunk of res as AsyncIterable<Buffer>) {
      rest += chunk.toString("utf8");
      const lines = rest.split(/\r?\n/);
      rest = lines.pop() ?? "";
      lines.forEach(handle);
    }
    handle(rest);
    if (failure !== undefined) throw new DockerError(500, failure);
  }

  async tag(ref: string, repo: string, tag: string | undefined): Promise<void> {
    await this.client.json("POST", `/images/${enc(ref)}/tag`, { query: { repo, tag } });
  }

  remove(ref: string, force: boolean, noprune: boolean): Promise<ImageDeleteResponseItem[]> {
    return this.client.json("DELETE", `/images/${enc(ref)}`, {
      query: { force: force || undefined, noprune: noprune || undefined },
    });
  }

  prune(filters: string | undefined): Promise<ImagePruneReport> {
    return this.client.json("POST", "/images/prune", { query: { filters } });
  }
}
