// Images: pull, tag, rmi, inspect, history, ls filters, prune.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BUSYBOX as B, REGISTRY } from "../../helpers.js";
import type { Context, Scenario } from "../context.js";
import { NONE } from "./lifecycle.js";

/**
 * An image of its own, loaded from a `docker save` tarball built here (one layer, a label that
 * names it), so nothing else on a shared engine holds or shares it.
 */
async function loadedImage(t: Context, ref?: string, content = "one"): Promise<string> {
  ref ??= `${t.name("own", "image")}:v1`;
  const dir = t.tmp();
  mkdirSync(path.join(dir, "rootfs"));
  // Content of its own (no layer shared with another scenario's image) and of a fixed size.
  writeFileSync(
    path.join(dir, "rootfs/hello"),
    `${createHash("sha256").update(`${ref} ${content}`).digest("hex")}\n`,
  );
  execFileSync("tar", [
    "-cf",
    path.join(dir, "layer.tar"),
    "--owner=0",
    "--group=0",
    "-C",
    path.join(dir, "rootfs"),
    "hello",
  ]);
  const layer = readFileSync(path.join(dir, "layer.tar"));
  const diffId = `sha256:${createHash("sha256").update(layer).digest("hex")}`;
  const config = JSON.stringify({
    architecture: "amd64",
    os: "linux",
    created: "2024-01-01T00:00:00Z",
    config: { Cmd: ["/hello"], Labels: { "conformance.image": ref } },
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ created: "2024-01-01T00:00:00Z", created_by: "conformance: one file" }],
  });
  const configName = `${createHash("sha256").update(config).digest("hex")}.json`;
  mkdirSync(path.join(dir, "image"));
  writeFileSync(path.join(dir, "image", configName), config);
  writeFileSync(path.join(dir, "image/layer.tar"), layer);
  writeFileSync(
    path.join(dir, "image/manifest.json"),
    JSON.stringify([{ Config: configName, RepoTags: [ref], Layers: ["layer.tar"] }]),
  );
  execFileSync("tar", ["-cf", path.join(dir, "image.tar"), "-C", path.join(dir, "image"), "."]);
  const r = await t.cli("load", ["load", "-i", path.join(dir, "image.tar")]);
  if (r.code !== 0) throw new Error(`docker load failed: ${r.stderr}`);
  return ref;
}

/** A tag of the test image under a unique repository name, removed after the scenario. */
async function tagged(t: Context, hint = "img"): Promise<string> {
  const ref = `${t.name(hint, "image")}:v1`;
  await t.ok(["tag", B, ref]);
  return ref;
}

