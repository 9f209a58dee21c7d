import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSandbox, type SandboxProcess, type SandboxSpec } from "../src/index.js";

export const BUSYBOX = ["/bin/busybox", "/usr/bin/busybox"].find((p) => fs.existsSync(p)) ?? "";
export const TRUE_ELF = fs.realpathSync("/bin/true");

/** A small rootfs: busybox with applet symlinks, a script on PATH, passwd/group. */
export function makeRootfs(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-rootfs-"));
  for (const d of ["bin", "usr/bin", "usr/local/bin", "etc", "tmp", "root", "home/app"])
    fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.copyFileSync(BUSYBOX, path.join(root, "bin/busybox"));
  fs.chmodSync(path.join(root, "bin/busybox"), 0o755);
  for (const a of ["sh", "echo", "cat", "sleep", "tail", "ls", "vi", "egrep"])
    fs.symlinkSync("busybox", path.join(root, "bin", a));
  fs.symlinkSync("../../bin/busybox", path.join(root, "usr/bin/env"));
  fs.copyFileSync(TRUE_ELF, path.join(root, "usr/bin/mytool"));
  fs.chmodSync(path.join(root, "usr/bin/mytool"), 0o755);
  fs.copyFileSync(TRUE_ELF, path.join(root, "usr/bin/python3"));
  fs.chmodSync(path.join(root, "usr/bin/python3"), 0o755);
  fs.writeFileSync(path.join(root, "usr/local/bin/greet"), '#!/bin/sh\necho "hello $1"\n', { mode: 0o755 });
  fs.writeFileSync(path.join(root, "usr/local/bin/calls-abs"), "#!/bin/sh\n/bin/echo abs-from-script\n", {
    mode: 0o755,
  });
  fs.writeFileSync(path.join(root, "usr/local/bin/pyscript"), "#!/usr/bin/python3\nprint(1)\n", {
    mode: 0o755,
  });
  fs.writeFileSync(path.join(root, "usr/local/bin/needs-bash"), "#!/bin/bash\necho hi\n", { mode: 0o755 });
  fs.writeFileSync(path.join(root, "usr/local/bin/not-exec"), "echo hi\n", { mode: 0o644 });
  fs.writeFileSync(
    path.join(root, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
  );
  fs.writeFileSync(path.join(root, "etc/group"), "root:x:0:\napp:x:1000:\nstaff:x:50:app\n");
  return root;
}

export function specFor(rootfs: string, argv: string[], over: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    rootfs,
    mounts: [],
    argv,
    env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    cwd: "/",
    hostname: "box1",
    tty: false,
    openStdin: false,
    isInit: true,
    ...over,
  };
}

export interface Run {
  proc: SandboxProcess;
  stdout: () => string;
  stderr: () => string;
  events: { stream: string; data: string; t: number }[];
}

export function start(spec: SandboxSpec): Run {
  const proc = spawnSandbox(spec);
  const events: Run["events"] = [];
  proc.onOutput((stream, data) => events.push({ stream, data: data.toString("utf8"), t: performance.now() }));
  const join = (s: string) => () =>
    events
      .filter((e) => e.stream === s)
      .map((e) => e.data)
      .join("");
  return { proc, events, stdout: join("stdout"), stderr: join("stderr") };
}

export async function run(spec: SandboxSpec): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = start(spec);
  const code = await r.proc.exited;
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when predicate() becomes true (polling), or rejects after ms. */
export async function until(predicate: () => boolean, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!predicate()) {
    if (Date.now() - t0 > ms) throw new Error("timed out waiting for condition");
    await delay(5);
  }
}
