#!/usr/bin/env node
import { Command, Option } from "commander";
import { log } from "@sockerless/api";
import { defaultDataRoot, serve } from "./serve.js";

const collect = (v: string, prev: string[]) => [...prev, v];

const program = new Command("sockerless").description(
  "A Docker Engine API daemon that runs containers elsewhere",
);

program
  .command("serve")
  .description("run the daemon (Docker Engine API v1.44)")
  .option("-H, --host <address>", "listen address: unix:///path or tcp://host:port (repeatable)", collect, [])
  .option("--data-root <dir>", "root of persistent state", defaultDataRoot())
  .option("--insecure-registry <host:port>", "registry reached over plain HTTP (repeatable)", collect, [])
  .option("--registry-mirror <url>", "Docker Hub mirror (repeatable)", collect, [])
  .addOption(
    new Option("--backend <name>", "where containers run").default(
      process.env.SOCKERLESS_BACKEND ?? "memory",
    ),
  )
  .addOption(
    new Option("-l, --log-level <level>", "log level")
      .choices(["trace", "debug", "info", "warn", "error", "fatal"])
      .default("info"),
  )
  .option("--max-run-seconds <n>", "memory backend: kill a container's process after n seconds", (v) =>
    Number(v),
  )
  .option(
    "--rootfs-dir <dir>",
    "memory backend: where containers' filesystems live (default: a tmpfs under /dev/shm)",
  )
  .option("--max-memory <bytes>", "memory backend: interpreter memory limit per container", (v) => Number(v))
  .action(async (opts) => {
    try {
      const daemon = await serve(opts);
      for (const l of daemon.listeners) {
        log.info({ address: l.url, backend: opts.backend }, "listening");
        process.stdout.write(
          `sockerless: listening on ${l.url} (backend ${opts.backend})\n  export DOCKER_HOST=${l.url}\n`,
        );
      }
      const shutdown = async (sig: string) => {
        log.info({ signal: sig }, "shutting down");
        await daemon.stop();
        process.exit(0);
      };
      process.once("SIGTERM", () => void shutdown("SIGTERM"));
      process.once("SIGINT", () => void shutdown("SIGINT"));
    } catch (e) {
      // exit only once the message is out: stderr to a pipe is asynchronous
      process.stderr.write(`sockerless: ${(e as Error).message}\n`, () => process.exit(1));
    }
  });

const sim = program.command("sim").description("run a cloud API simulator");
sim
  .command("aws")
  .description("AWS simulator: ECS, Lambda, ECR, CloudWatch Logs, IAM, STS, EC2, Cloud Map, EFS")
  .option("--host <host>", "listen address", "127.0.0.1")
  .option("--port <port>", "listen port", (v) => Number(v), 4566)
  .option("--data-dir <dir>", "persist state here (memory only when absent)")
  .option(
    "--docker-host <address>",
    "Docker Engine that runs tasks and functions",
    process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock",
  )
  .option("--account <id>", "account id in ARNs", "000000000000")
  .option("--region <region>", "default region", process.env.AWS_REGION ?? "us-east-1")
  .action(async (opts) => {
    const { startAwsSimulator } = await import("@sockerless/sim-aws");
    try {
      const running = await startAwsSimulator(opts);
      process.stdout.write(
        `sockerless sim aws: listening on ${running.url}\n  export AWS_ENDPOINT_URL=${running.url}\n`,
      );
      const shutdown = async () => {
        await running.close();
        process.exit(0);
      };
      process.once("SIGTERM", () => void shutdown());
      process.once("SIGINT", () => void shutdown());
    } catch (e) {
      process.stderr.write(`sockerless sim aws: ${(e as Error).message}\n`, () => process.exit(1));
    }
  });

await program.parseAsync(process.argv);
