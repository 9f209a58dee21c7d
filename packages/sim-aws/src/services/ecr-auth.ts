import { createHmac, timingSafeEqual } from "node:crypto";

/** ECR tokens are valid for 12 hours. */
export const TOKEN_TTL_MS = 12 * 60 * 60 * 1000;

/**
 * Registry passwords as GetAuthorizationToken issues them: "<expiry>.<HMAC>" under a secret
 * kept in the ECR state, so tokens survive restarts and need no token table.
 */
export class EcrAuth {
  constructor(private readonly secret: () => string) {}

  issue(now = Date.now()): { password: string; expiresAt: Date } {
    const exp = now + TOKEN_TTL_MS;
    const payload = Buffer.from(String(exp)).toString("base64url");
    return { password: `${payload}.${this.sign(payload)}`, expiresAt: new Date(exp) };
  }

  /** Does an Authorization header carry Basic AWS:<a valid, unexpired token>? */
  verify(authorization: string | undefined, now = Date.now()): boolean {
    const m = /^Basic\s+(\S+)$/i.exec(authorization ?? "");
    if (!m) return false;
    const decoded = Buffer.from(m[1], "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0 || decoded.slice(0, colon) !== "AWS") return false;
    const [payload, sig] = decoded.slice(colon + 1).split(".");
    if (!payload || !sig) return false;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return false;
    return Number(Buffer.from(payload, "base64url").toString("utf8")) > now;
  }

  private sign(payload: string): string {
    return createHmac("sha256", this.secret()).update(payload).digest("base64url");
  }
}
