import { BlockList, isIP } from 'node:net';
import { parseIpRange } from '@provisioning/core';
import { MiddlewareError } from './errors.js';

/** Options of {@link createClientIpResolver}. */
export interface ClientIpOptions {
  /**
   * Addresses or CIDR ranges of proxies whose `X-Forwarded-For` / `Forwarded`
   * headers are believed (e.g. `['10.0.0.0/8', '::1']`). Default: none — the
   * socket address is the client, and forwarding headers are ignored.
   */
  readonly trustedProxies?: readonly string[];
}

/** A function from the socket address and request headers to the client IP. */
export type ClientIpResolver = (socketAddress: string | undefined, headers: HeaderReader) => string;

/** The part of `Headers` the chain reads. A Web `Headers` object satisfies it. */
export interface HeaderReader {
  get(name: string): string | null;
}

const IPV4_WITH_PORT = /^\d+\.\d+\.\d+\.\d+:\d+$/;

const strip = (address: string): string => {
  let a = address.trim();
  // Forwarded: for="[2001:db8::1]:4711" / for=192.0.2.60:4711; IPv4-mapped IPv6.
  if (a.startsWith('"') && a.endsWith('"')) a = a.slice(1, -1);
  if (a.startsWith('[')) a = a.slice(1, a.indexOf(']') === -1 ? undefined : a.indexOf(']'));
  else if (IPV4_WITH_PORT.test(a)) a = a.slice(0, a.lastIndexOf(':'));
  if (a.toLowerCase().startsWith('::ffff:') && isIP(a.slice(7)) === 4) a = a.slice(7);
  return a;
};

/**
 * Builds the client-IP rule: the socket address, unless the socket is a
 * trusted proxy; then the forwarding chain (`Forwarded`, else
 * `X-Forwarded-For`) is walked from the right, skipping trusted proxies, and
 * the first untrusted address is the client. Headers from untrusted peers are
 * ignored entirely, so a client cannot spoof its address by sending them.
 *
 * @throws MiddlewareError `ERR_MW_INVALID_OPTIONS` for a malformed proxy entry.
 * @example
 * ```ts
 * const clientIp = createClientIpResolver({ trustedProxies: ['10.0.0.0/8'] });
 * clientIp('10.0.0.5', new Headers({ 'x-forwarded-for': '203.0.113.9' })); // '203.0.113.9'
 * ```
 */
export function createClientIpResolver(options: ClientIpOptions = {}): ClientIpResolver {
  const trusted = new BlockList();
  let any = false;
  for (const entry of options.trustedProxies ?? []) {
    // Strict (core's one parser): a lenient one read "10.0.0.1/" as 0.0.0.0/0, which trusted
    // every peer's forwarding headers and let any client choose its own address.
    const range = parseIpRange(entry);
    if (range === undefined) {
      throw new MiddlewareError(`trustedProxies entry "${entry}" is not an IP address or CIDR range`, {
        code: 'ERR_MW_INVALID_OPTIONS',
        fault: 'client',
      });
    }
    trusted.addSubnet(range.address, range.prefix, range.family);
    any = true;
  }
  const isTrusted = (address: string): boolean => {
    const family = isIP(address);
    return family !== 0 && trusted.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };

  // The last socket address and what it strips to: keep-alive connections
  // send many requests from one address. `strip` is a pure function of the
  // text, so the kept answer is the one it would give.
  let lastAddress: string | undefined;
  let lastPeer = '';
  return (socketAddress, headers) => {
    const address = socketAddress ?? '';
    if (address !== lastAddress) {
      lastPeer = strip(address);
      lastAddress = address;
    }
    const peer = lastPeer;
    if (!any || !isTrusted(peer)) return peer === '' ? 'unknown' : peer;
    const hops = forwardedChain(headers);
    // Walk from the nearest hop outwards; the first address we do not trust is the client.
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = strip(hops[i] ?? '');
      if (isIP(hop) === 0) return peer; // a malformed hop: believe nothing beyond our own proxy
      if (!isTrusted(hop)) return hop;
    }
    return hops.length > 0 ? strip(hops[0] ?? '') : peer;
  };
}

function forwardedChain(headers: HeaderReader): string[] {
  const forwarded = headers.get('forwarded');
  if (forwarded !== null && forwarded.trim() !== '') {
    const hops: string[] = [];
    for (const element of forwarded.split(',')) {
      const pair = element
        .split(';')
        .map((p) => p.trim())
        .find((p) => p.toLowerCase().startsWith('for='));
      hops.push(pair === undefined ? '' : pair.slice(4));
    }
    return hops;
  }
  const xff = headers.get('x-forwarded-for');
  return xff === null ? [] : xff.split(',').map((h) => h.trim());
}
