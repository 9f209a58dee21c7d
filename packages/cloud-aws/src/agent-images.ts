import { type ImageStore, pushImage } from "@sockerless/images";
import type { AgentLayer } from "@sockerless/agent";
import type { EcrRepository } from "./ecr.js";

/**
 * "The user's image + the agent layer", pushed to ECR once per image: the image every workload
 * runs, pinned by digest. The agent's entrypoint is set per workload (task definition, function
 * configuration), so the overlay keeps the image's own config.
 */
export class AgentImages {
  private readonly made = new Map<string, Promise<string>>();

  constructor(
    private readonly images: ImageStore,
    private readonly repo: EcrRepository,
    private readonly layer: () => Promise<AgentLayer>,
  ) {}

  async ref(imageId: string): Promise<string> {
    const known = await this.made.get(imageId)?.catch(() => undefined);
    if (known && !(await this.repo.has(known.slice(known.indexOf("@") + 1)))) this.made.delete(imageId);
    let p = this.made.get(imageId);
    if (!p) {
      p = this.make(imageId).catch((e) => {
        this.made.delete(imageId);
        throw e;
      });
      this.made.set(imageId, p);
    }
    return p;
  }

  private async make(imageId: string): Promise<string> {
    const parent = this.images.get(imageId);
    if (!parent) throw new Error(`image ${imageId} is not in the daemon's image store`);
    const layer = await this.layer();
    // the same overlay (same config, layers and time) has the same id: made once per store
    const overlay = await this.images.createImage({
      parent: imageId,
      layers: [{ tarPath: layer.tarPath }],
      config: parent.config,
      history: [{ created_by: "sockerless: add agent layer", comment: "sockerless agent" }],
      created: parent.created,
    });
    const uri = await this.repo.uri();
    // one tag per (image, agent) pair: the same overlay is pushed once
    const tag = `${imageId.slice(7, 19)}-${layer.diffId.slice(7, 19)}`;
    await this.images.tag(overlay.id, uri, tag);
    await pushImage(this.images, uri, tag, { auth: await this.repo.auth() });
    const pushed = this.images.get(overlay.id)?.repoDigests.find((d) => d.startsWith(`${uri}@`));
    if (!pushed) throw new Error(`pushing ${uri}:${tag} recorded no digest`);
    return pushed;
  }
}
