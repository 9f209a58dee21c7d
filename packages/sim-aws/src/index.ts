import type { Server } from "node:http";
import { createSimServer } from "./server.js";
import { Simulator, type SimOptions } from "./sim.js";
import * as cloudmap from "./services/cloudmap.js";
import * as ec2 from "./services/ec2.js";
import * as ecr from "./services/ecr.js";
import * as ecs from "./services/ecs.js";
import * as efs from "./services/efs.js";
import * as iam from "./services/iam.js";
import * as lambda from "./services/lambda.js";
import * as logs from "./services/logs.js";
import * as resolver from "./services/resolver.js";
import * as sts from "./services/sts.js";

export * from "./sim.js";
export * from "./errors.js";
export { createSimServer } from "./server.js";

export interface RunningSimulator {
  sim: Simulator;
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Start the AWS simulator: every service on one endpoint, like LocalStack's edge port. */
export async function startAwsSimulator(opts: SimOptions): Promise<RunningSimulator> {
  const sim = new Simulator(opts);
  // logs first: ECS and Lambda write through its sink
  for (const m of [logs, sts, iam, ec2, ecr, ecs, lambda, cloudmap, resolver, efs]) m.register(sim);
  const server = createSimServer(sim);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port, opts.host, () => resolve());
    });
  } catch (e) {
    await sim.shutdown(); // services may hold sockets already (a restored VPC resolver)
    throw e;
  }
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : opts.port;
  // clients dial a wildcard listener on loopback; dockerd skips TLS only for 127.0.0.0/8 registries
  const dialHost = opts.host === "0.0.0.0" || opts.host === "::" ? "127.0.0.1" : opts.host;
  sim.url = `http://${dialHost}:${port}`;
  sim.registryHost = `${dialHost}:${port}`;
  return {
    sim,
    server,
    url: sim.url,
    async close() {
      await sim.shutdown();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };
}
