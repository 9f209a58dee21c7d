import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import {
  BatchCheckLayerAvailabilityCommand,
  BatchDeleteImageCommand,
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  ListImagesCommand,
  ListTagsForResourceCommand,
  PutImageCommand,
  PutImageTagMutabilityCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from "@aws-sdk/client-ecr";
import Docker from "dockerode";
import { pack } from "tar-stream";
import { BUSYBOX, dockerHost, startSim, type TestSim } from "./helpers.js";

const exec = promisify(execFile);
const sha256 = (b: Buffer | string) => "sha256:" + createHash("sha256").update(b).digest("hex");
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
const ACCEPT = [
  OCI_MANIFEST,
  OCI_INDEX,
  DOCKER_LIST,
  "application/vnd.docker.distribution.manifest.v2+json",
].join(",");

describe("ecr", { timeout: 120_000 }, () => {
  let t: TestSim;
  let ecr: ECRClient;
  let password: string;

  /** A registry request with the credentials GetAuthorizationToken issued. */
  const reg = (p: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    fetch(`${t.url}${p}`, {
      ...init,
      headers: {
        Authorization: "Basic " + Buffer.from(`AWS:${password}`).toString("base64"),
        ...init.headers,
      },
    });

  const errorCode = async (r: Response) =>
    ((await r.json()) as { errors: { code: string }[] }).errors[0].code;

  /** Upload a blob in one POST (the monolithic upload). */
  const putBlob = async (repo: string, data: Buffer) => {
    const r = await reg(`/v2/${repo}/blobs/uploads/?digest=${sha256(data)}`, { method: "POST", body: data });
    assert.equal(r.status, 201, await r.text());
    return { digest: sha256(data), size: data.length };
  };

  const manifestOf = (config: { digest: string; size: number }, layers: { digest: string; size: number }[]) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...l })),
      }),
    );

  before(async () => {
    t = await startSim();
    ecr = new ECRClient(t.client);
    const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0];
    password = Buffer.from(token.authorizationToken!, "base64").toString().slice("AWS:".length);
  });

  after(async () => {
    await t.cleanup();
  });

  test("CreateRepository, DescribeRepositories (names, pages) and their errors", async () => {
    const created = await ecr.send(
      new CreateRepositoryCommand({ repositoryName: "team/app", tags: [{ Key: "team", Value: "sim" }] }),
    );
    const repo = created.repository!;
    assert.equal(repo.repositoryArn, "arn:aws:ecr:us-east-1:000000000000:repository/team/app");
    assert.equal(repo.registryId, "000000000000");
    assert.equal(repo.repositoryUri, `${t.sim.registryHost}/team/app`);
    assert.equal(repo.imageTagMutability, "MUTABLE");
    assert.ok(
      repo.createdAt instanceof Date && Math.abs(repo.createdAt.getTime() - Date.now()) < 60_000,
      `createdAt ${repo.createdAt}`,
    );
    for (const n of ["team/other", "zeta"])
      await ecr.send(new CreateRepositoryCommand({ repositoryName: n }));

    await assert.rejects(ecr.send(new CreateRepositoryCommand({ repositoryName: "team/app" })), {
      name: "RepositoryAlreadyExistsException",
    });
    await assert.rejects(ecr.send(new CreateRepositoryCommand({} as never)), {
      name: "ValidationException",
      message: /Value null at 'repositoryName'/,
    });
    await assert.rejects(ecr.send(new CreateRepositoryCommand({ repositoryName: "Bad_Name" })), {
      name: "InvalidParameterException",
    });
    await assert.rejects(
      ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ["team/app", "missing"] })),
      {
        name: "RepositoryNotFoundException",
        message: "The repository with name 'missing' does not exist in the registry with id '000000000000'",
      },
    );
    const byName = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ["zeta"] }));
    assert.deepEqual(
      byName.repositories!.map((r) => r.repositoryName),
      ["zeta"],
    );
    const names: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await ecr.send(new DescribeRepositoriesCommand({ maxResults: 2, nextToken }));
      assert.ok(page.repositories!.length <= 2, "maxResults per page");
      names.push(...page.repositories!.map((r) => r.repositoryName!));
      nextToken = page.nextToken;
    } while (nextToken);
    assert.deepEqual(names, ["team/app", "team/other", "zeta"]);
  });

  test("TagResource, UntagResource, ListTagsForResource", async () => {
    const arn = "arn:aws:ecr:us-east-1:000000000000:repository/team/app";
    await ecr.send(new TagResourceCommand({ resourceArn: arn, tags: [{ Key: "env", Value: "test" }] }));
    assert.deepEqual((await ecr.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, [
      { Key: "team", Value: "sim" },
      { Key: "env", Value: "test" },
    ]);
    await ecr.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ["team"] }));
    assert.deepEqual((await ecr.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, [
      { Key: "env", Value: "test" },
    ]);
    await assert.rejects(
      ecr.send(
        new ListTagsForResourceCommand({ resourceArn: "arn:aws:ecr:us-east-1:000000000000:repository/nope" }),
      ),
      { name: "RepositoryNotFoundException" },
    );
  });

  test("GetAuthorizationToken: the registry accepts only its unexpired tokens", async () => {
    const data = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0];
    assert.equal(data.proxyEndpoint, `http://${t.sim.registryHost}`);
    assert.match(Buffer.from(data.authorizationToken!, "base64").toString(), /^AWS:\S+$/);
    const hours = (data.expiresAt!.getTime() - Date.now()) / 3_600_000;
    assert.ok(hours > 11.9 && hours <= 12, `expires in ${hours} h`);

    const anonymous = await fetch(`${t.url}/v2/`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Basic realm="/);
    assert.equal(await errorCode(anonymous), "UNAUTHORIZED");
    const forged = await fetch(`${t.url}/v2/team/app/tags/list`, {
      headers: { Authorization: "Basic " + Buffer.from("AWS:1234.abcd").toString("base64") },
    });
    assert.equal(forged.status, 401);
    const ok = await reg("/v2/");
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("docker-distribution-api-version"), "registry/2.0");
  });

  test("docker login, push and pull through the Docker Engine", async () => {
    const docker = new Docker({ socketPath: dockerHost().slice("unix://".length) });
    const marker = randomBytes(8).toString("hex");
    const ref = `${t.sim.registryHost}/team/app:${marker}`;
    // a unique image (busybox + one file), so the pull below has to download it again
    const p = pack();
    p.entry({ name: "marker.txt" }, marker);
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const c of p) chunks.push(c as Buffer);
    const c = await docker.createContainer({ Image: BUSYBOX, Cmd: ["true"] });
    await c.putArchive(Buffer.concat(chunks), { path: "/" });
    const committed = (await c.commit({ repo: `${t.sim.registryHost}/team/app`, tag: marker })).Id as string;
    await c.remove({ force: true });

    const config = mkdtempSync(path.join(os.tmpdir(), "ecr-docker-config-"));
    const env = { ...process.env, ...t.cliEnv, DOCKER_CONFIG: config, DOCKER_HOST: dockerHost() };
    const sh = async (cmd: string) => (await exec("sh", ["-c", cmd], { env })).stdout;
    try {
      const login = await sh(
        `aws ecr get-login-password | docker login --username AWS --password-stdin ${t.sim.registryHost}`,
      );
      assert.match(login, /Login Succeeded/);
      const pushed = await sh(`docker push ${ref}`);
      const digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed)?.[1];
      assert.ok(digest, pushed);

      const details = (
        await ecr.send(
          new DescribeImagesCommand({ repositoryName: "team/app", imageIds: [{ imageTag: marker }] }),
        )
      ).imageDetails!;
      assert.equal(details[0].imageDigest, digest);
      assert.deepEqual(details[0].imageTags, [marker]);
      assert.equal(details[0].imageManifestMediaType, "application/vnd.docker.distribution.manifest.v2+json");
      assert.ok(details[0].imageSizeInBytes! > 500_000, "compressed busybox layer");
      assert.ok(
        Math.abs(details[0].imagePushedAt!.getTime() - Date.now()) < 60_000,
        `pushed at ${details[0].imagePushedAt}`,
      );

      // gone from the engine, then pulled back from the simulator
      await docker.getImage(committed).remove({ force: true });
      await sh(`docker pull ${ref}`);
      const out = await sh(`docker run --rm --network none ${ref} cat /marker.txt`);
      assert.equal(out, marker);

      const deleted = await ecr.send(
        new BatchDeleteImageCommand({ repositoryName: "team/app", imageIds: [{ imageDigest: digest }] }),
      );
      assert.deepEqual(deleted.imageIds, [{ imageDigest: digest, imageTag: marker }]);
      assert.deepEqual(deleted.failures, []);
      const manifest = await reg(`/v2/team/app/manifests/${digest}`, { headers: { Accept: ACCEPT } });
      assert.equal(manifest.status, 404);
      assert.equal(await errorCode(manifest), "MANIFEST_UNKNOWN");
    } finally {
      await docker
        .getImage(ref)
        .remove({ force: true })
        .catch(() => {});
      rmSync(config, { recursive: true, force: true });
    }
  });

  test("registry: chunked and monolithic uploads, digest checks, cross-repository mount", async () => {
    const start = await reg("/v2/team/app/blobs/uploads/", { method: "POST" });
    assert.equal(start.status, 202);
    const location = start.headers.get("location")!;
    assert.match(location, /^\/v2\/team\/app\/blobs\/uploads\/[0-9a-f-]{36}$/);
    assert.equal(start.headers.get("range"), "0-0");
    assert.equal(start.headers.get("docker-upload-uuid"), location.split("/").pop());

    const data = randomBytes(3000);
    const patch1 = await reg(location, {
      method: "PATCH",
      headers: { "Content-Range": "0-999", "Content-Type": "application/octet-stream" },
      body: data.subarray(0, 1000),
    });
    assert.equal(patch1.status, 202);
    assert.equal(patch1.headers.get("range"), "0-999");
    const outOfOrder = await reg(location, {
      method: "PATCH",
      headers: { "Content-Range": "5-10" },
      body: data.subarray(5, 11),
    });
    assert.equal(outOfOrder.status, 416);
    const patch2 = await reg(location, { method: "PATCH", body: data.subarray(1000, 2000) });
    assert.equal(patch2.headers.get("range"), "0-1999");
    const status = await reg(location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get("range"), "0-1999");
    // the last chunk comes with the PUT that closes the upload
    const done = await reg(`${location}?digest=${sha256(data)}`, {
      method: "PUT",
      body: data.subarray(2000),
    });
    assert.equal(done.status, 201);
    assert.equal(done.headers.get("docker-content-digest"), sha256(data));
    assert.equal(done.headers.get("location"), `/v2/team/app/blobs/${sha256(data)}`);

    const head = await reg(`/v2/team/app/blobs/${sha256(data)}`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "3000");
    assert.deepEqual(
      Buffer.from(await (await reg(`/v2/team/app/blobs/${sha256(data)}`)).arrayBuffer()),
      data,
    );

    const wrong = await reg("/v2/team/app/blobs/uploads/", { method: "POST" });
    const bad = await reg(`${wrong.headers.get("location")}?digest=${sha256("other")}`, {
      method: "PUT",
      body: data,
    });
    assert.equal(bad.status, 400);
    assert.equal(await errorCode(bad), "DIGEST_INVALID");

    await putBlob("team/app", Buffer.from("monolithic"));

    const mount = await reg(`/v2/team/other/blobs/uploads/?mount=${sha256(data)}&from=team/app`, {
      method: "POST",
    });
    assert.equal(mount.status, 201);
    assert.equal(mount.headers.get("location"), `/v2/team/other/blobs/${sha256(data)}`);
    assert.equal((await reg(`/v2/team/other/blobs/${sha256(data)}`, { method: "HEAD" })).status, 200);
    const noSource = await reg(`/v2/zeta/blobs/uploads/?mount=${sha256("absent")}&from=team/app`, {
      method: "POST",
    });
    assert.equal(noSource.status, 202, "an unknown blob starts a normal upload instead");

    const unknownBlob = await reg(`/v2/zeta/blobs/${sha256(data)}`);
    assert.equal(unknownBlob.status, 404);
    assert.equal(await errorCode(unknownBlob), "BLOB_UNKNOWN");
    const notCreated = await reg("/v2/never/created/blobs/uploads/", { method: "POST" });
    assert.equal(notCreated.status, 404);
    assert.equal(await errorCode(notCreated), "NAME_UNKNOWN");
  });

  test("registry manifests (OCI manifest and index, Docker list) and the image API over them", async () => {
    const layer = await putBlob("team/other", randomBytes(2048));
    const config = await putBlob("team/other", Buffer.from('{"architecture":"amd64","os":"linux"}'));
    const manifest = manifestOf(config, [layer]);
    const put = await reg("/v2/team/other/manifests/v1", {
      method: "PUT",
      headers: { "Content-Type": OCI_MANIFEST },
      body: manifest,
    });
    assert.equal(put.status, 201);
    assert.equal(put.headers.get("docker-content-digest"), sha256(manifest));

    const missing = manifestOf(config, [{ digest: sha256("not uploaded"), size: 12 }]);
    const rejected = await reg("/v2/team/other/manifests/broken", { method: "PUT", body: missing });
    assert.equal(rejected.status, 400);
    assert.equal(await errorCode(rejected), "MANIFEST_BLOB_UNKNOWN");

    const got = await reg("/v2/team/other/manifests/v1", { headers: { Accept: ACCEPT } });
    assert.equal(got.headers.get("content-type"), OCI_MANIFEST);
    assert.equal(got.headers.get("docker-content-digest"), sha256(manifest));
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), manifest);
    const headByDigest = await reg(`/v2/team/other/manifests/${sha256(manifest)}`, { method: "HEAD" });
    assert.equal(headByDigest.status, 200);
    assert.equal(headByDigest.headers.get("content-length"), String(manifest.length));

    const child = {
      digest: sha256(manifest),
      size: manifest.length,
      platform: { architecture: "amd64", os: "linux" },
    };
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: OCI_MANIFEST, ...child }],
      }),
    );
    const list = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: DOCKER_LIST,
        manifests: [{ mediaType: OCI_MANIFEST, ...child }],
      }),
    );
    for (const [tag, body, type] of [
      ["multi", index, OCI_INDEX],
      ["list", list, DOCKER_LIST],
    ] as const) {
      const r = await reg(`/v2/team/other/manifests/${tag}`, {
        method: "PUT",
        headers: { "Content-Type": type },
        body,
      });
      assert.equal(r.status, 201, await r.text());
    }
    const tags1 = await reg("/v2/team/other/tags/list?n=2");
    assert.deepEqual(await tags1.json(), { name: "team/other", tags: ["list", "multi"] });
    assert.match(
      tags1.headers.get("link") ?? "",
      /<\/v2\/team\/other\/tags\/list\?n=2&last=multi>; rel="next"/,
    );
    assert.deepEqual(await (await reg("/v2/team/other/tags/list?n=2&last=multi")).json(), {
      name: "team/other",
      tags: ["v1"],
    });
    const unknown = await reg("/v2/team/other/manifests/nope");
    assert.equal(unknown.status, 404);
    assert.equal(await errorCode(unknown), "MANIFEST_UNKNOWN");

    // the API sees what the registry stored
    const described = await ecr.send(new DescribeImagesCommand({ repositoryName: "team/other" }));
    const types = Object.fromEntries(
      described.imageDetails!.map((d) => [d.imageTags!.join(","), d.imageManifestMediaType]),
    );
    assert.deepEqual(types, { v1: OCI_MANIFEST, multi: OCI_INDEX, list: DOCKER_LIST });
    assert.equal(
      described.imageDetails!.find((d) => d.imageTags?.includes("v1"))!.imageSizeInBytes,
      2048,
      "layer sizes",
    );
    const listed = await ecr.send(new ListImagesCommand({ repositoryName: "team/other" }));
    assert.equal(listed.imageIds!.length, 3);
    const batch = await ecr.send(
      new BatchGetImageCommand({
        repositoryName: "team/other",
        imageIds: [{ imageTag: "v1" }, { imageTag: "nope" }, { imageDigest: sha256(index) }],
      }),
    );
    assert.equal(batch.images![0].imageManifest, manifest.toString());
    assert.equal(batch.images![0].imageManifestMediaType, OCI_MANIFEST);
    assert.deepEqual(batch.images![0].imageId, { imageDigest: sha256(manifest), imageTag: "v1" });
    assert.equal(batch.images![1].imageManifestMediaType, OCI_INDEX);
    assert.deepEqual(batch.failures, [
      {
        imageId: { imageTag: "nope" },
        failureCode: "ImageNotFound",
        failureReason: "Requested image not found",
      },
    ]);
    await assert.rejects(
      ecr.send(new DescribeImagesCommand({ repositoryName: "team/other", imageIds: [{ imageTag: "nope" }] })),
      { name: "ImageNotFoundException" },
    );
    await assert.rejects(ecr.send(new ListImagesCommand({ repositoryName: "nope" })), {
      name: "RepositoryNotFoundException",
    });

    // an image a list references cannot go; untagging the last tag deletes an image
    const refused = await ecr.send(
      new BatchDeleteImageCommand({
        repositoryName: "team/other",
        imageIds: [{ imageDigest: sha256(manifest) }],
      }),
    );
    assert.equal(refused.failures![0].failureCode, "ImageReferencedByManifestList");
    const removed = await ecr.send(
      new BatchDeleteImageCommand({
        repositoryName: "team/other",
        imageIds: [{ imageTag: "multi" }, { imageTag: "missing" }],
      }),
    );
    assert.deepEqual(removed.imageIds, [{ imageDigest: sha256(index), imageTag: "multi" }]);
    assert.equal(removed.failures![0].failureCode, "ImageNotFound");
    const del = await reg(`/v2/team/other/manifests/${sha256(list)}`, { method: "DELETE" });
    assert.equal(del.status, 202);
    const untagged = await ecr.send(
      new DescribeImagesCommand({ repositoryName: "team/other", filter: { tagStatus: "TAGGED" } }),
    );
    assert.deepEqual(
      untagged.imageDetails!.map((d) => d.imageTags),
      [["v1"]],
    );
  });

  test("PutImage, BatchCheckLayerAvailability, PutImageTagMutability", async () => {
    const layer = await putBlob("zeta", randomBytes(100));
    const config = await putBlob("zeta", Buffer.from("{}"));
    const check = await ecr.send(
      new BatchCheckLayerAvailabilityCommand({
        repositoryName: "zeta",
        layerDigests: [layer.digest, sha256("x")],
      }),
    );
    assert.deepEqual(
      check.layers!.map((l) => [l.layerAvailability, l.layerSize]),
      [
        ["AVAILABLE", 100],
        ["UNAVAILABLE", undefined],
      ],
    );
    const manifest = manifestOf(config, [layer]).toString();
    const put = await ecr.send(
      new PutImageCommand({ repositoryName: "zeta", imageManifest: manifest, imageTag: "one" }),
    );
    assert.equal(put.image!.imageId!.imageDigest, sha256(manifest));
    await assert.rejects(
      ecr.send(new PutImageCommand({ repositoryName: "zeta", imageManifest: manifest, imageTag: "one" })),
      { name: "ImageAlreadyExistsException" },
    );

    const m = await ecr.send(
      new PutImageTagMutabilityCommand({ repositoryName: "zeta", imageTagMutability: "IMMUTABLE" }),
    );
    assert.equal(m.imageTagMutability, "IMMUTABLE");
    const other = manifestOf(config, []);
    const moved = await reg("/v2/zeta/manifests/one", {
      method: "PUT",
      headers: { "Content-Type": OCI_MANIFEST },
      body: other,
    });
    assert.equal(moved.status, 400);
    assert.equal(await errorCode(moved), "TAG_INVALID");
    await assert.rejects(
      ecr.send(
        new PutImageCommand({ repositoryName: "zeta", imageManifest: other.toString(), imageTag: "one" }),
      ),
      { name: "ImageTagAlreadyExistsException" },
    );
  });

  test("repositories, images and blobs persist across a restart", async () => {
    t = await t.restart();
    ecr = new ECRClient(t.client);
    const images = await ecr.send(new DescribeImagesCommand({ repositoryName: "team/other" }));
    assert.deepEqual(
      images.imageDetails!.map((d) => d.imageTags),
      [["v1"]],
    );
    // the token issued before the restart still works: its key is part of the state
    const got = await reg("/v2/team/other/manifests/v1", { headers: { Accept: ACCEPT } });
    assert.equal(got.status, 200);
    const manifest = JSON.parse(await got.text());
    const layer = await reg(`/v2/team/other/blobs/${manifest.layers[0].digest}`);
    assert.equal(Buffer.from(await layer.arrayBuffer()).length, 2048);
  });

  test("DeleteRepository refuses a repository with images unless forced; aws CLI", async () => {
    await assert.rejects(ecr.send(new DeleteRepositoryCommand({ repositoryName: "team/other" })), {
      name: "RepositoryNotEmptyException",
    });
    const { stdout } = await exec(
      "aws",
      ["ecr", "describe-repositories", "--repository-names", "team/other"],
      {
        env: { ...process.env, ...t.cliEnv },
      },
    );
    assert.equal(JSON.parse(stdout).repositories[0].repositoryUri, `${t.sim.registryHost}/team/other`);
    const deleted = await ecr.send(
      new DeleteRepositoryCommand({ repositoryName: "team/other", force: true }),
    );
    assert.equal(deleted.repository!.repositoryName, "team/other");
    await assert.rejects(ecr.send(new DescribeImagesCommand({ repositoryName: "team/other" })), {
      name: "RepositoryNotFoundException",
    });
    const pull = await reg("/v2/team/other/tags/list");
    assert.equal(await errorCode(pull), "NAME_UNKNOWN");
  });
});
