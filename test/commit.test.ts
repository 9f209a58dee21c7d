// docker commit through the docker CLI: the container's writable layer becomes an image.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { BUSYBOX, cleanup, docker, dockerOk, startDaemon, type Daemon } from "./helpers.js";

let d: Daemon;
const run = (args: string[]) => docker(d.host, args);
const ok = (args: string[]) => dockerOk(d.host, args);

before(async () => {
  d = await startDaemon();
  await ok(["pull", BUSYBOX]);
});
after(async () => {
  await d.stop();
  cleanup(d);
});

describe("docker commit", () => {
  test("files written, changed and deleted in the container are what the new image has", async () => {
    await ok([
      "run",
      "--name",
      "commit-src",
      BUSYBOX,
      "sh",
      "-c",
      "echo written > /x; rm /bin/vi; rm -rf /etc/network; mkdir -p /d/e; echo f > /d/e/f; echo changed > /etc/motd",
    ]);
    const id = (
      await ok([
        "commit",
        "-c",
        'CMD ["cat","/x"]',
        "-c",
        "ENV FOO=bar",
        "--change",
        "LABEL team=build",
        "-c",
        "EXPOSE 8080",
        "-c",
        "WORKDIR /d",
        "-a",
        "Alice <a@example.com>",
        "-m",
        "first commit",
        "commit-src",
        "commit-img:v1",
      ])
    ).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await ok(["run", "--rm", "commit-img:v1"]), "written\n");
    const r = await run([
      "run",
      "--rm",
      "commit-img:v1",
      "sh",
      "-c",
      "pwd; cat e/f /etc/motd; echo $FOO; ls /bin/vi; ls /etc/network; echo end",
    ]);
    assert.equal(r.stdout, "/d\nf\nchanged\nbar\nend\n");
    assert.match(r.stderr, /'\/bin\/vi': No such file or directory/);
    assert.match(r.stderr, /'\/etc\/network': No such file or directory/);

    const cfg = JSON.parse(await ok(["image", "inspect", "commit-img:v1", "--format", "{{json .}}"])) as {
      Id: string;
      Author: string;
      Comment: string;
      Parent: string;
      Config: {
        Cmd: string[];
        Env: string[];
        Labels: Record<string, string>;
        ExposedPorts: object;
        WorkingDir: string;
      };
      RootFS: { Layers: string[] };
    };
    const base = JSON.parse(await ok(["image", "inspect", BUSYBOX, "--format", "{{json .}}"])) as {
      Id: string;
      RootFS: { Layers: string[] };
    };
    assert.equal(cfg.Id, id);
    assert.equal(cfg.Author, "Alice <a@example.com>");
    assert.equal(cfg.Comment, "first commit");
    assert.equal(cfg.Parent, base.Id);
    assert.deepEqual(cfg.Config.Cmd, ["cat", "/x"]);
    assert.ok(cfg.Config.Env.includes("FOO=bar"));
    assert.ok(
      cfg.Config.Env.some((e) => e.startsWith("PATH=")),
      "the image's PATH survives",
    );
    assert.deepEqual(cfg.Config.Labels, { team: "build" });
    assert.deepEqual(cfg.Config.ExposedPorts, { "8080/tcp": {} });
    assert.equal(cfg.Config.WorkingDir, "/d");
    assert.deepEqual(cfg.RootFS.Layers.slice(0, -1), base.RootFS.Layers);
    assert.equal(cfg.RootFS.Layers.length, base.RootFS.Layers.length + 1);

    const history = (
      await ok(["history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "commit-img:v1"])
    )
      .trim()
      .split("\n");
    assert.equal(history.length, 2);
    assert.match(history[0], /^sh -c echo written > \/x; rm \/bin\/vi;.*\|first commit$/);

    const events = await ok([
      "events",
      "--since",
      "2m",
      "--until",
      String(Math.floor(Date.now() / 1000) + 1), // a moment after the commit, whatever the clock's second
      "--filter",
      "event=commit",
      "--format",
      "{{.Actor.Attributes.imageID}} {{.Actor.Attributes.imageRef}}",
    ]);
    assert.equal(events.trim(), `${id} commit-img:v1`);
  });

  test("a container without changes commits to an image with no new layer", async () => {
    await ok(["create", "--name", "commit-empty", BUSYBOX, "true"]);
    await ok(["commit", "-c", "USER nobody", "commit-empty", "commit-img:empty"]);
    const layers = await ok([
      "image",
      "inspect",
      "commit-img:empty",
      "--format",
      "{{len .RootFS.Layers}} {{.Config.User}}",
    ]);
    const baseLayers = await ok(["image", "inspect", BUSYBOX, "--format", "{{len .RootFS.Layers}}"]);
    assert.equal(layers.trim(), `${baseLayers.trim()} nobody`);
  });

  test("bad changes and bad names are refused and leave no image", async () => {
    const before = await ok(["images", "-q", "--no-trunc"]);
    let r = await run(["commit", "-c", "RUN echo x", "commit-src", "commit-img:bad"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /run is not a valid change command/);
    r = await run(["commit", "-c", "ENV A", "commit-src"]);
    assert.match(r.stderr, /ENV must have two arguments/);
    r = await run(["commit", "-c", "EXPOSE 99999", "commit-src"]);
    assert.match(r.stderr, /Invalid containerPort: 99999/);
    r = await run(["commit", "commit-src", "Bad_Name"]);
    assert.notEqual(r.code, 0);
    r = await run(["commit", "no-such-container", "commit-img:x"]);
    assert.match(r.stderr, /No such container: no-such-container/);
    assert.equal(await ok(["images", "-q", "--no-trunc"]), before);
  });
});
