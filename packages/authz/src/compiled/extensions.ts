// Cedar's `ipaddr` and `decimal` extensions. The parsers recognise a strict
// subset of what Cedar accepts, exactly as Cedar reads it; any other string
// is not recognised (`undefined`) and the caller hands the request to
// cedar-wasm, which accepts or rejects it with its own parser.

import {
  asString,
  DECLINE,
  Decimal,
  EvaluationError,
  IpAddr,
  normalizeLong,
  typeMismatch,
  type Value,
} from './values.js';

const OCTET = '(0|[1-9][0-9]{0,2})';
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
// Cedar: no sign, no leading zero, at most 2 (IPv4) or 3 (IPv6) digits.
const PREFIX = /^(0|[1-9][0-9]{0,2})$/;
// Cedar rejects longer strings ('ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/128').
const IP_MAX_LENGTH = 43;

function parseV4(s: string): number | undefined {
  const m = IPV4.exec(s);
  if (!m) return undefined;
  let addr = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return undefined;
    addr = addr * 256 + octet;
  }
  return addr;
}

function groups(part: string): bigint[] | undefined {
  if (part === '') return [];
  const out: bigint[] = [];
  for (const g of part.split(':')) {
    if (!HEX_GROUP.test(g)) return undefined;
    out.push(BigInt(`0x${g}`));
  }
  return out;
}

// Hexadecimal groups only: Cedar refuses IPv4 embedded in IPv6 (`::ffff:1.2.3.4`).
function parseV6(s: string): bigint | undefined {
  const halves = s.split('::');
  let all: bigint[];
  if (halves.length === 1) {
    const g = groups(s);
    if (g?.length !== 8) return undefined;
    all = g;
  } else if (halves.length === 2) {
    const head = groups(halves[0] as string);
    const tail = groups(halves[1] as string);
    // `::` stands for at least one zero group.
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    all = [...head, ...Array<bigint>(8 - head.length - tail.length).fill(0n), ...tail];
  } else return undefined;
  let addr = 0n;
  for (const g of all) addr = (addr << 16n) | g;
  return addr;
}

/** A string Cedar certainly rejects as an `ip(…)` or `decimal(…)` argument. */
export const INVALID: unique symbol = Symbol('invalid');

// Only these characters occur in the addresses Cedar's parser (Rust's) accepts.
const IP_CHARS = /^[0-9A-Fa-f:./]+$/;

const count = (s: string, c: string): number => s.split(c).length - 1;

/**
 * Parses `ip("…")`'s argument like Cedar 4 does: the value, {@link INVALID}
 * for a string Cedar rejects, or `undefined` for the one form whose reading
 * is not pinned down here (an IPv6 address with a single `.`), which goes to
 * cedar-wasm. Cedar rejects more than 43 bytes, IPv4 embedded in IPv6, and
 * parses the address with Rust's parser, which this one reproduces for
 * dotted-quad IPv4 (no leading zeros) and hexadecimal IPv6, and the prefix
 * after the first `/` as digits without a sign or leading zero, at most 32
 * (2 digits) or 128 (3 digits).
 */
export function parseIp(s: string): IpAddr | typeof INVALID | undefined {
  // A string of more than 43 UTF-16 units has more than 43 UTF-8 bytes.
  if (s.length > IP_MAX_LENGTH || !IP_CHARS.test(s)) return INVALID;
  const slash = s.indexOf('/');
  const address = slash < 0 ? s : s.slice(0, slash);
  let prefix: number | undefined;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!PREFIX.test(p)) return INVALID;
    prefix = Number(p);
  }
  const colons = count(s, ':');
  const dots = count(s, '.');
  if (colons >= 2 && dots >= 2) return INVALID; // IPv4 embedded in IPv6: refused by Cedar
  if (colons === 0) {
    const v4 = parseV4(address);
    if (v4 === undefined || (prefix !== undefined && prefix > 32)) return INVALID;
    return new IpAddr(false, v4, prefix ?? 32);
  }
  if (dots > 0) return undefined;
  const v6 = parseV6(address);
  if (v6 === undefined || (prefix !== undefined && prefix > 128)) return INVALID;
  return new IpAddr(true, v6, prefix ?? 128);
}

const DECIMAL = /^(-?)([0-9]+)\.([0-9]+)$/;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/**
 * Parses `decimal("…")`'s argument like Cedar 4 does: digits, a point and 1
 * to 4 digits, the value times 10^4 within 64 bits. {@link INVALID} for an
 * ASCII string Cedar rejects; `undefined` for non-ASCII strings (Cedar's
 * `\d` also matches other digits), which go to cedar-wasm.
 */
