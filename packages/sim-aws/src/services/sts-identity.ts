import { randomBytes, randomInt } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { AwsError } from "../errors.js";
import type { Simulator } from "../sim.js";
import type { Persistent } from "../store.js";
import { iamState } from "./iam-store.js";

/** Temporary credentials STS handed out, so later calls signed with them know who is calling. */
export interface Session {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** ms since epoch */
  expiration: number;
  /** who the credentials act as */
  arn: string;
  userId: string;
}

interface StsState {
  sessions: Record<string, Session>;
}

const states = new WeakMap<Simulator, Persistent<StsState>>();

export function stsState(sim: Simulator): Persistent<StsState> {
  let s = states.get(sim);
  if (!s) {
    s = sim.state<StsState>("sts", { sessions: {} });
    states.set(sim, s);
  }
  return s;
}

export interface Identity {
  UserId: string;
  Account: string;
  Arn: string;
  kind: "root" | "user" | "session";
}

const KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/** Access key ids: AKIA (long-term) or ASIA (temporary) and 16 characters. */
export function accessKeyId(prefix: "AKIA" | "ASIA"): string {
  let s = prefix;
  for (let i = 0; i < 16; i++) s += KEY_CHARS[randomInt(KEY_CHARS.length)];
  return s;
}
export const secretKey = () => randomBytes(30).toString("base64").replace(/[+/]/g, "A");

export function accessKeyOf(req: IncomingMessage): string | undefined {
  return /Credential=([^/,\s]+)\//.exec(String(req.headers.authorization ?? ""))?.[1];
}

/**
 * Who signed the request: temporary credentials from AssumeRole/GetSessionToken, an IAM user's
 * access key, or else the account root (the simulator accepts any other key, like "test").
 */
export function callerIdentity(sim: Simulator, req: IncomingMessage): Identity {
  const account = sim.opts.account;
  const key = accessKeyOf(req);
  const session = key ? stsState(sim).data.sessions[key] : undefined;
  if (session) {
    if (session.expiration < Date.now())
      throw new AwsError("ExpiredToken", "The security token included in the request is expired", 403);
    return { UserId: session.userId, Account: account, Arn: session.arn, kind: "session" };
  }
  const user = key
    ? Object.values(iamState(sim).data.users).find((u) => (u.keys ?? []).some((k) => k.id === key))
    : undefined;
  if (user) return { UserId: user.id, Account: account, Arn: user.arn, kind: "user" };
  return { UserId: account, Account: account, Arn: `arn:aws:iam::${account}:root`, kind: "root" };
}

/** Record new temporary credentials, dropping expired ones so the state stays small. */
export function issueSession(sim: Simulator, durationSeconds: number, arn: string, userId: string): Session {
  const st = stsState(sim);
  const now = Date.now();
  for (const [k, s] of Object.entries(st.data.sessions)) if (s.expiration < now) delete st.data.sessions[k];
  const session: Session = {
    accessKeyId: accessKeyId("ASIA"),
    secretAccessKey: secretKey(),
    sessionToken: randomBytes(96).toString("base64"),
    expiration: now + durationSeconds * 1000,
    arn,
    userId,
  };
  st.data.sessions[session.accessKeyId] = session;
  st.changed();
  return session;
}

/** Credentials as STS returns them (Expiration without milliseconds). */
export const credentialsXml = (s: Session) => ({
  AccessKeyId: s.accessKeyId,
  SecretAccessKey: s.secretAccessKey,
  SessionToken: s.sessionToken,
  Expiration: new Date(s.expiration).toISOString().replace(/\.\d{3}Z$/, "Z"),
});
