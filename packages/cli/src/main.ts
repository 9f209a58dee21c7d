#!/usr/bin/env node
import path from "node:path";
import { Command, Option } from "commander";
import { log } from "@sockerless/api";
import { defaultDataRoot, serve } from "./serve.js";
import { defaultCertDir } from "./tls.js";

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
  .addOption(new Option("--region <region>", "ecs/lambda: AWS region (default $AWS_REGION or us-east-1)"))
  .addOption(new Option("--aws-endpoint <url>", "ecs/lambda: AWS endpoint (default $AWS_ENDPOINT_URL)"))
  .addOption(
    new Option("--aws-max-attempts <n>", "ecs/lambda: attempts per AWS call (throttling, 5xx)")
      .env("SOCKERLESS_AWS_MAX_ATTEMPTS")
      .argParser(Number),
  )
  .addOption(
    new Option("--ecs-cluster <name>", "ecs: cluster (created when missing)").env("SOCKERLESS_ECS_CLUSTER"),
  )
  .addOption(
    new Option(
      "--ecs-subnets <ids>",
      "ecs: awsvpc subnets, comma-separated (default: the default VPC's)",
    ).env("SOCKERLESS_ECS_SUBNETS"),
  )
  .addOption(
    new Option("--ecs-security-groups <ids>", "ecs: security groups, comma-separated").env(
      "SOCKERLESS_ECS_SECURITY_GROUPS",
    ),
  )
  .addOption(
    new Option("--ecs-execution-role-arn <arn>", "ecs: task execution role (awslogs, ECR pulls)").env(
      "SOCKERLESS_ECS_EXECUTION_ROLE_ARN",
    ),
  )
  .addOption(new Option("--ecs-task-role-arn <arn>", "ecs: task role").env("SOCKERLESS_ECS_TASK_ROLE_ARN"))
  .addOption(
    new Option("--ecs-log-group <name>", "ecs: CloudWatch log group (created when missing)").env(
      "SOCKERLESS_ECS_LOG_GROUP",
    ),
  )
  .addOption(
    new Option("--ecs-assign-public-ip", "ecs: give tasks a public IP").env(
      "SOCKERLESS_ECS_ASSIGN_PUBLIC_IP",
    ),
  )
  .addOption(
    new Option("--lambda-role-arn <arn>", "lambda: the functions' execution role").env(
      "SOCKERLESS_LAMBDA_ROLE_ARN",
    ),
  )
  .addOption(
    new Option("--lambda-memory <mb>", "lambda: MemorySize without a memory limit")
      .env("SOCKERLESS_LAMBDA_MEMORY")
      .argParser(Number),
  )
  .addOption(
    new Option("--lambda-timeout <seconds>", "lambda: function timeout, the longest a container runs")
      .env("SOCKERLESS_LAMBDA_TIMEOUT")
      .argParser(Number),
  )
  .addOption(
    new Option("--lambda-function-prefix <prefix>", "lambda: function name prefix (and recovery scope)").env(
      "SOCKERLESS_LAMBDA_FUNCTION_PREFIX",
    ),
  )
  .addOption(
    new Option(
      "--agent-listen <[host:]port>",
      "ecs/lambda: where agents in workloads dial back (default 127.0.0.1:0)",
    ).env("SOCKERLESS_AGENT_CALLBACK_LISTEN"),
  )
  .addOption(
    new Option(
      "--agent-callback-url <url>",
      "ecs/lambda: the URL workloads dial (default http://<agent-listen>/agent)",
    ).env("SOCKERLESS_AGENT_CALLBACK_URL"),
  )
  .addOption(
    new Option(
      "--agent-connect-timeout <seconds>",
      "ecs/lambda: how long a started workload's agent may take to dial back",
    )
      .env("SOCKERLESS_AGENT_CONNECT_TIMEOUT")
      .argParser(Number),
  )
  .addOption(
    new Option(
      "--agent-secret <secret>",
      "ecs/lambda: derives agent tokens (default: one kept in the data root)",
    ).env("SOCKERLESS_AGENT_SECRET"),
  )
  .addOption(
    new Option("--ecr-repository <name>", "ecs/lambda: ECR repository for images with the agent layer").env(
      "SOCKERLESS_ECR_REPOSITORY",
    ),
  )
  .option("--tls", "serve TLS on TCP addresses; implied by --tlsverify")
  .addOption(
    new Option("--tlsverify", "serve TLS and require client certificates signed by --tlscacert").default(
      !!process.env.DOCKER_TLS_VERIFY,
      "$DOCKER_TLS_VERIFY set",
    ),
  )
  .option("--tlscacert <file>", "trust client certificates signed by this CA", `${defaultCertDir()}/ca.pem`)
  .option("--tlscert <file>", "server TLS certificate", `${defaultCertDir()}/cert.pem`)
  .option("--tlskey <file>", "server TLS key", `${defaultCertDir()}/key.pem`)
  .option(
    "--allow-insecure-tcp",
    "listen on a non-loopback TCP address without --tlsverify (anyone who reaches it controls the daemon)",
  )
  .addOption(
    new Option(
      "--docker-host <address>",
      "docker backend: the Docker Engine, unix:///path or tcp://host:port",
    ).default(process.env.SOCKERLESS_DOCKER_HOST),
  )
  .option("--docker-tls", "docker backend: talk TLS to the engine (implied by --docker-tls-verify)")
  .option("--docker-tls-verify", "docker backend: TLS, verifying the engine's certificate against the CA")
  .option("--docker-tls-ca <file>", "docker backend: CA certificate (PEM)")
  .option("--docker-tls-cert <file>", "docker backend: client certificate (PEM)")
  .option("--docker-tls-key <file>", "docker backend: client key (PEM)")
  .action(async (opts) => {
    try {
      const daemon = await serve({ ...opts, routeLog: process.env.SOCKERLESS_ROUTE_LOG });
      let banner = "";
      for (const l of daemon.listeners) {
        log.info({ address: l.url, backend: opts.backend }, "listening");
        banner += `sockerless: listening on ${l.url} (backend ${opts.backend})\n  export DOCKER_HOST=${l.url}\n`;
      }
      process.stdout.write(banner); // one write: readers see every address at once
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

/** Run a subcommand's work; a failure prints `sockerless <what>: message` and exits 1. */
const run = (what: string, work: () => Promise<void>) =>
  work().catch((e: Error) => {
    process.stderr.write(`sockerless ${what}: ${e.message}\n`, () => process.exit(1));
  });

const certs = program.command("certs").description("TLS certificates for remote access (--tlsverify)");
certs
  .command("create")
  .description(
    "create a CA, a server certificate for the given hosts and a client certificate, signed by the CA",
  )
  .requiredOption(
    "--host <names>",
    "DNS names and IP addresses clients use to reach the daemon, comma-separated (repeatable)",
    (v: string, prev: string[]) => [
      ...prev,
      ...v
        .split(",")
        .map((h) => h.trim())
        .filter(Boolean),
    ],
    [],
  )
  .option("--out <dir>", "where to write the files", defaultCertDir())
  .option("--days <n>", "validity in days", (v) => Number(v), 365)
  .option("--force", "replace existing files")
  .action((opts) =>
    run("certs create", async () => {
      const { createCerts } = await import("./certs.js"); // loaded on demand: keeps `serve` start fast
      const f = await createCerts({ hosts: opts.host, out: opts.out, days: opts.days, force: opts.force });
      process.stdout.write(
        [
          `CA:     ${f.caCert} (key ${f.caKey})`,
          `server: ${f.serverCert} ${f.serverKey} (for ${opts.host.join(", ")})`,
          `client: ${f.clientCert} ${f.clientKey}`,
          "",
          `  sockerless serve --tlsverify --tlscacert ${f.caCert} --tlscert ${f.serverCert} --tlskey ${f.serverKey} -H tcp://0.0.0.0:2376`,
          `  docker --tlsverify --tlscacert ${f.caCert} --tlscert ${f.clientCert} --tlskey ${f.clientKey} -H tcp://${opts.host[0]}:2376 version`,
          "",
        ].join("\n"),
      );
    }),
  );

const context = program.command("context").description("docker CLI contexts for a Sockerless daemon");
context
  .command("create <name>")
  .description("create a docker CLI context (`docker --context NAME ...`) pointing at a running daemon")
  .requiredOption("--host <address>", "the daemon's address: tcp://host:port or unix:///path")
  .option("--tls-dir <dir>", "directory with the client's ca.pem, cert.pem and key.pem (enables TLS)")
  .option("--description <text>", "context description")
  .action((name: string, opts) =>
    run("context create", async () => {
      const { createContext } = await import("./context.js");
      await createContext({ name, host: opts.host, tlsDir: opts.tlsDir, description: opts.description });
      process.stdout.write(
        `created docker context ${name} for ${opts.host}\n  docker --context ${name} ps\n`,
      );
    }),
  );

program
  .command("cleanup")
  .description(
    "remove the containers, networks, volumes and images that carry every given label (a Ryuk replacement)",
  )
  .requiredOption("--label <key[=value]>", "label to match (repeatable; all must match)", collect, [])
  .option("-H, --host <address>", "daemon address (default: $DOCKER_HOST, else the default socket)")
  .action(async (opts: { label: string[]; host?: string }) => {
    const { default: Docker } = await import("dockerode");
    const { cleanupByLabel } = await import("./cleanup.js");
    // docker-modem reads DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH like the docker CLI
    process.env.DOCKER_HOST =
      opts.host ?? process.env.DOCKER_HOST ?? `unix://${path.join(defaultDataRoot(), "sockerless.sock")}`;
    try {
      const r = await cleanupByLabel(new Docker(), opts.label);
      for (const x of r.removed) process.stdout.write(`removed ${x}\n`);
      for (const x of r.failed) process.stderr.write(`sockerless cleanup: could not remove ${x}\n`);
      process.exitCode = r.failed.length ? 1 : 0;
    } catch (e) {
      process.stderr.write(`sockerless cleanup: ${(e as Error).message}\n`);
      process.exitCode = 1;
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
  .option(
    "--dns-upstream <address[:port]>",
    "where the VPC resolvers forward names outside Cloud Map's private namespaces (repeatable; default: the nameservers of /etc/resolv.conf)",
    (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
  )
  .action(async (opts) => {
    const { startAwsSimulator } = await import("@sockerless/sim-aws");
    try {
      const running = await startAwsSimulator({ ...opts, dnsUpstreams: opts.dnsUpstream });
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