export function parseDecimal(s: string): Decimal | typeof INVALID | undefined {
  const m = DECIMAL.exec(s);
  if (!m) return /^[\x20-\x7e]*$/.test(s) ? INVALID : undefined;
  const frac = m[3] as string;
  if (frac.length > 4) return INVALID;
  const magnitude = BigInt(m[2] as string) * 10_000n + BigInt(frac) * 10n ** BigInt(4 - frac.length);
  const value = m[1] === '-' ? -magnitude : magnitude;
  if (value < I64_MIN || value > I64_MAX) return INVALID;
  return new Decimal(normalizeLong(value));
}

const V6_ALL = (1n << 128n) - 1n;

function inRange(a: IpAddr, b: IpAddr): boolean {
  if (a.v6 !== b.v6) return false;
  if (!a.v6) {
    const x = a.addr as number;
    const y = b.addr as number;
    const net = (p: number) => (p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0);
    const host = (p: number) => (p === 32 ? 0 : 0xffffffff >>> p);
    return (
      (y & net(b.prefix)) >>> 0 <= (x & net(a.prefix)) >>> 0 && (x | host(a.prefix)) >>> 0 <= (y | host(b.prefix)) >>> 0
    );
  }
  const x = a.addr as bigint;
  const y = b.addr as bigint;
  const net = (p: number) => (p === 0 ? 0n : (V6_ALL << BigInt(128 - p)) & V6_ALL);
  const host = (p: number) => V6_ALL >> BigInt(p);
  return (y & net(b.prefix)) <= (x & net(a.prefix)) && (x | host(a.prefix)) <= (y | host(b.prefix));
}

function asIp(v: Value): IpAddr {
  return v instanceof IpAddr ? v : typeMismatch();
}

function asDecimal(v: Value): Decimal {
  return v instanceof Decimal ? v : typeMismatch();
}

/** An extension function: its arity and implementation. */
export interface ExtensionFunction {
  readonly arity: number;
  readonly call: (args: readonly Value[]) => Value;
}

const ipMethod = (test: (ip: IpAddr) => boolean): ExtensionFunction => ({
  arity: 1,
  call: (a) => test(asIp(a[0] as Value)),
});
const decimalCompare = (test: (x: number | bigint, y: number | bigint) => boolean): ExtensionFunction => ({
  arity: 2,
  call: (a) => test(asDecimal(a[0] as Value).scaled, asDecimal(a[1] as Value).scaled),
});

/** The extension functions the compiled path supports, by their name in the policy JSON form. */
export const EXTENSION_FUNCTIONS: ReadonlyMap<string, ExtensionFunction> = new Map<string, ExtensionFunction>([
  [
    'ip',
    {
      arity: 1,
      call: (a) => {
        const ip = parseIp(asString(a[0] as Value));
        if (ip === INVALID) throw new EvaluationError('invalid IP address');
        return ip ?? decline();
      },
    },
  ],
  [
    'decimal',
    {
      arity: 1,
      call: (a) => {
        const d = parseDecimal(asString(a[0] as Value));
        if (d === INVALID) throw new EvaluationError('invalid decimal');
        return d ?? decline();
      },
    },
  ],
  ['isIpv4', ipMethod((ip) => !ip.v6)],
  ['isIpv6', ipMethod((ip) => ip.v6)],
  [
    'isLoopback',
    ipMethod((ip) =>
      ip.v6 ? ip.addr === 1n && ip.prefix >= 128 : (ip.addr as number) >>> 24 === 127 && ip.prefix >= 8,
    ),
  ],
  [
    'isMulticast',
    ipMethod((ip) =>
      ip.v6
        ? (ip.addr as bigint) >> 120n === 0xffn && ip.prefix >= 8
        : (ip.addr as number) >>> 28 === 0xe && ip.prefix >= 4,
    ),
  ],
  ['isInRange', { arity: 2, call: (a) => inRange(asIp(a[0] as Value), asIp(a[1] as Value)) }],
  ['lessThan', decimalCompare((x, y) => x < y)],
  ['lessThanOrEqual', decimalCompare((x, y) => x <= y)],
  ['greaterThan', decimalCompare((x, y) => x > y)],
  ['greaterThanOrEqual', decimalCompare((x, y) => x >= y)],
]);

function decline(): never {
  throw DECLINE;
}
