import { promises as fs } from "node:fs";
import type https from "node:https";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";

/** dockerd's TLS flags. */
export interface TlsFlags {
  /** serve TLS (implied by tlsverify) */
  tls?: boolean;
  /** serve TLS and require client certificates signed by tlscacert */
  tlsverify?: boolean;
  tlscacert: string;
  tlscert: string;
  tlskey: string;
}

/** Where dockerd and the docker CLI look for ca.pem, cert.pem and key.pem: $DOCKER_CERT_PATH, else ~/.docker. */
export const defaultCertDir = () => process.env.DOCKER_CERT_PATH || path.join(os.homedir(), ".docker");

async function readPem(flag: string, file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    throw new Error(`cannot read ${flag} ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * The HTTPS options for the TCP listeners. As in dockerd, --tlsverify requires and verifies client
 * certificates against --tlscacert; --tls alone encrypts without authenticating clients.
 */
export async function loadServerTls(flags: TlsFlags): Promise<https.ServerOptions> {
  const opts: https.ServerOptions = {
    cert: await readPem("--tlscert", flags.tlscert),
    key: await readPem("--tlskey", flags.tlskey),
    minVersion: "TLSv1.2", // dockerd's minimum
  };
  if (flags.tlsverify) {
    Object.assign(opts, {
      ca: await readPem("--tlscacert", flags.tlscacert),
      requestCert: true,
      rejectUnauthorized: true,
    });
  }
  try {
    tls.createSecureContext(opts); // a key that does not match the certificate fails here, not per client
  } catch (e) {
    throw new Error(
      `invalid TLS configuration (--tlscert ${flags.tlscert}, --tlskey ${flags.tlskey}${flags.tlsverify ? `, --tlscacert ${flags.tlscacert}` : ""}): ${(e as Error).message}`,
      { cause: e },
    );
  }
  return opts;
}
