// The conformance suite, in report order.
import type { Scenario } from "../context.js";
import { config, ps } from "./config.js";
import { files, inspect } from "./files.js";
import { images } from "./images.js";
import { lifecycle } from "./lifecycle.js";
import { attach, exec, logs } from "./logs.js";
import { networks, volumes } from "./objects.js";
import { policies } from "./policies.js";
import { sdk } from "./sdk.js";
import { errors, events, system } from "./system.js";

export const areas: Record<string, Scenario[]> = {
  lifecycle,
  logs,
  exec,
  attach,
  files,
  inspect,
  ps,
  config,
  policies,
  volumes,
  networks,
  images,
  events,
  errors,
  system,
  sdk,
};

export const scenarios: Scenario[] = Object.values(areas).flat();
