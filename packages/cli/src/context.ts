import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { CERT_FILES } from "./certs.js";

export interface ContextOptions {
  name: string;
  /** the daemon's address: tcp://host:port or unix:///path */
  host: string;
  /** directory with the client's ca.pem, cert.pem and key.pem (as written by `sockerless certs create`) */
  tlsDir?: string;
  description?: string;
}

/**
 * Create a docker CLI context for a Sockerless daemon. The docker CLI writes it itself (`docker
 * context create`), so its store format, TLS file handling and DOCKER_CONFIG are exactly the CLI's.
 */
export async function createContext(opts: ContextOptions): Promise<string> {
  if (!/^(tcp|unix):\/\/./.test(opts.host)) {
    throw new Error(`invalid --host ${opts.host}: use tcp://host:port or unix:///path`);
  }
  // the docker CLI's --docker value is comma-separated key=value pairs
  if (/[,=]/.test(opts.host)) throw new Error(`--host must not contain "," or "=": ${opts.host}`);
  const endpoint = [`host=${opts.host}`];
  if (opts.tlsDir) {
    const dir = path.resolve(opts.tlsDir);
    const tlsFiles = { ca: CERT_FILES.caCert, cert: CERT_FILES.clientCert, key: CERT_FILES.clientKey };
    for (const [key, file] of Object.entries(tlsFiles)) {
      const full = path.join(dir, file);
      try {
        await fs.access(full);
      } catch {
        throw new Error(
          `--tls-dir ${dir} has no ${file} (\`sockerless certs create --out ${dir}\` makes it)`,
        );
      }
      if (/[,=]/.test(full)) throw new Error(`the path ${full} must not contain "," or "="`);
      endpoint.push(`${key}=${full}`);
    }
  }
  const args = ["context", "create", opts.name, "--docker", endpoint.join(",")];
  if (opts.description) args.push("--description", opts.description);
  try {
    const { stdout } = await promisify(execFile)("docker", args, { env: process.env });
    return stdout.trim();
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === "ENOENT")
      throw new Error("the docker CLI is not installed (`docker` is not on PATH)", { cause: e });
    throw new Error(`docker context create failed: ${(err.stderr ?? err.message).trim()}`, { cause: e });
  }
}
