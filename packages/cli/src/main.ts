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

await program.parseAsync(process.argv);
