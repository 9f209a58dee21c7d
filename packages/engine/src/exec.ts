import { conflict, noSuchExec, badRequest } from "@sockerless/api";
import type { ContainerManager } from "./containers.js";
import { replaceOrAppendEnv } from "./create-config.js";
import type { Backend, RunningProcess } from "./types.js";
import { newId } from "./util.js";

export interface ExecCreate {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  Cmd?: string[];
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Privileged?: boolean;
  DetachKeys?: string;
}

interface ExecRecord {
  ID: string;
  ContainerID: string;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  OpenStdin: boolean;
  OpenStdout: boolean;
  OpenStderr: boolean;
  Tty: boolean;
  Cmd: string[];
  Env: string[];
  WorkingDir: string;
  User: string;
  Privileged: boolean;
  started: boolean;
  proc?: RunningProcess;
}

let nextExecPid = 50_000;

/** Exec instances: create, start (the caller wires the stream), inspect, resize. */
export class ExecManager {
  private readonly execs = new Map<string, ExecRecord>();

  constructor(
    private readonly containers: ContainerManager,
    private readonly backend: Backend,
  ) {}

  create(ref: string, req: ExecCreate): { Id: string } {
    const c = this.containers.get(ref);
    if (!Array.isArray(req.Cmd) || req.Cmd.length === 0) throw badRequest("No exec command specified");
    if (req.Cmd.some((a) => typeof a !== "string"))
      throw badRequest("json: cannot unmarshal number into Go struct field ExecConfig.Cmd of type string");
    if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
    if (c.State.Paused) throw conflict(`Container ${c.Id} is paused, unpause the container before exec`);
    if (c.State.Restarting)
      throw conflict(`Container ${c.Id} is restarting, wait until the container is running`);
    const id = newId();
    this.execs.set(id, {
      ID: id,
      ContainerID: c.Id,
      Running: false,
      ExitCode: null,
      Pid: 0,
      OpenStdin: !!req.AttachStdin,
      OpenStdout: !!req.AttachStdout,
      OpenStderr: !!req.AttachStderr,
      Tty: !!req.Tty,
      Cmd: req.Cmd,
      Env: req.Env ?? [],
      WorkingDir: req.WorkingDir ?? "",
      User: req.User ?? "",
      Privileged: !!req.Privileged,
      started: false,
    });
    this.containers.emit(c, `exec_create: ${req.Cmd.join(" ")}`, { execID: id });
    return { Id: id };
  }

  private get(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw noSuchExec(id);
    return e;
  }

  /**
   * Start the exec. The returned process is live; `finished` resolves after the exit code is
   * recorded, so a client that inspects right after the stream closes sees it.
   */
  async start(
    id: string,
    opts: { Tty?: boolean },
  ): Promise<{ proc: RunningProcess; tty: boolean; finished: Promise<number> }> {
    const e = this.get(id);
    if (e.started) throw conflict(`Error: Exec command ${id} has already run`);
    const c = this.containers.get(e.ContainerID);
    if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
    e.started = true;
    const tty = opts.Tty ?? e.Tty;
    const proc = await this.backend.exec(this.containers.runSpec(c), {
      Cmd: e.Cmd,
      Env: replaceOrAppendEnv(c.Config.Env ?? [], e.Env),
      WorkingDir: e.WorkingDir || c.Config.WorkingDir || "/",
      User: e.User || c.Config.User || "",
      Tty: tty,
      OpenStdin: e.OpenStdin,
    });
    e.proc = proc;
    e.Running = true;
    e.Pid = nextExecPid++;
    this.containers.emit(c, `exec_start: ${e.Cmd.join(" ")}`, { execID: id });
    const finished = proc.exited.then((code) => {
      e.ExitCode = code;
      e.Running = false;
      e.proc = undefined;
      if (this.containers.find(c.Id))
        this.containers.emit(c, "exec_die", { execID: id, exitCode: String(code) });
      return code;
    });
    return { proc, tty, finished };
  }

  resize(id: string, h: number, w: number): void {
    const e = this.get(id);
    e.proc?.resize(h, w);
  }

  inspect(id: string) {
    const e = this.get(id);
    return {
      CanRemove: false,
      ContainerID: e.ContainerID,
      DetachKeys: "",
      ExitCode: e.ExitCode,
      ID: e.ID,
      OpenStderr: e.OpenStderr,
      OpenStdin: e.OpenStdin,
      OpenStdout: e.OpenStdout,
      ProcessConfig: {
        arguments: e.Cmd.slice(1),
        entrypoint: e.Cmd[0],
        privileged: e.Privileged,
        tty: e.Tty,
        ...(e.User ? { user: e.User } : {}), // omitted when empty, as dockerd does
      },
      Running: e.Running,
      Pid: e.Pid,
    };
  }

  /** Run a command to completion and collect its output (health checks). */
  async run(
    containerId: string,
    cmd: string[],
    timeoutMs: number,
  ): Promise<{ code: number; output: string }> {
    const c = this.containers.get(containerId);
    const proc = await this.backend.exec(this.containers.runSpec(c), {
      Cmd: cmd,
      Env: c.Config.Env ?? [],
      WorkingDir: c.Config.WorkingDir || "/",
      User: c.Config.User || "",
      Tty: false,
      OpenStdin: false,
    });
    const chunks: Buffer[] = [];
    proc.onOutput((_s, d) => chunks.push(d));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<number>((r) => {
      timer = setTimeout(() => {
        proc.signal("SIGKILL");
        r(-1);
      }, timeoutMs);
    });
    const code = await Promise.race([proc.exited, timedOut]);
    clearTimeout(timer);
    const output = Buffer.concat(chunks).toString("utf8");
    if (code === -1) return { code: -1, output: `Health check exceeded timeout (${timeoutMs / 1000}s)` };
    return { code, output };
  }
}
