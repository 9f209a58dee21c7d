import { AwsError } from "../errors.js";

/** IPv4 CIDR arithmetic for VPCs, subnets and address allocation. */
export interface Cidr {
  base: number;
  bits: number;
}

export function parseIp(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export const ipString = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

/** A CIDR whose address is the network address (AWS rejects host bits). */
export function parseCidr(s: string): Cidr | undefined {
  const [ip, len, extra] = s.split("/");
  if (extra !== undefined || !/^\d{1,2}$/.test(len ?? "")) return undefined;
  const base = parseIp(ip);
  const bits = Number(len);
  if (base === undefined || bits > 32) return undefined;
  if ((base & ~mask(bits)) >>> 0 !== 0) return undefined;
  return { base, bits };
}

const mask = (bits: number) => (bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0);
export const size = (c: Cidr) => 2 ** (32 - c.bits);
const last = (c: Cidr) => c.base + size(c) - 1;

export const contains = (outer: Cidr, inner: Cidr) => inner.base >= outer.base && last(inner) <= last(outer);
export const overlaps = (a: Cidr, b: Cidr) => a.base <= last(b) && b.base <= last(a);
export const containsIp = (c: Cidr, ip: number) => ip >= c.base && ip <= last(c);

/** AWS keeps the first four addresses and the last one of every subnet. */
export const RESERVED_LOW = 4;
export const usableAddresses = (c: Cidr) => size(c) - RESERVED_LOW - 1;

/** A CIDR request parameter, with EC2's error for anything else. */
export function cidrParam(value: string): Cidr {
  const c = parseCidr(value);
  if (!c)
    throw new AwsError(
      "InvalidParameterValue",
      `Value (${value}) for parameter cidrBlock is invalid. This is not a valid CIDR block.`,
    );
  return c;
}
