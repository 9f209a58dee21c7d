import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { badRequest, DockerError } from "@sockerless/api";
import type { Engine } from "@sockerless/engine";
import {
  parseReference,
  shortId,
  type ImageRecord,
  type ProgressMessage,
  type RegistryAuth,
} from "@sockerless/images";
import { BuildCache } from "./cache.js";
import {
  applyConfigInstruction,
  CONFIG_INSTRUCTIONS,
  normalizeWorkdir,
  shellOf,
  type ConfigState,
  type RunConfig,
} from "./config.js";
import { DEFAULT_MAX_CONTEXT, prepareContext, unpackContext } from "./context.js";
import { planCopy, resolveChown } from "./copy.js";
import { parseDockerfile, parseLine, type Instruction } from "./dockerfile.js";
import { envMap, processWord, processWords, splitRawWords } from "./words.js";

export interface BuildOptions {
  dockerfile: string;
  tags: string[];
  buildArgs: Record<string, string | null>;
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  rm: boolean;
  forceRm: boolean;
  pull: boolean;
  quiet: boolean;
  platform?: string;
  networkMode?: string;
  /** X-Registry-Config: credentials per registry, for FROM pulls. */
  auth: Record<string, RegistryAuth>;
  /** Aborted when the client goes away: the build stops and its running step's container goes. */
  signal?: AbortSignal;
}

/** A JSON message of the build stream ({"stream"}, {"aux"}, {"status"...} or an error). */
export type BuildMessage = Record<string, unknown>;

const KNOWN = new Set(["FROM", "RUN", "COPY", "ADD", "ARG", ...[...CONFIG_INSTRUCTIONS]]);

/** Build args every build accepts without an ARG line; kept out of the image history. */
const PROXY_ARGS = new Set([
  "HTTP_PROXY",
  "http_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "FTP_PROXY",
  "ftp_proxy",
  "NO_PROXY",
  "no_proxy",
  "ALL_PROXY",
  "all_proxy",
]);

/** An error on the build stream naming what failed; `code` for a failing RUN. */
class StepError extends DockerError {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(400, message);
  }
}

interface Stage {
  from: Instruction;
  name?: string;
  instructions: Instruction[];
}

interface StageState extends ConfigState {
  /** Current image; undefined while a FROM scratch stage has no layer yet. */
  imageId: string | undefined;
  /** ARGs declared in this stage, with their values (undefined: declared without value). */
  args: Map<string, string | undefined>;
}

/**
 * The legacy builder (`DOCKER_BUILDKIT=0 docker build`, compose v1, docker-py): each step makes
 * an image on top of the previous one; RUN runs in a temporary container of the engine's backend
 * and its changes become the step's layer.
 */
export class Builder {
  readonly cache: BuildCache;
  private readonly tmpRoot: string;

  constructor(readonly engine: Engine) {
    const root = path.join(engine.opts.dataRoot, "builder");
    this.cache = new BuildCache(root, engine.images);
    this.tmpRoot = path.join(root, "tmp");
  }

  async init(): Promise<void> {
    await fsp.rm(this.tmpRoot, { recursive: true, force: true });
    await fsp.mkdir(this.tmpRoot, { recursive: true });
    await this.cache.load();
  }

