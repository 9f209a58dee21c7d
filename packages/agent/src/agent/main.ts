/**
 * The agent program: `agent [--listen [HOST:]PORT | --callback URL] --token T [--tty] [--stdin]
 * [--hold] [--log-mark] [--grace SECONDS] [--run RUN] [--user USER] [--add-host NAME:IP]... [--dns-search DOMAIN]...
 * -- ARGV...`. Settings also come from SOCKERLESS_AGENT_* variables (see `settings`); those are
 * removed from the main process's environment.
 */
import { createServer } from "node:http";
import { constants as osConstants } from "node:os";
import { parseArgs } from "node:util";
import { WebSocketServer } from "ws";
import { acceptLink, dialLink, HandshakeRefused, openSocket } from "../handshake.js";
import type { Link } from "../link.js";
import { bearer, tokenMatches } from "../protocol.js";
import { Agent } from "./agent.js";
import { takeLambdaInvocation } from "./lambda-runtime.js";
import { addSearchDomains } from "./resolv.js";

const log = (msg: string) => process.stderr.write(`sockerless-agent: ${msg}\n`);

function settings() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      listen: { type: "string" },
      callback: { type: "string" },
      token: { type: "string" },
      id: { type: "string" },
      tty: { type: "boolean" },
      stdin: { type: "boolean" },
      hold: { type: "boolean" },
      grace: { type: "string" },
      "resume-window": { type: "string" },
      user: { type: "string" },
      "add-host": { type: "string", multiple: true },
      "dns-search": { type: "string", multiple: true },
      run: { type: "string" },
      "log-mark": { type: "boolean" },
    },
  });
  const env = process.env;
  const flag = (v: boolean | undefined, name: string) => v ?? ["1", "true"].includes(env[name] ?? "");
  return {
    listen: values.listen ?? env.SOCKERLESS_AGENT_LISTEN,
    callback: values.callback ?? env.SOCKERLESS_CALLBACK_URL,
    token: values.token ?? env.SOCKERLESS_AGENT_TOKEN ?? "",
    id: values.id ?? env.SOCKERLESS_CONTAINER_ID,
    run: values.run ?? env.SOCKERLESS_AGENT_RUN,
    tty: flag(values.tty, "SOCKERLESS_AGENT_TTY"),
    stdin: flag(values.stdin, "SOCKERLESS_AGENT_STDIN"),
    hold: flag(values.hold, "SOCKERLESS_AGENT_HOLD"),
    logMark: flag(values["log-mark"], "SOCKERLESS_AGENT_LOG_MARK"),
    graceMs: Number(values.grace ?? env.SOCKERLESS_AGENT_GRACE ?? 30) * 1000,
    resumeWindowMs: Number(values["resume-window"] ?? env.SOCKERLESS_AGENT_RESUME_WINDOW ?? 120) * 1000,
    user: values.user,
    hosts: values["add-host"] ?? [],
    dnsSearch: values["dns-search"] ?? (env.SOCKERLESS_AGENT_DNS_SEARCH ?? "").split(/\s+/).filter(Boolean),
    argv: positionals,
  };
}

const AGENT_VARS = /^SOCKERLESS_(AGENT_[A-Z_]+|CALLBACK_URL|CONTAINER_ID)$/;

function fail(msg: string): never {
  log(msg);
  process.exit(125);
}

function parseListen(s: string): { host?: string; port: number } {
  const m = /^(?:(.*):)?(\d+)$/.exec(s);
  if (!m) fail(`bad --listen address ${s}`);
  return { host: m[1] || undefined, port: Number(m[2]) };
}

/** Forward mode: daemons dial in (token in `Authorization: Bearer` or `?token=`). */
function listen(agent: Agent, addr: string, token: string, resumeWindowMs: number): void {
  const links = new Map<string, Link>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" }).end("sockerless agent: WebSocket only\n");
  });
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://agent");
    const given = bearer(req.headers.authorization) ?? url.searchParams.get("token") ?? undefined;
    if (!tokenMatches(given, token)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      acceptLink(ws, links, (link) => {
        agent.serve(link);
        // a link whose daemon does not come back within the window is given up
        let timer: NodeJS.Timeout | undefined;
        link.on("detached", () => {
          timer = setTimeout(() => link.close(new Error("daemon did not resume")), resumeWindowMs);
          timer.unref();
        });
        link.on("attached", () => clearTimeout(timer));
      }).catch((e) => {
        log(`handshake failed: ${(e as Error).message}`);
        ws.terminate();
      });
    });
  });
  const { host, port } = parseListen(addr);
  server.on("error", (e) => fail(`cannot listen on ${addr}: ${e.message}`));
  server.listen(port, host);
  server.unref();
}

