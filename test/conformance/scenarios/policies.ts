// Restart policies and health checks.
import { BUSYBOX as B } from "../../helpers.js";
import type { Scenario } from "../context.js";
import { NONE } from "./lifecycle.js";

export const policies: Scenario[] = [
  {
    name: "restart policy on-failure:2",
    run: async (t) => {
      const c = t.name("c");
      await t.ok([
        "run",
        "-d",
        "--name",
        c,
        ...NONE,
        "--restart",
        "on-failure:2",
        B,
        "sh",
        "-c",
        "echo run; exit 3",
      ]);
      await t.until(
        async () =>
          (await t.ok(["inspect", "--format", "{{.State.Status}} {{.RestartCount}}", c])).trim() ===
          "exited 2",
        "two restarts",
        30_000,
      );
      await t.cli("inspect", [
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}",
        c,
      ]);
      await t.cli("logs", ["logs", c]);
    },
  },
  {
    name: "restart policy always and unless-stopped",
    run: async (t) => {
      const a = t.name("always");
      await t.ok([
        "run",
        "-d",
        "--name",
        a,
        ...NONE,
        "--restart",
        "always",
        B,
        "sh",
        "-c",
        "sleep 0.2; exit 0",
      ]);
      await t.until(
        async () => Number(await t.ok(["inspect", "--format", "{{.RestartCount}}", a])) >= 1,
        "a restart",
      );
      await t.cli("stop always", ["stop", "-t", "0", a]);
      await t.cli("after stop", [
        "inspect",
        "--format",
        "{{.State.Status}} {{.HostConfig.RestartPolicy.Name}}",
        a,
      ]);
      const u = t.name("unless");
      await t.ok(["run", "-d", "--name", u, ...NONE, "--restart", "unless-stopped", B, "sleep", "60"]);
      await t.cli("stop unless-stopped", ["stop", "-t", "0", u]);
      await t.cli("unless-stopped after stop", [
        "inspect",
        "--format",
        "{{.State.Status}} {{.RestartCount}}",
        u,
      ]);
    },
  },
  {
    name: "restart policy conflicts",
    run: async (t) => {
      await t.cli("--rm with a restart policy", ["run", "--rm", "--restart", "always", ...NONE, B, "true"]);
      await t.cli("bad policy", ["run", "--restart", "sometimes", ...NONE, B, "true"]);
      await t.api("bad policy via the API", "POST", `/v1.41/containers/create?name=${t.name("c")}`, {
        Image: B,
        HostConfig: { RestartPolicy: { Name: "always", MaximumRetryCount: 2 }, NetworkMode: "none" },
      });
    },
  },
  {
    name: "health check healthy",
    run: async (t) => {
      const c = t.name("c");
      await t.ok([
        "run",
        "-d",
        "--name",
        c,
        ...NONE,
        "--health-cmd",
        "echo probe",
        "--health-interval",
        "300ms",
        "--health-retries",
        "2",
        B,
        "sleep",
        "60",
      ]);
      await t.until(
        async () => (await t.ok(["inspect", "--format", "{{.State.Health.Status}}", c])).trim() === "healthy",
        "healthy",
      );
      const h = JSON.parse(await t.ok(["inspect", "--format", "{{json .State.Health}}", c]));
      t.record("health", {
        Status: h.Status,
        FailingStreak: h.FailingStreak,
        first: { ExitCode: h.Log[0].ExitCode, Output: h.Log[0].Output },
      });
      await t.cli("ps health filter", [
        "ps",
        "--filter",
        `name=${c}`,
        "--filter",
        "health=healthy",
        "--format",
        "{{.Names}}",
      ]);
      await t.cli("config", ["inspect", "--format", "{{json .Config.Healthcheck}}", c]);
    },
  },
  {
    name: "health check unhealthy",
    run: async (t) => {
      const c = t.name("c");
      await t.ok([
        "run",
        "-d",
        "--name",
        c,
        ...NONE,
        "--health-cmd",
        "echo failing; exit 1",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        B,
        "sleep",
        "60",
      ]);
      await t.until(
        async () =>
          (await t.ok(["inspect", "--format", "{{.State.Health.Status}}", c])).trim() === "unhealthy",
        "unhealthy",
      );
      const h = JSON.parse(await t.ok(["inspect", "--format", "{{json .State.Health}}", c]));
      t.record("health", {
        Status: h.Status,
        streak: h.FailingStreak >= 2,
        first: { ExitCode: h.Log[0].ExitCode, Output: h.Log[0].Output },
      });
      await t.cli("status in ps", ["ps", "--filter", `name=${c}`, "--format", "{{.Status}}"]);
      await t.cli("no healthcheck", [
        "run",
        "--rm",
        ...NONE,
        "--no-healthcheck",
        "--health-cmd",
        "true",
        B,
        "true",
      ]);
    },
  },
];
