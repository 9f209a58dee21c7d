import { createHmac, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * Agent tokens derived from one daemon secret and the container id: nothing per container has to
 * be stored, and a restarted daemon (or a second one given the same secret) accepts the agents
 * of the containers it finds in the cloud.
 */
export class AgentTokens {
  constructor(private readonly secret: string) {}

  /** The secret from --agent-secret / SOCKERLESS_AGENT_SECRET, else one kept in the data root. */
  static fromSettings(secret: string | undefined, dataRoot: string): AgentTokens {
    if (secret) return new AgentTokens(secret);
    const file = path.join(dataRoot, "agent-secret");
    if (!existsSync(file)) {
      mkdirSync(dataRoot, { recursive: true });
      writeFileSync(file, randomBytes(32).toString("hex"), { mode: 0o600, flag: "wx" });
    }
    chmodSync(file, 0o600);
    return new AgentTokens(readFileSync(file, "utf8").trim());
  }

  token(containerId: string): string {
    return createHmac("sha256", this.secret).update(containerId).digest("base64url");
  }
}