  /**
   * Runs a build from a context tar. Throws (nothing emitted yet) for a bad request: a bad
   * context, Dockerfile or tag. Once steps run, failures are emitted as an error message.
   */
  async build(body: Readable, opts: BuildOptions, emit: (m: BuildMessage) => void): Promise<void> {
    for (const t of opts.tags) this.engine.images.checkTag(t);
    const work = path.join(this.tmpRoot, randomBytes(8).toString("hex"));
    await fsp.mkdir(path.join(work, "context"), { recursive: true });
    try {
      const max = Number(process.env.SOCKERLESS_MAX_BUILD_CONTEXT) || DEFAULT_MAX_CONTEXT;
      await unpackContext(body, path.join(work, "context"), max);
      const ctx = await prepareContext(path.join(work, "context"), opts.dockerfile);
      if (!ctx.dockerfile.trim()) throw badRequest(`the Dockerfile (${ctx.dockerfileName}) cannot be empty`);
      const parsed = parseDockerfile(ctx.dockerfile);
      const { metaArgs, stages } = this.splitStages(parsed.instructions);
      const run = new Run(this, opts, emit, ctx.dir, work, parsed.escape, metaArgs, stages);
      await run.execute();
    } finally {
      await fsp.rm(work, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private splitStages(instructions: Instruction[]): { metaArgs: Instruction[]; stages: Stage[] } {
    const metaArgs: Instruction[] = [];
    const stages: Stage[] = [];
    for (const inst of instructions) {
      if (!KNOWN.has(inst.keyword)) {
        throw badRequest(`dockerfile parse error line ${inst.line}: unknown instruction: ${inst.keyword}`);
      }
      if (inst.keyword === "ONBUILD") {
        const t = parseLine(inst.args, inst.line);
        if (!KNOWN.has(t.keyword)) {
          throw badRequest(`dockerfile parse error line ${inst.line}: unknown instruction: ${t.keyword}`);
        }
      }
      if (inst.keyword === "FROM") {
        const words = inst.args.split(/\s+/).filter(Boolean);
        if (words.length !== 1 && !(words.length === 3 && words[1].toLowerCase() === "as")) {
          throw badRequest(
            `dockerfile parse error line ${inst.line}: FROM requires either one or three arguments`,
          );
        }
        stages.push({ from: inst, name: words[2]?.toLowerCase(), instructions: [] });
      } else if (stages.length === 0) {
        if (inst.keyword !== "ARG") {
          throw badRequest(
            `dockerfile parse error line ${inst.line}: Please provide a source image with \`from\` prior to ${inst.keyword.toLowerCase()}`,
          );
        }
        metaArgs.push(inst);
      } else stages[stages.length - 1].instructions.push(inst);
    }
    if (stages.length === 0)
      throw badRequest("dockerfile parse error: no build stage in the Dockerfile (FROM missing)");
    return { metaArgs, stages };
  }

  /** The BuildCache entries of GET /system/df. */
  diskUsage() {
    return this.cache.entries();
  }

  /** POST /build/prune: forget cached steps and delete their images that nothing else uses. */
  prune(all: boolean) {
    const inUse = new Set([...this.engine.containers.records.values()].map((c) => c.Image));
    return this.cache.prune(all, inUse);
  }
}

const id12 = (id: string) => shortId(id);

/** One build: the state of the stages as they are dispatched. */
class Run {
  private step = 0;
  private readonly total: number;
  private readonly stageImages: (string | undefined)[] = [];
  private readonly globalArgs = new Map<string, string | undefined>();
  private readonly usedArgs = new Set<string>();
  private readonly stages: Stage[];

  constructor(
    private readonly b: Builder,
    private readonly opts: BuildOptions,
    private readonly emitRaw: (m: BuildMessage) => void,
    private readonly contextDir: string,
    private readonly work: string,
    private readonly escape: string,
    private readonly metaArgs: Instruction[],
    allStages: Stage[],
  ) {
    let last = allStages.length - 1;
    if (opts.target) {
      last = allStages.findIndex((s) => s.name === opts.target!.toLowerCase());
      if (last < 0) throw badRequest(`failed to reach build target ${opts.target} in Dockerfile`);
    }
    this.stages = allStages.slice(0, last + 1);
    const labels = Object.entries(opts.labels);
    if (labels.length) {
      const q = (x: string) => (/^[^\s"'\\$]+$/.test(x) ? x : JSON.stringify(x).replace(/\$/g, "\\$"));
      const text = `LABEL ${labels.map(([k, v]) => `${q(k)}=${q(v)}`).join(" ")}`;
      this.stages[last].instructions.push(parseLine(text, 0));
    }
    this.total = metaArgs.length + this.stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
  }

  private get engine() {
    return this.b.engine;
  }

  private out(text: string): void {
    if (!this.opts.quiet) this.emitRaw({ stream: text });
  }

  private stepLine(inst: Instruction): void {
    this.opts.signal?.throwIfAborted();
    this.step++;
    this.out(`Step ${this.step}/${this.total} : ${inst.original}`);
    this.out("\n");
  }

  async execute(): Promise<void> {
    for (const a of this.metaArgs) {
      this.stepLine(a);
      for (const [k, v] of this.argDecls(a, new Map())) this.globalArgs.set(k, v);
    }
    let finalId: string | undefined;
    for (const [i, stage] of this.stages.entries()) {
      finalId = await this.runStage(stage);
      this.stageImages[i] = finalId;
    }
    if (!finalId) throw new StepError("No image was generated. Is your Dockerfile empty?");
    const unused = Object.keys(this.opts.buildArgs).filter(
      (k) => !this.usedArgs.has(k) && !PROXY_ARGS.has(k),
    );
    if (unused.length)
      this.out(`[Warning] One or more build-args [${unused.sort().join(" ")}] were not consumed\n`);
    const img = this.engine.images.get(finalId)!;
    this.emitRaw({ aux: { ID: img.id } });
    if (this.opts.quiet) this.emitRaw({ stream: `${img.id}\n` });
    this.out(`Successfully built ${id12(img.id)}\n`);
    for (const t of this.opts.tags) {
      const ref = this.engine.images.checkTag(t);
      await this.engine.tagImage(img.id, ref.familiarName, ref.tag);
      this.out(`Successfully tagged ${ref.familiarName}:${ref.tag}\n`);
    }
  }

  /** ARG name[=default] ...: values from --build-arg, the default, or the global (meta) ARG. */
  private argDecls(inst: Instruction, vars: Map<string, string>): [string, string | undefined][] {
    const out: [string, string | undefined][] = [];
    const words = splitRawWords(inst.args, this.escape);
    if (words.length === 0) throw new StepError("ARG requires exactly one argument");
    for (const w of words) {
      const eq = w.indexOf("=");
      const name = eq < 0 ? w : w.slice(0, eq);
      const dflt = eq < 0 ? undefined : processWord(w.slice(eq + 1), vars, this.escape);
      this.usedArgs.add(name);
      const given = this.opts.buildArgs[name];
      const value = given !== undefined && given !== null ? given : (dflt ?? this.globalArgs.get(name));
      out.push([name, value]);
    }
    return out;
  }

  /** What ${VAR} sees in a stage: its ARGs, overridden by the config's ENV. */
  private vars(s: StageState): Map<string, string> {
    const m = new Map<string, string>();
    for (const [k, v] of s.args) if (v !== undefined) m.set(k, v);
    for (const [k, v] of envMap(s.config.Env)) m.set(k, v);
    return m;
  }

  private async runStage(stage: Stage): Promise<string | undefined> {
    this.stepLine(stage.from);
    const s = await this.from(stage.from);
    const triggers = s.config.OnBuild ?? [];
    if (triggers.length) {
      this.out(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? "s" : ""}\n`);
      s.config.OnBuild = null;
      for (const t of triggers) await this.dispatch(s, parseLine(t, stage.from.line, this.escape));
    }
    for (const inst of stage.instructions) {
      this.stepLine(inst);
      await this.dispatch(s, inst);
    }
    return s.imageId;
  }

  private async from(inst: Instruction): Promise<StageState> {
    const platformFlag = inst.flags.find((f) => f.name === "platform");
    for (const f of inst.flags) if (f.name !== "platform") throw new StepError(`Unknown flag: ${f.name}`);
    const globals = new Map<string, string>();
    for (const [k, v] of this.globalArgs) if (v !== undefined) globals.set(k, v);
    const name = processWord(inst.args.split(/\s+/)[0], globals, this.escape);
    const base = (imageId: string | undefined, config: RunConfig): StageState => ({
      imageId,
      config: structuredClone(config),
      cmdSet: false,
      escape: this.escape,
      args: new Map(),
    });
    if (name.toLowerCase() === "scratch") {
      this.out(" ---> \n"); // dockerd prints an empty id for scratch
      return base(undefined, {});
    }
    const stageIdx = this.stages.findIndex((st) => st.name === name.toLowerCase());
    if (stageIdx >= 0 && stageIdx < this.stageImages.length) {
      const id = this.stageImages[stageIdx];
      const rec = id ? this.engine.images.get(id) : undefined;
      if (rec) this.out(` ---> ${id12(rec.id)}\n`);
      return base(rec?.id, rec?.config ?? {});
    }
    const platform = platformFlag?.value
      ? processWord(platformFlag.value, globals, this.escape)
      : this.opts.platform;
    const rec = await this.image(name, platform);
    this.out(` ---> ${id12(rec.id)}\n`);
    return base(rec.id, rec.config);
  }

  /** A local image, or pulled (with progress on the stream) when missing or with --pull. */
  private async image(name: string, platform?: string): Promise<ImageRecord> {
    const local = this.engine.images.resolve(name);
    if (local && !this.opts.pull) return local;
    const ref = parseReference(name);
    const auth =
      this.opts.auth[ref.domain] ??
      this.opts.auth[`https://${ref.domain}`] ??
      (ref.domain === "docker.io" ? this.opts.auth["https://index.docker.io/v1/"] : undefined);
    return this.engine.pull(name, undefined, auth, platform, (m: ProgressMessage) => {
      if (!this.opts.quiet) this.emitRaw(m as BuildMessage);
    });
  }

  private async dispatch(s: StageState, inst: Instruction): Promise<void> {
    switch (inst.keyword) {
      case "RUN":
        return this.runStep(s, inst);
      case "COPY":
      case "ADD":
        return this.copyStep(s, inst);
      case "ARG": {
        const decls = this.argDecls(inst, this.vars(s));
        for (const [k, v] of decls) s.args.set(k, v);
        return this.configStep(s, `ARG ${inst.args}`);
      }
      case "FROM":
        throw new StepError("FROM isn't allowed as an ONBUILD trigger");
      default:
        return this.configStep(s, applyConfigInstruction(s, inst, this.vars(s)));
    }
  }

  private cacheHit(key: string): string | undefined {
    if (this.opts.noCache) return undefined;
    return this.b.cache.lookup(key);
  }

  private async useImage(s: StageState, id: string, cached: boolean): Promise<void> {
    if (cached) this.out(" ---> Using cache\n");
    this.out(` ---> ${id12(id)}\n`);
    s.imageId = id;
  }

  /** A step that only changes the config: a new image with an empty layer. */
  private async configStep(s: StageState, message: string): Promise<void> {
    const createdBy = `/bin/sh -c #(nop)  ${message}`;
    const key = this.b.cache.key(s.imageId, createdBy, s.config);
    const hit = this.cacheHit(key);
    if (hit) return this.useImage(s, hit, true);
    const img = await this.engine.images.createImage({
      parent: s.imageId,
      layers: [],
      config: s.config,
      history: [{ created: new Date().toISOString(), created_by: createdBy, empty_layer: true }],
      ...(s.author ? { author: s.author } : {}),
    });
    await this.b.cache.record(key, img.id, s.imageId, message);
    return this.useImage(s, img.id, false);
  }

  private argsForRun(s: StageState): string[] {
    const env = envMap(s.config.Env);
    const out: string[] = [];
    for (const [k, v] of [...s.args].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (v !== undefined && !env.has(k)) out.push(`${k}=${v}`);
    }
    return out;
  }

  private async runStep(s: StageState, inst: Instruction): Promise<void> {
    for (const f of inst.flags) {
      throw new StepError(
        `the --${f.name} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled`,
      );
    }
    if (!s.imageId)
      throw new StepError(
        "RUN needs a base image with a shell: this stage is FROM scratch and has no files yet",
      );
    const cmd = inst.json ?? [...shellOf(s.config), inst.args];
    const args = this.argsForRun(s);
    const createdBy = (args.length ? `|${args.length} ${args.join(" ")} ` : "") + cmd.join(" ");
    const key = this.b.cache.key(s.imageId, createdBy, s.config);
    const hit = this.cacheHit(key);
    if (hit) return this.useImage(s, hit, true);
    const proxies = Object.entries(this.opts.buildArgs)
      .filter(([k, v]) => PROXY_ARGS.has(k) && v !== null)
      .map(([k, v]) => `${k}=${v}`);
    const { Id } = await this.engine.containers.create(undefined, {
      Image: s.imageId,
      Entrypoint: cmd,
      Cmd: [],
      Env: [...(s.config.Env ?? []), ...args, ...proxies],
      WorkingDir: s.config.WorkingDir ?? "",
      User: s.config.User ?? "",
      Healthcheck: { Test: ["NONE"] },
      Labels: {},
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: { NetworkMode: this.opts.networkMode || "default" },
    });
    this.out(` ---> Running in ${Id.slice(0, 12)}\n`);
    const remove = async () => {
      this.out(`Removing intermediate container ${Id.slice(0, 12)}\n`);
      await this.engine.containers.remove(Id, { force: true, volumes: true });
    };
    let code: number;
    // a client that went away stops the step: the process is killed and the container goes
    const onAbort = () => void this.engine.containers.kill(Id, "SIGKILL").catch(() => undefined);
    this.opts.signal?.addEventListener("abort", onAbort);
    try {
      this.opts.signal?.throwIfAborted(); // gone while the container was being made
      const session = this.engine.containers.attach(
        Id,
        { stdin: false, stdout: true, stderr: true },
        (stream, data) => {
          const text = data.toString("utf8");
          this.out(stream === "stderr" ? `\u001b[91m${text}\u001b[0m` : text);
        },
      );
      await this.engine.containers.start(Id);
      code = (await session.done) ?? this.engine.containers.get(Id).State.ExitCode;
    } catch (e) {
      if (this.opts.forceRm || this.opts.signal?.aborted) await remove().catch(() => undefined);
      throw e;
    } finally {
      this.opts.signal?.removeEventListener("abort", onAbort);
    }
    if (this.opts.signal?.aborted) {
      await remove().catch(() => undefined);
      this.opts.signal.throwIfAborted();
    }
    if (code !== 0) {
      if (this.opts.forceRm) await remove().catch(() => undefined);
      throw new StepError(`The command '${cmd.join(" ")}' returned a non-zero code: ${code}`, code);
    }
    const img = await this.engine.commitContainer(Id, { config: s.config, createdBy });
    if (this.opts.rm || this.opts.forceRm) await remove();
    await this.b.cache.record(key, img.id, s.imageId, inst.original);
    return this.useImage(s, img.id, false);
  }

  private async copyStep(s: StageState, inst: Instruction): Promise<void> {
    const keyword = inst.keyword as "COPY" | "ADD";
    const flags = new Map(inst.flags.map((f) => [f.name, f.value]));
    for (const f of inst.flags) {
      const ok = ["chown", "chmod", ...(keyword === "COPY" ? ["from"] : [])];
      if (!ok.includes(f.name)) throw new StepError(`Unknown flag: ${f.name}`);
    }
    const vars = this.vars(s);
    const words = inst.json
      ? inst.json.map((w) => processWord(w, vars, this.escape))
      : processWords(inst.args, vars, this.escape);
    if (words.length < 2) {
      throw new StepError(
        `${keyword} requires at least two arguments, but only one was provided. Destination could not be determined.`,
      );
    }
    const destRaw = words[words.length - 1];
    const dest = path.posix.isAbsolute(destRaw)
      ? destRaw
      : normalizeWorkdir(s.config.WorkingDir, destRaw) + (destRaw.endsWith("/") ? "/" : "");
    let srcRoot = this.contextDir;
    let fromContext = true;
    const from = flags.get("from");
    if (from !== undefined) {
      fromContext = false;
      const fromName = processWord(from, vars, this.escape);
      const idx = /^\d+$/.test(fromName)
        ? Number(fromName)
        : this.stages.findIndex((st) => st.name === fromName.toLowerCase());
      let imageId: string | undefined;
      if (idx >= 0 && idx < this.stageImages.length) imageId = this.stageImages[idx];
      else if (/^\d+$/.test(fromName))
        throw new StepError(
          `invalid from flag value ${fromName}: refers to current build stage or a later one`,
        );
      else imageId = (await this.image(fromName)).id;
      srcRoot = imageId
        ? await this.engine.images.rootfsPath(imageId)
        : await fsp.mkdtemp(path.join(this.work, "empty-"));
    }
    const destRoot = s.imageId ? await this.engine.images.rootfsPath(s.imageId) : undefined;
    const chown = flags.get("chown");
    const { uid, gid } = resolveChown(chown ? processWord(chown, vars, this.escape) : undefined, destRoot);
    const chmodRaw = flags.get("chmod");
    let chmod: number | undefined;
    if (chmodRaw !== undefined) {
      if (!/^[0-7]{3,4}$/.test(chmodRaw)) throw new StepError(`invalid chmod parameter: ${chmodRaw}`);
      chmod = parseInt(chmodRaw, 8);
    }
    const plan = planCopy({
      keyword,
      sources: words.slice(0, -1),
      dest,
      srcRoot,
      destRoot,
      uid,
      gid,
      chmod,
      fromContext,
    });
    const createdBy = `/bin/sh -c #(nop) ${keyword} ${plan.description} `;
    const key = this.b.cache.key(s.imageId, createdBy, s.config);
    const hit = this.cacheHit(key);
    if (hit) return this.useImage(s, hit, true);
    const stepDir = await fsp.mkdtemp(path.join(this.work, "copy-"));
    try {
      const tarPath = path.join(stepDir, "layer.tar");
      await plan.writeLayer(tarPath, stepDir);
      const img = await this.engine.images.createImage({
        parent: s.imageId,
        layers: [{ tarPath }],
        config: s.config,
        history: [{ created: new Date().toISOString(), created_by: createdBy }],
      });
      await this.b.cache.record(key, img.id, s.imageId, inst.original);
      return this.useImage(s, img.id, false);
    } finally {
      await fsp.rm(stepDir, { recursive: true, force: true });
    }
  }
}

export { StepError };