/** Reverse mode: dial the daemon's callback URL, and dial again (resuming) after a drop. */
async function dial(
  agent: Agent,
  callback: string,
  token: string,
  id: string | undefined,
  run: string | undefined | Promise<string | undefined>,
): Promise<void> {
  const url = new URL(callback);
  url.protocol = url.protocol.replace(/^http/, "ws");
  if (id && !url.searchParams.has("id")) url.searchParams.set("id", id);
  // which start of the container this workload is: the daemon takes no agent of an earlier one
  const r = await run;
  if (r) url.searchParams.set("run", r);
  let link: Link | undefined;
  let delay = 100;
  for (;;) {
    try {
      const ws = await openSocket(url.toString(), token);
      const r = await dialLink(ws, link, undefined, (l) => agent.serve(l));
      if (link && !r.resumed) link = undefined;
      else {
        link = r.link;
        delay = 100;
        const forGood = await new Promise<boolean>((res) => {
          r.link.once("detached", () => res(false));
          r.link.once("closed", () => res(true));
        });
        // the daemon ended this link (the container was removed or started again): a new dial
        // would pass for the next run's agent
        if (forGood) return;
      }
    } catch (e) {
      if (e instanceof HandshakeRefused && e.status === 409) {
        log(`the daemon runs a newer start of this container: not dialling again`);
        return;
      }
      if (e instanceof HandshakeRefused) log(`${e.message} (callback ${url.origin}${url.pathname})`);
    }
    await new Promise((r) => setTimeout(r, delay).unref());
    delay = Math.min(delay * 2, 5000);
  }
}

function main(): void {
  // the agent is the workload's PID 1: a bug in serving one request must not kill the workload
  process.on("uncaughtException", (e) => log(`internal error: ${e.stack ?? e.message}`));
  process.on("unhandledRejection", (e) => log(`internal error: ${(e as Error)?.stack ?? String(e)}`));
  const s = settings();
  if (s.argv.length === 0) fail("no command to run (expected: agent [options] -- ARGV...)");
  if (!s.token) fail("no token (--token or SOCKERLESS_AGENT_TOKEN)");
  if (!s.listen === !s.callback)
    fail("exactly one of --listen or --callback (SOCKERLESS_AGENT_LISTEN / SOCKERLESS_CALLBACK_URL)");
  // before the main process exists, so its first lookup already searches them
  addSearchDomains(s.dnsSearch, log);
  const env = Object.entries(process.env)
    .filter(([k]) => !AGENT_VARS.test(k))
    .map(([k, v]) => `${k}=${v}`);
  const agent = new Agent({
    argv: s.argv,
    tty: s.tty,
    stdin: s.stdin,
    env,
    graceMs: s.graceMs,
    log,
    user: s.user,
    hosts: s.hosts,
    logMark: s.logMark,
  });
  const lambda = takeLambdaInvocation(log); // in Lambda: the agent is the function's runtime
  if (s.listen) listen(agent, s.listen, s.token, s.resumeWindowMs);
  else
    void dial(
      agent,
      s.callback!,
      s.token,
      s.id,
      s.run ?? lambda?.run, // in Lambda the event names the run
    );
  // as PID 1 the agent receives the platform's signals (docker stop, StopTask): pass them on
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const) {
    process.on(sig, () => {
      if (agent.mainStarted) agent.signalMain(sig);
      else process.exit(128 + osConstants.signals[sig]);
    });
  }
  if (!s.hold) void agent.startMain();
  agent.finished.then(async (code) => {
    await lambda?.report(code, agent.mainError);
    process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
  });
  // keep the event loop alive while the agent waits (servers and timers are unref'd)
  setInterval(() => {}, 1 << 30);
}

main();
