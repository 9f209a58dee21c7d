// `reflect-metadata` must load before @peculiar/x509 (its dependency injection needs the polyfill).
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import { promises as fs } from "node:fs";
import net from "node:net";
import path from "node:path";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as Crypto);

/** ECDSA P-256: small, fast to generate, accepted by Go (docker CLI), Node, Python and OpenSSL. */
const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export interface CertsOptions {
  /** DNS names and IP addresses the server is reached at (subjectAltName) */
  hosts: string[];
  out: string;
  /** validity in days */
  days: number;
  /** replace files that exist */
  force?: boolean;
}

/** The files written, named the way dockerd's docs and the docker CLI (DOCKER_CERT_PATH) expect. */
export const CERT_FILES = {
  caCert: "ca.pem",
  caKey: "ca-key.pem",
  serverCert: "server-cert.pem",
  serverKey: "server-key.pem",
  clientCert: "cert.pem",
  clientKey: "key.pem",
} as const;

interface KeyedCert {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

/**
 * Create a CA, a server certificate for `hosts` (serverAuth) and a client certificate (clientAuth),
 * both signed by the CA: what `sockerless serve --tlsverify` and `docker --tlsverify` need.
 */
export async function createCerts(opts: CertsOptions): Promise<Record<keyof typeof CERT_FILES, string>> {
  if (!opts.hosts.length) throw new Error("--host needs at least one DNS name or IP address");
  if (!Number.isInteger(opts.days) || opts.days < 1) throw new Error(`invalid --days ${opts.days}`);
  const out = path.resolve(opts.out);
  const files = Object.fromEntries(
    Object.entries(CERT_FILES).map(([k, f]) => [k, path.join(out, f)]),
  ) as Record<keyof typeof CERT_FILES, string>;
  if (!opts.force) {
    const existing = [];
    for (const f of Object.values(files)) if (await exists(f)) existing.push(f);
    if (existing.length)
      throw new Error(`refusing to overwrite ${existing.join(", ")}; use --force to replace them`);
  }

  const notBefore = new Date(Date.now() - 5 * 60_000); // tolerate small clock differences
  const notAfter = new Date(Date.now() + opts.days * 86_400_000);
  const ca = await issue({
    subject: "CN=Sockerless CA",
    notBefore,
    notAfter,
    extensions: async (keys) => [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const leaf = (subject: string, usage: string, more: x509.Extension[] = []) =>
    issue({
      subject,
      notBefore,
      notAfter,
      issuer: ca,
      extensions: async (keys) => [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([usage]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
        ...more,
      ],
    });
  const san = new x509.SubjectAlternativeNameExtension(
    opts.hosts.map((h): x509.JsonGeneralName => ({ type: net.isIP(h) ? "ip" : "dns", value: h })),
  );
  const server = await leaf(`CN=${opts.hosts[0]}`, x509.ExtendedKeyUsage.serverAuth, [san]);
  const client = await leaf("CN=client", x509.ExtendedKeyUsage.clientAuth);

  await fs.mkdir(out, { recursive: true });
  await write(files.caCert, ca.cert.toString("pem"), 0o644);
  await write(files.caKey, await pemKey(ca.keys), 0o600);
  await write(files.serverCert, server.cert.toString("pem"), 0o644);
  await write(files.serverKey, await pemKey(server.keys), 0o600);
  await write(files.clientCert, client.cert.toString("pem"), 0o644);
  await write(files.clientKey, await pemKey(client.keys), 0o600);
  return files;
}

async function issue(o: {
  subject: string;
  notBefore: Date;
  notAfter: Date;
  issuer?: KeyedCert;
  extensions: (keys: CryptoKeyPair) => Promise<x509.Extension[]>;
}): Promise<KeyedCert> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: o.subject,
    issuer: o.issuer ? o.issuer.cert.subject : o.subject,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: (o.issuer?.keys ?? keys).privateKey,
    extensions: await o.extensions(keys),
  });
  return { cert, keys };
}

/** 128 random bits, positive (RFC 5280 serial numbers are positive integers). */
function serialNumber(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] &= 0x7f;
  b[0] |= 0x01; // no leading zero byte to strip
  return Buffer.from(b).toString("hex");
}

async function pemKey(keys: CryptoKeyPair): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

async function write(file: string, text: string, mode: number) {
  await fs.writeFile(file, text.endsWith("\n") ? text : text + "\n", { mode });
  await fs.chmod(file, mode); // writeFile's mode applies only to new files
}

const exists = (f: string) =>
  fs.access(f).then(
    () => true,
    () => false,
  );
