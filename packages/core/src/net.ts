import { isIP } from 'node:net';

/** An IP address or CIDR range, as {@link parseIpRange} reads it. */
export interface IpRange {
  /** The address part, as written (`10.0.0.0`, `2001:db8::`). */
  readonly address: string;
  /** Prefix length: 0–32 for IPv4, 0–128 for IPv6; 32 or 128 for a bare address. */
  readonly prefix: number;
  /** `node:net`'s name of the family, as `BlockList.addSubnet` and `check` take it. */
  readonly family: 'ipv4' | 'ipv6';
}

/** Options of {@link parseIpRange}. */
export interface ParseIpRangeOptions {
  /** Refuse a bare address: only `address/prefix` is a range. Default `false`. */
  readonly requirePrefix?: boolean;
}

// The prefix is one to three decimal digits and nothing else. A parser built on
// Number() reads "10.0.0.1/" as prefix 0 (Number('') is 0), so a stray slash in
// a trusted-proxy list would trust every address; " 8", "0x8" and "1e1" are
// numbers to Number() too.
const RANGE = /^([^/]+)(?:\/(\d{1,3}))?$/;

/**
 * Parses an IP address (`192.0.2.1`, `2001:db8::1`) or CIDR range
 * (`10.0.0.0/8`, `2001:db8::/32`), strictly: `undefined` for anything else
 * (surrounding whitespace, an empty or non-decimal prefix, a prefix too long
 * for the family, a second slash). The one parser of trusted-proxy lists,
 * policy IP ranges and SSH source addresses, so they agree on what a range is.
 *
 * @example
 * ```ts
 * parseIpRange('10.0.0.0/8'); // { address: '10.0.0.0', prefix: 8, family: 'ipv4' }
 * parseIpRange('10.0.0.1/'); // undefined
 * ```
 */
export function parseIpRange(text: string, options: ParseIpRangeOptions = {}): IpRange | undefined {
  const m = RANGE.exec(text);
  if (m === null) return undefined;
  const address = m[1] as string;
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  if (m[2] === undefined && options.requirePrefix === true) return undefined;
  const prefix = m[2] === undefined ? max : Number(m[2]);
  if (prefix > max) return undefined;
  return { address, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}