export const images: Scenario[] = [
  {
    name: "image inspect of the test image",
    run: async (t) =>
      void (await t.cli("inspect", [
        "image",
        "inspect",
        "--format",
        "{{json .Config.Cmd}} {{json .Config.Env}} {{.Os}} {{.Architecture}} {{.Id}} {{.Size}} {{json .RootFS.Layers}}",
        B,
      ])),
  },
  {
    name: "pull",
    run: async (t) => {
      const r = await t.docker(["pull", B]);
      // Layer progress depends on what the engine already has; the final lines are the contract.
      t.record(
        "pull",
        `exit=${r.code}\n${r.stdout
          .split("\n")
          .filter((l) => /^(Status|Digest):/.test(l) || l === B)
          .join("\n")}`,
      );
      await t.cli("pull -q", ["pull", "-q", B]);
      await t.cli("pull by digest", [
        "pull",
        "-q",
        `${REGISTRY}/busybox@${(await t.ok(["image", "inspect", "--format", "{{index .RepoDigests 0}}", B])).trim().split("@")[1]}`,
      ]);
      await t.cli("multi-platform index", ["pull", "-q", `${REGISTRY}/busybox:multi`]);
      await t.cli("platform of the index", [
        "image",
        "inspect",
        "--format",
        "{{.Os}}/{{.Architecture}}",
        `${REGISTRY}/busybox:multi`,
      ]);
    },
  },
  {
    name: "pull errors",
    run: async (t) => {
      await t.cliCode("unknown repository", ["pull", `${REGISTRY}/no-such-repo-conformance:latest`]);
      await t.cliCode("unknown tag", ["pull", `${REGISTRY}/busybox:no-such-tag`]);
      await t.cli("bad reference", ["pull", "UPPER/Case"]);
      await t.api("create from unknown image", "POST", "/v1.41/containers/create", {
        Image: "no-such-image-conformance:1",
      });
    },
  },
  {
    name: "tag and rmi",
    run: async (t) => {
      const ref = await tagged(t);
      await t.cli("listed", [
        "images",
        "--filter",
        `reference=${ref}`,
        "--format",
        "{{.Repository}} {{.Tag}} {{.Size}}",
      ]);
      await t.cli("same id", ["image", "inspect", "--format", "{{.Id}}", ref]);
      await t.cli("rmi untags", ["rmi", ref]);
      await t.cli("still there", ["image", "inspect", "--format", "{{.Os}}", B]);
      await t.cli("rmi unknown", ["rmi", ref]);
      await t.cli("bad tag", ["tag", B, "bad:tag:here"]);
      await t.cli("tag unknown", ["tag", "no-such-image-conformance:1", `${ref}-x`]);
    },
  },
  {
    name: "rmi of an image in use",
    run: async (t) => {
      const ref = await loadedImage(t);
      const c = t.name("c");
      await t.ok(["create", "--name", c, ...NONE, ref]);
      await t.cli("rmi while used", ["rmi", ref]);
      await t.cli("still there", [
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}} {{json .Config.Cmd}}",
        ref,
      ]);
      await t.cli("rmi -f while used", ["rmi", "-f", ref]);
      await t.cli("container keeps its image", ["inspect", "--format", "{{.Config.Image}}", c]);
    },
  },
  {
    name: "history",
    run: async (t) => {
      await t.cli("history", ["history", "--format", "{{.CreatedBy}}|{{.Size}}|{{.Comment}}", B]);
      await t.cli("history --no-trunc -q", ["history", "-q", "--no-trunc", B]);
    },
  },
  {
    name: "images ls filters and formats",
    run: async (t) => {
      const ref = await tagged(t);
      const repo = ref.split(":")[0];
      await t.cli("reference", [
        "images",
        "--filter",
        `reference=${repo}`,
        "--format",
        "{{.Repository}}:{{.Tag}}",
      ]);
      await t.cli("reference glob", ["images", "--filter", `reference=${repo}:v*`, "--format", "{{.Tag}}"]);
      await t.cli("dangling false", [
        "images",
        "--filter",
        "dangling=false",
        "--filter",
        `reference=${repo}`,
        "--format",
        "{{.Tag}}",
      ]);
      await t.cli("label", [
        "images",
        "--filter",
        "label=none=here",
        "--filter",
        `reference=${repo}`,
        "--format",
        "{{.Tag}}",
      ]);
      await t.cli("bad filter", ["images", "--filter", "colour=blue"]);
      const list = await t.dockerode.listImages({ filters: { reference: [repo] } });
      t.record(
        "dockerode",
        list.map((i) => ({
          RepoTags: i.RepoTags,
          Labels: i.Labels,
          Containers: i.Containers,
          ParentId: i.ParentId,
        })),
      );
    },
  },
  {
    name: "image load, inspect, history",
    run: async (t) => {
      const ref = await loadedImage(t);
      await t.cli("inspect", [
        "image",
        "inspect",
        "--format",
        "{{json .RepoTags}} {{json .Config.Cmd}} {{json .Config.Labels}} {{.Created}} {{.Size}} {{len .RootFS.Layers}} {{.Os}}/{{.Architecture}}",
        ref,
      ]);
      await t.cli("history", ["history", "--format", "{{.CreatedBy}}|{{.Size}}", ref]);
      const c = t.name("c");
      await t.ok(["create", "--name", c, ...NONE, ref]);
      const tar = await t.docker(["cp", `${c}:/hello`, "-"]);
      t.record(
        "file of the layer",
        `exit=${tar.code} ${tar.stdout.includes(`${createHash("sha256").update(`${ref} one`).digest("hex")}\n`)}`,
      );
    },
  },
  {
    name: "image prune of a dangling image",
    run: async (t) => {
      const ref = await loadedImage(t, undefined, "one");
      const first = (await t.ok(["image", "inspect", "--format", "{{.Id}}", ref])).trim();
      // The same tag loaded with other content leaves the first image dangling.
      await loadedImage(t, ref, "two");
      const label = `label=conformance.image=${ref}`;
      await t.cli("dangling", [
        "images",
        "--filter",
        "dangling=true",
        "--filter",
        label,
        "--format",
        "{{.Repository}}:{{.Tag}}",
      ]);
      await t.cli("tagged", [
        "images",
        "--filter",
        "dangling=false",
        "--filter",
        label,
        "--format",
        "{{.Repository}}:{{.Tag}}",
      ]);
      const r = await t.docker(["image", "prune", "-f", "--filter", label]);
      t.record(
        "prune",
        `exit=${r.code}\n${r.stdout
          .split("\n")
          .filter((l) => !l.startsWith("Total"))
          .join("\n")}`,
      );
      await t.cli("first is gone", ["image", "inspect", "--format", "{{.Id}}", first]);
      await t.cli("second stays", ["image", "inspect", "--format", "{{json .RepoTags}}", ref]);
    },
  },
  {
    name: "image prune with a label filter",
    run: async (t) => {
      // Scoped by a label no image carries: the engine is shared, nothing else may be pruned.
      await t.cli("prune", ["image", "prune", "-f", "-a", "--filter", `label=${t.name("none")}`]);
      await t.cli("bad filter", ["image", "prune", "-f", "--filter", "colour=blue"]);
    },
  },
];
