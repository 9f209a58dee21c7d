import type { Platform } from "./types.js";

/** Normalises architecture aliases to OCI names (as containerd's platforms.Normalize). */
export function normalizePlatform(p: Platform): Platform {
  const os = (p.os || "linux").toLowerCase();
  let architecture = (p.architecture || "").toLowerCase();
  let variant = p.variant ? p.variant.toLowerCase() : undefined;
  switch (architecture) {
    case "x86_64":
    case "x86-64":
    case "amd64":
    case "x64":
      architecture = "amd64";
      if (variant === "v1") variant = undefined;
      break;
    case "aarch64":
    case "arm64":
      architecture = "arm64";
      if (variant === "8" || variant === "v8") variant = undefined;
      break;
    case "armhf":
      architecture = "arm";
      variant = "v7";
      break;
    case "armel":
      architecture = "arm";
      variant = "v6";
      break;
    case "arm":
      if (variant && /^[0-9]+$/.test(variant)) variant = `v${variant}`;
      break;
    case "i386":
    case "ia32":
      architecture = "386";
      break;
    default:
      break;
  }
  const out: Platform = { os, architecture };
  if (variant) out.variant = variant;
  return out;
}

/** The platform of this host as OCI names: linux + process.arch mapped (x64 → amd64, ...). */
export function hostPlatform(): Platform {
  const map: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm",
    ia32: "386",
    ppc64: "ppc64le",
    s390x: "s390x",
    riscv64: "riscv64",
    loong64: "loong64",
    mips: "mips",
    mipsel: "mipsle",
  };
  const architecture = map[process.arch] ?? process.arch;
  const p: Platform = { os: "linux", architecture };
  if (architecture === "arm") {
    const vars = process.config.variables as unknown as Record<string, unknown>;
    const v = vars.arm_version;
    p.variant = `v${typeof v === "string" || typeof v === "number" ? v : 7}`;
  }
  return p;
}

/** "linux/amd64", "linux/arm/v7" (containerd's platforms.Format). */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x).join("/");
}

/** Parses "linux/arm64/v8" (dockerd's ?platform= syntax). */
export function parsePlatform(s: string): Platform {
  const [os, architecture, variant] = s.split("/");
  const p: Platform = { os: os || "linux", architecture: architecture ?? "" };
  if (variant) p.variant = variant;
  return normalizePlatform(p);
}

const variantRank = (arch: string, variant: string | undefined): number => {
  const v = variant ? parseInt(variant.replace(/^v/, ""), 10) : NaN;
  if (arch === "arm") return Number.isNaN(v) ? 7 : v;
  if (arch === "amd64") return Number.isNaN(v) ? 1 : v;
  if (arch === "arm64") return Number.isNaN(v) ? 8 : v;
  return Number.isNaN(v) ? 0 : v;
};

/**
 * How well an index entry platform matches the wanted platform: -1 = no match, higher = better.
 * Like containerd's platforms.Only: a wanted variant also accepts lower (compatible) variants of
 * arm/amd64; without a wanted variant any variant is accepted, the host-ish default preferred.
 */
export function platformScore(want: Platform, have: Platform | undefined): number {
  if (!have) return -1;
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return -1;
  const hr = variantRank(h.architecture, h.variant);
  if (w.variant === undefined) {
    const def = variantRank(w.architecture, undefined);
    if (h.architecture === "arm" && hr > def) return -1;
    return hr === def ? 1000 : 500 - Math.abs(hr - def);
  }
  const wr = variantRank(w.architecture, w.variant);
  if (w.architecture === "arm" || w.architecture === "amd64" || w.architecture === "arm64") {
    if (hr > wr) return -1;
    return 1000 - (wr - hr);
  }
  return w.variant === h.variant ? 1000 : -1;
}
