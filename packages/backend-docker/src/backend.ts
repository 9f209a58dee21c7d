import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { IncomingMessage } from "node:http";
import type { Duplex, Readable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { Demuxer, DockerError, log } from "@sockerless/api";
import type {
  Backend,
  ContainerRecord,
  ContainerStats,
  EndpointSettings,
  ExecSpec,
  HostConfig,
  Network,
  NetworkHooks,
  Observed,
  PathStat,
  PortMap,
  RecoveredContainer,
  RunningProcess,
  RunSpec,
  Volume,
  VolumeHooks,
} from "@sockerless/engine";
import { EngineClient, isEngineAnswer, type EngineAddress } from "./client.js";
import { createBody, endpointConfig, LABEL_DAEMON, LABEL_ID } from "./create-body.js";
import { EngineImages } from "./images.js";
import { HijackedProcess } from "./process.js";

export interface DockerBackendOptions extends EngineAddress {
  dataRoot: string;
}

/** The engine network our "bridge" maps to when the engine has no default bridge (--bridge=none). */
export const DEFAULT_NETWORK = "sockerless-bridge";
const RECONNECT_MS = 500;

interface EngineContainer {
  Id: string;
  State: {
    Pid: number;
    Status: string;
    Running: boolean;
    Paused: boolean;
    ExitCode: number;
    OOMKilled: boolean;
    StartedAt: string;
    FinishedAt: string;
  };
  NetworkSettings: { Networks: Record<string, EndpointSettings> | null; Ports?: PortMap | null };
  SizeRw?: number;
}

/**
 * The docker backend: every container is a real container on a Docker Engine (local or remote),
 * created with labels that name its Sockerless id and daemon instance. The engine's networks,
 * volumes and images are used for ours. Engine containers are addressed by name
 * (`sockerless-<id>`), so no id map has to survive a restart.
 */
export class DockerBackend implements Backend {
  readonly name = "docker";
  readonly capabilities = {
    exec: true,
    attach: true,
    archive: true,
    pause: true,
    hostBinds: true,
    tty: true,
    platformBinds: true,
    ports: true,
  };
  readonly client: EngineClient;
  readonly images: EngineImages;
  readonly networks: NetworkHooks;
  readonly volumes: VolumeHooks;
  private instance = "";
  /** containers known to exist on the engine (created or recovered) */
  private readonly created = new Set<string>();
  /** the main process of each running container, for pause and reconnects */
  private readonly mains = new Map<string, HijackedProcess>();
  private defaultNetwork: Promise<string> | undefined;

  constructor(private readonly opts: DockerBackendOptions) {
    this.client = new EngineClient(opts);
    this.images = new EngineImages(this.client, ref);
    this.networks = {
      create: (n) => this.createNetwork(n),
      remove: (n) => this.ignore404(this.client.json("DELETE", `/networks/${enc(n.Name)}`)),
      connect: (id, n, ep) =>
        this.client
          .json("POST", `/networks/${enc(this.engineNetwork(n.Name))}/connect`, {
            body: { Container: ref(id), EndpointConfig: endpointConfig(ep) },
          })
          .then(() => undefined),
      disconnect: (id, n, force) =>
        this.client
          .json("POST", `/networks/${enc(this.engineNetwork(n.Name))}/disconnect`, {
            body: { Container: ref(id), Force: force },
          })
          .then(() => undefined),
    };
    this.volumes = {
      create: (v) => this.createVolume(v),
      remove: (v) => this.ignore404(this.client.json("DELETE", `/volumes/${enc(v.Name)}`)),
    };
  }

  private labels(id: string): Record<string, string> {
    return { [LABEL_ID]: id, [LABEL_DAEMON]: this.instance };
  }

  async init(): Promise<void> {
    // One instance id per data root: two daemons sharing an engine never see each other's objects.
    const file = path.join(this.opts.dataRoot, "docker-backend.json");
    try {
      this.instance = (JSON.parse(await fs.readFile(file, "utf8")) as { instance: string }).instance;
    } catch {
      this.instance = randomBytes(8).toString("hex");
      await fs.mkdir(this.opts.dataRoot, { recursive: true });
      await fs.writeFile(file, JSON.stringify({ instance: this.instance }));
    }
    try {
      await this.client.ping();
      await this.ensureDefaultNetwork(); // so recovered containers' networks map back to "bridge"
    } catch (e) {
      log.warn(
        { err: (e as Error).message },
        "the Docker Engine is not answering yet; requests fail until it does",
      );
    }
  }

  // ---------------------------------------------------------------- networks and volumes

  private engineNetwork(name: string): string {
    return name === "bridge" ? this.bridgeName : name;
  }

  private bridgeName = "bridge";

  /** Our "bridge": the engine's own when it has one, else a labelled bridge network we create. */
  private ensureDefaultNetwork(): Promise<string> {
    this.defaultNetwork ??= (async () => {
      const nets = await this.client.json<{ Name: string }[]>("GET", "/networks", {
        query: { filters: JSON.stringify({ name: ["bridge", DEFAULT_NETWORK] }) },
      });
      if (nets.some((n) => n.Name === "bridge")) return "bridge";
      if (!nets.some((n) => n.Name === DEFAULT_NETWORK)) {
        await this.client
          .json("POST", "/networks/create", {
            body: {
              Name: DEFAULT_NETWORK,
              Driver: "bridge",
              CheckDuplicate: true,
              Labels: { [LABEL_DAEMON]: "shared" },
            },
          })
          .catch((e) => {
            if (!(e instanceof DockerError && e.status === 409)) throw e; // a second daemon won the race
          });
      }
      return DEFAULT_NETWORK;
    })().then(
      (name) => (this.bridgeName = name),
      (e) => {
        this.defaultNetwork = undefined; // try again next time
        throw e;
      },
    );
    return this.defaultNetwork;
  }

  private async createNetwork(n: Network): Promise<void> {
    const user = n.IPAM.Config.length ? n.IPAM.Config : undefined;
    const res = await this.client.json<{ Id: string }>("POST", "/networks/create", {
      body: {
        Name: n.Name,
        Driver: n.Driver,
        CheckDuplicate: true,
        Internal: n.Internal,
        Attachable: n.Attachable,
        EnableIPv6: n.EnableIPv6,
        Options: n.Options,
        Labels: { ...n.Labels, ...this.labels(n.Id) },
        IPAM: { Driver: n.IPAM.Driver, Config: user ?? [], Options: n.IPAM.Options ?? {} },
      },
    });
    // the engine picked the subnet: ours shows what it really is
    const real = await this.client.json<{ IPAM: { Config: Network["IPAM"]["Config"] | null } }>(
      "GET",
      `/networks/${res.Id}`,
    );
    n.IPAM.Config = (real.IPAM.Config ?? []).map((c) => ({ ...c }));
  }

  private async createVolume(v: Volume): Promise<{ mountpoint: string }> {
    const res = await this.client.json<{ Mountpoint: string }>("POST", "/volumes/create", {
      body: {
        Name: v.Name,
        Driver: v.Driver,
        DriverOpts: v.Options,
        Labels: { ...v.Labels, ...this.labels(v.Name) },
      },
    });
    return { mountpoint: res.Mountpoint };
  }

  private async ignore404(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (e) {
      if (!(e instanceof DockerError && e.status === 404)) throw e;
    }
  }

  // ---------------------------------------------------------------- containers

  async prepare(spec: RunSpec): Promise<void> {
    if (this.created.has(spec.id)) return;
    const c = spec.container;
    if (Object.keys(c.Networks).includes("bridge")) await this.ensureDefaultNetwork();
    const { body, extraNetworks } = createBody(
      c,
      this.labels(spec.id),
      (n) => this.engineNetwork(n),
      spec.networkContainerId && ref(spec.networkContainerId),
    );
    try {
      await this.client.json("POST", "/containers/create", { query: { name: ref(spec.id) }, body });
    } catch (e) {
      // created before a crash of ours, or by an earlier prepare that lost its answer
      if (!(e instanceof DockerError && e.status === 409 && e.message.includes(ref(spec.id)))) throw e;
    }
    for (const net of extraNetworks) {
      await this.networks.connect(spec.id, { Name: net } as Network, c.Networks[net]);
    }
    this.known(spec);
  }

  /** Remember a container as existing on the engine. */
  private known(spec: RunSpec) {
    this.created.add(spec.id);
  }

  async start(spec: RunSpec): Promise<RunningProcess> {
    await this.prepare(spec);
    const id = spec.id;
    const proc = new HijackedProcess(spec.tty, {
      signal: (sig) => this.kill(id, sig),
      resize: (h, w) =>
        this.quiet(this.client.json("POST", `/containers/${ref(id)}/resize`, { query: { h, w } })),
    });
    // Attach and wait before start (as the docker CLI does), so no output and no exit is missed.
    const [stream, wait] = await this.attachAndWait(spec);
    proc.bind(stream);
    try {
      await this.client.json("POST", `/containers/${ref(id)}/start`);
    } catch (e) {
      stream.destroy();
      wait.destroy();
      throw this.named(e, id);
    }
    this.mains.set(id, proc);
    void this.follow(id, proc, wait);
    return proc;
  }

  /** Attach and wait; a container removed on the engine behind our back is created again first. */
  private async attachAndWait(spec: RunSpec, retried = false): Promise<[Duplex, IncomingMessage]> {
    const [a, w] = await Promise.allSettled([
      this.attach(spec.id, spec.openStdin),
      this.waitRequest(spec.id),
    ]);
    if (a.status === "fulfilled" && w.status === "fulfilled") return [a.value, w.value];
    if (a.status === "fulfilled") a.value.destroy();
    if (w.status === "fulfilled") w.value.destroy();
    const e = (a.status === "rejected" ? a.reason : (w as PromiseRejectedResult).reason) as unknown;
    if (retried || !(isEngineAnswer(e) && e.status === 404)) throw this.named(e, spec.id);
    this.created.delete(spec.id);
    await this.prepare(spec);
    return this.attachAndWait(spec, true);
  }

  private attach(id: string, stdin: boolean) {
    return this.client.hijack(`/containers/${ref(id)}/attach`, {
      query: { stream: 1, stdout: 1, stderr: 1, stdin: stdin ? 1 : 0 },
    });
  }

  /** POST wait?condition=next-exit; dockerd answers its headers once the waiter is registered. */
  private waitRequest(id: string) {
    return this.client.stream("POST", `/containers/${ref(id)}/wait`, { query: { condition: "next-exit" } });
  }

  /**
   * Settle the main process with the engine's exit code. When the engine goes away meanwhile, keep
   * asking until it is back: then the container is either still running (re-attach, wait again)
   * or has exited with the code the engine recorded.
   */
  private async follow(id: string, proc: HijackedProcess, wait: Readable | undefined): Promise<void> {
    for (;;) {
      try {
        wait ??= await this.waitRequest(id);
        const body = JSON.parse((await readAll(wait)).toString("utf8") || "{}") as { StatusCode?: number };
        if (typeof body.StatusCode !== "number") throw new Error("wait ended without an exit code");
        await Promise.race([proc.drained(), delay(2000)]);
        this.mains.delete(id);
        proc.settle(body.StatusCode);
        return;
      } catch (e) {
        wait = undefined;
        if (isEngineAnswer(e) && e.status === 404) {
          // removed on the engine behind our back: no exit code to report
          this.mains.delete(id);
          this.created.delete(id);
          proc.settle(255);
          return;
        }
        log.warn(
          { id, err: (e as Error).message },
          "lost the Docker Engine while a container ran; reconnecting",
        );
      }
      proc.unbind();
      const state = await this.inspectWhenBack(id);
      if (!state) {
        this.mains.delete(id);
        this.created.delete(id);
        proc.settle(255);
        return;
      }
      if (!state.State.Running) {
        this.mains.delete(id);
        proc.settle(state.State.ExitCode);
        return;
      }
      try {
        const [stream, w] = await Promise.all([this.attach(id, false), this.waitRequest(id)]);
        proc.bind(stream);
        wait = w;
      } catch {
        // went away again: loop
      }
    }
  }

  /** Inspect, retrying while the engine cannot be reached; undefined when the container is gone. */
  private async inspectWhenBack(id: string): Promise<EngineContainer | undefined> {
    for (;;) {
      try {
        return await this.client.json<EngineContainer>("GET", `/containers/${ref(id)}/json`);
      } catch (e) {
        if (isEngineAnswer(e) && e.status === 404) return undefined;
        if (isEngineAnswer(e)) throw e;
      }
      await delay(RECONNECT_MS);
    }
  }

  private kill(id: string, sig: string) {
    this.quiet(this.client.json("POST", `/containers/${ref(id)}/kill`, { query: { signal: sig } }));
  }

  private quiet(p: Promise<unknown>) {
    p.catch((e) => log.warn({ err: (e as Error).message }, "Docker Engine request failed"));
  }

  async exec(spec: RunSpec, exec: ExecSpec): Promise<RunningProcess> {
    const created = await this.client
      .json<{ Id: string }>("POST", `/containers/${ref(spec.id)}/exec`, {
        body: {
          Cmd: exec.Cmd,
          Env: exec.Env,
          WorkingDir: exec.WorkingDir,
          User: exec.User,
          Tty: exec.Tty,
          AttachStdin: exec.OpenStdin,
          AttachStdout: true,
          AttachStderr: true,
        },
      })
      .catch((e) => {
        throw this.named(e, spec.id);
      });
    const execId = created.Id;
    const proc = new HijackedProcess(exec.Tty, {
      signal: (sig) =>
        // The Docker API cannot signal an exec; what the engine can do is let go of it.
        log.warn({ id: spec.id, execId, sig }, "the Docker Engine API cannot signal an exec process"),
      resize: (h, w) => this.quiet(this.client.json("POST", `/exec/${execId}/resize`, { query: { h, w } })),
    });
    const stream = await this.client.hijack(`/exec/${execId}/start`, {
      body: { Detach: false, Tty: exec.Tty },
    });
    proc.bind(stream);
    void proc.drained().then(async () => {
      const info = await this.client
        .json<{ ExitCode: number | null; Running: boolean }>("GET", `/exec/${execId}/json`)
        .catch(() => undefined);
      proc.settle(info?.ExitCode ?? (info?.Running ? 137 : 255));
    });
    return proc;
  }

  async remove(id: string): Promise<void> {
    this.mains.delete(id);
    await this.ignore404(this.client.json("DELETE", `/containers/${ref(id)}`, { query: { force: 1 } }));
    this.created.delete(id);
  }

  // ---------------------------------------------------------------- files

  async statPath(spec: RunSpec, p: string): Promise<PathStat> {
    const res = await this.client
      .stream("HEAD", `/containers/${ref(spec.id)}/archive`, { query: { path: p } })
      .catch((e) => {
        throw this.named(e, spec.id);
      });
    res.resume();
    return decodeStat(res.headers["x-docker-container-path-stat"]);
  }

  async getArchive(spec: RunSpec, p: string): Promise<{ stat: PathStat; tar: Readable }> {
    const res = await this.client
      .stream("GET", `/containers/${ref(spec.id)}/archive`, { query: { path: p } })
      .catch((e) => {
        throw this.named(e, spec.id);
      });
    return { stat: decodeStat(res.headers["x-docker-container-path-stat"]), tar: res };
  }

  async putArchive(spec: RunSpec, p: string, tar: Readable, opts: { noOverwriteDirNonDir: boolean }) {
    await this.prepare(spec);
    await this.client
      .json("PUT", `/containers/${ref(spec.id)}/archive`, {
        query: { path: p, noOverwriteDirNonDir: opts.noOverwriteDirNonDir ? 1 : undefined },
        file: tar,
        headers: { "Content-Type": "application/x-tar" },
      })
      .catch((e) => {
        throw this.named(e, spec.id);
      });
  }

  async exportFs(spec: RunSpec): Promise<Readable> {
    return this.client.stream("GET", `/containers/${ref(spec.id)}/export`);
  }

  async changes(spec: RunSpec) {
    const res = await this.client.json<{ Path: string; Kind: 0 | 1 | 2 }[] | null>(
      "GET",
      `/containers/${ref(spec.id)}/changes`,
    );
    return res ?? [];
  }

  async sizeRw(spec: RunSpec): Promise<number> {
    const c = await this.client.json<EngineContainer>("GET", `/containers/${ref(spec.id)}/json`, {
      query: { size: 1 },
    });
    return c.SizeRw ?? 0;
  }

  // ---------------------------------------------------------------- observation and control

  async stats(id: string): Promise<ContainerStats> {
    const s = await this.client.json<{
      cpu_stats?: { cpu_usage?: { total_usage?: number } };
      memory_stats?: { usage?: number };
      pids_stats?: { current?: number };
    }>("GET", `/containers/${ref(id)}/stats`, { query: { stream: 0, "one-shot": 1 } });
    return {
      cpuNanos: s.cpu_stats?.cpu_usage?.total_usage ?? 0,
      memoryBytes: s.memory_stats?.usage ?? 0,
      pids: s.pids_stats?.current ?? 0,
    };
  }

  top(id: string, psArgs: string | undefined) {
    return this.client
      .json<{ Titles: string[]; Processes: string[][] }>("GET", `/containers/${ref(id)}/top`, {
        query: { ps_args: psArgs },
      })
      .catch((e) => {
        throw this.named(e, id);
      });
  }

  async update(id: string, resources: Omit<HostConfig, "RestartPolicy">): Promise<void> {
    await this.client.json("POST", `/containers/${ref(id)}/update`, { body: resources }).catch((e) => {
      throw this.named(e, id);
    });
  }

  async pause(id: string): Promise<void> {
    await this.client.json("POST", `/containers/${ref(id)}/pause`).catch((e) => {
      throw this.named(e, id);
    });
  }

  async unpause(id: string): Promise<void> {
    await this.client.json("POST", `/containers/${ref(id)}/unpause`).catch((e) => {
      throw this.named(e, id);
    });
  }

  /**
   * A rename changes the name the container answers to on its user networks; the engine cannot
   * change an endpoint's aliases, so each such endpoint is made again with the new ones. A running
   * container asks for the address it has, which the engine grants on a network with a subnet the
   * user chose.
   */
  async recordChanged(rec: ContainerRecord): Promise<void> {
    for (const [name, ep] of Object.entries(rec.Networks)) {
      if (!ep.DNSNames) continue; // the default bridge, host and none have no DNS of names
      const network = { Name: name } as Network;
      await this.networks.disconnect(rec.Id, network, true);
      const pinned = rec.State.Running && ep.IPAddress && !ep.IPAMConfig?.IPv4Address;
      try {
        await this.networks.connect(
          rec.Id,
          network,
          pinned ? { ...ep, IPAMConfig: { ...ep.IPAMConfig, IPv4Address: ep.IPAddress } } : ep,
        );
      } catch (e) {
        if (!(pinned && e instanceof DockerError && /user specified IP address/i.test(e.message))) throw e;
        await this.networks.connect(rec.Id, network, ep);
      }
    }
    if (rec.State.Running) {
      // the address may be new: ours shows the engine's
      const seen = await this.observe(rec.Id);
      for (const [name, o] of Object.entries(seen.endpoints)) Object.assign(rec.Networks[name] ?? {}, o);
    }
  }

  /** The engine's own components (and its generic resources): a real containerd, runc and init run ours. */
  async info(): Promise<Record<string, unknown>> {
    const i = await this.client.json<Record<string, unknown>>("GET", "/info");
    const fields = ["ContainerdCommit", "RuncCommit", "InitCommit", "InitBinary", "GenericResources"];
    return Object.fromEntries(fields.filter((f) => f in i).map((f) => [f, i[f]]));
  }

  async observe(id: string): Promise<Observed> {
    const c = await this.client.json<EngineContainer>("GET", `/containers/${ref(id)}/json`);
    const endpoints: Observed["endpoints"] = {};
    for (const [name, ep] of Object.entries(c.NetworkSettings.Networks ?? {})) {
      endpoints[name === this.bridgeName ? "bridge" : name] = {
        IPAddress: ep.IPAddress,
        IPPrefixLen: ep.IPPrefixLen,
        Gateway: ep.Gateway,
        MacAddress: ep.MacAddress,
        IPv6Gateway: ep.IPv6Gateway,
        GlobalIPv6Address: ep.GlobalIPv6Address,
        GlobalIPv6PrefixLen: ep.GlobalIPv6PrefixLen,
      };
    }
    return { pid: c.State.Pid || undefined, endpoints, ports: c.NetworkSettings.Ports ?? {} };
  }

  /**
   * After a restart of ours: find our containers on the engine by label and report their real
   * state; running ones are re-attached. While the engine is unreachable, a container we last
   * saw running is followed until the engine is back.
   */
  async recover(specs: RunSpec[]): Promise<Map<string, RecoveredContainer>> {
    const out = new Map<string, RecoveredContainer>();
    if (!this.instance) await this.init();
    let onEngine: Set<string>;
    try {
      const list = await this.client.json<{ Labels: Record<string, string> }[]>("GET", "/containers/json", {
        query: { all: 1, filters: JSON.stringify({ label: [`${LABEL_DAEMON}=${this.instance}`] }) },
      });
      onEngine = new Set(list.map((c) => c.Labels[LABEL_ID]));
    } catch (e) {
      log.warn(
        { err: (e as Error).message },
        "cannot reach the Docker Engine to recover containers; following them until it is back",
      );
      for (const s of specs) {
        this.known(s);
        const st = s.container.State;
        if (st.Running) out.set(s.id, this.following(s, st.StartedAt, st.Paused));
        else if (st.Status === "exited")
          out.set(s.id, {
            state: "exited",
            exitCode: st.ExitCode,
            finishedAt: st.FinishedAt,
            oomKilled: st.OOMKilled,
          });
        else out.set(s.id, { state: "created" });
      }
      return out;
    }
    await Promise.all(
      specs
        .filter((s) => onEngine.has(s.id))
        .map(async (s) => {
          this.known(s);
          const c = await this.client.json<EngineContainer>("GET", `/containers/${ref(s.id)}/json`);
          if (c.State.Running) {
            const proc = new HijackedProcess(s.tty, {
              signal: (sig) => this.kill(s.id, sig),
              resize: (h, w) =>
                this.quiet(this.client.json("POST", `/containers/${ref(s.id)}/resize`, { query: { h, w } })),
            });
            const attachedNs = BigInt(Date.now()) * 1_000_000n;
            const [stream, wait] = await Promise.all([
              this.attach(s.id, s.openStdin),
              this.waitRequest(s.id),
            ]);
            proc.bind(stream);
            this.mains.set(s.id, proc);
            void this.follow(s.id, proc, wait);
            out.set(s.id, {
              state: "running",
              proc,
              startedAt: c.State.StartedAt,
              paused: c.State.Paused,
              pid: c.State.Pid,
              missed: (since) => this.missedOutput(s, since, attachedNs),
            });
          } else if (c.State.Status === "created") {
            out.set(s.id, { state: "created" });
          } else {
            out.set(s.id, {
              state: "exited",
              exitCode: c.State.ExitCode,
              finishedAt: c.State.FinishedAt,
              oomKilled: c.State.OOMKilled,
              missed: (since) => this.missedOutput(s, since, undefined),
            });
          }
        }),
    );
    return out;
  }

  /**
   * The engine's logs of a container between two times: what it wrote while we were not attached.
   * Lines come with the engine's timestamps, so only those after `sinceNs` are kept.
   */
  private async missedOutput(
    s: RunSpec,
    sinceNs: bigint,
    untilNs: bigint | undefined,
  ): Promise<{ stream: "stdout" | "stderr"; data: Buffer }[]> {
    const res = await this.client.stream("GET", `/containers/${ref(s.id)}/logs`, {
      query: {
        stdout: 1,
        stderr: 1,
        timestamps: 1,
        since: unixTime(sinceNs),
        until: untilNs === undefined ? undefined : unixTime(untilNs),
      },
    });
    const raw = await readAll(res);
    const pieces: { stream: "stdout" | "stderr"; data: Buffer }[] = [];
    if (s.tty) pieces.push({ stream: "stdout", data: raw });
    else
      for (const f of new Demuxer().push(raw))
        pieces.push({ stream: f.stream === 2 ? "stderr" : "stdout", data: Buffer.from(f.payload) });
    const out: { stream: "stdout" | "stderr"; data: Buffer }[] = [];
    for (const p of pieces) {
      for (const line of splitLines(p.data)) {
        const sp = line.indexOf(32);
        const ts = sp > 0 ? parseRfc3339Ns(line.subarray(0, sp).toString("latin1")) : undefined;
        if (ts === undefined || ts <= sinceNs) continue;
        out.push({ stream: p.stream, data: line.subarray(sp + 1) });
      }
    }
    return out;
  }

  /** A process we cannot attach yet: settled (or re-attached) once the engine answers again. */
  private following(s: RunSpec, startedAt: string, paused: boolean): RecoveredContainer {
    const proc = new HijackedProcess(s.tty, {
      signal: (sig) => this.kill(s.id, sig),
      resize: (h, w) =>
        this.quiet(this.client.json("POST", `/containers/${ref(s.id)}/resize`, { query: { h, w } })),
    });
    this.mains.set(s.id, proc);
    void this.follow(s.id, proc, undefined);
    return { state: "running", proc, startedAt, paused };
  }

  /** The engine's messages name its container id or our engine-side name; ours name our id. */
  private named(e: unknown, id: string): unknown {
    if (!(e instanceof DockerError)) return e;
    const msg = e.message.split(ref(id)).join(id);
    return msg === e.message ? e : new DockerError(e.status, msg);
  }
}

/** The engine-side name of one of our containers. */
export const ref = (id: string) => `sockerless-${id}`;
const enc = encodeURIComponent;

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** "seconds.nanoseconds", as the Docker API's since/until take a precise time. */
function unixTime(ns: bigint): string {
  return `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, "0")}`;
}

/** An RFC 3339 time with up to nanoseconds ("2026-11-27T10:00:00.123456789Z") in ns since the epoch. */
export function parseRfc3339Ns(s: string): bigint | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

/** Lines with their newline kept (the last one may have none). */
function splitLines(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, start)) {
    out.push(b.subarray(start, i + 1));
    start = i + 1;
  }
  if (start < b.length) out.push(b.subarray(start));
  return out;
}

function decodeStat(h: string | string[] | undefined): PathStat {
  const raw = Array.isArray(h) ? h[0] : h;
  if (!raw) throw new DockerError(500, "the Docker Engine sent no X-Docker-Container-Path-Stat header");
  return JSON.parse(Buffer.from(raw, "base64").toString("utf8")) as PathStat;
}
