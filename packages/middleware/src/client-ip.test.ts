import { describe, expect, it } from 'vitest';
import { createClientIpResolver } from './client-ip.js';
import { MiddlewareError } from './errors.js';

const h = (headers: Record<string, string>) => new Headers(headers);

describe('client IP: trusted-proxy parsing', () => {
  it('ignores forwarding headers when no proxy is trusted (spoofing has no effect)', () => {
    const ip = createClientIpResolver();
    expect(ip('203.0.113.5', h({ 'x-forwarded-for': '1.2.3.4' }))).toBe('203.0.113.5');
    expect(ip('203.0.113.5', h({ forwarded: 'for=1.2.3.4' }))).toBe('203.0.113.5');
  });

  it('answers for each socket address, whichever came before (keep-alive peers alternate)', () => {
    const ip = createClientIpResolver({ trustedProxies: ['10.0.0.0/8'] });
    const xff = h({ 'x-forwarded-for': '198.51.100.9' });
    expect(ip('::ffff:203.0.113.5', xff)).toBe('203.0.113.5');
    expect(ip('::ffff:203.0.113.5', xff)).toBe('203.0.113.5');
    expect(ip('10.0.0.2', xff)).toBe('198.51.100.9');
    expect(ip('203.0.113.6', xff)).toBe('203.0.113.6');
    expect(ip(undefined, xff)).toBe('unknown');
    expect(ip('::ffff:10.0.0.3', xff)).toBe('198.51.100.9');
    expect(ip('203.0.113.6', xff)).toBe('203.0.113.6');
  });

  it('ignores forwarding headers from an untrusted peer', () => {
    const ip = createClientIpResolver({ trustedProxies: ['10.0.0.0/8'] });
    expect(ip('203.0.113.5', h({ 'x-forwarded-for': '1.2.3.4' }))).toBe('203.0.113.5');
  });

  it('walks X-Forwarded-For from the right, skipping trusted proxies', () => {
    const ip = createClientIpResolver({ trustedProxies: ['10.0.0.0/8', '192.168.1.1'] });
    // The client prepended a fake address; the nearest untrusted hop is the real client.
    expect(ip('10.0.0.2', h({ 'x-forwarded-for': '6.6.6.6, 198.51.100.20, 192.168.1.1' }))).toBe('198.51.100.20');
    expect(ip('10.0.0.2', h({ 'x-forwarded-for': '10.1.1.1' }))).toBe('10.1.1.1');
    expect(ip('10.0.0.2', h({}))).toBe('10.0.0.2');
  });

  it('prefers the standard Forwarded header, with quoted IPv6 and ports', () => {
    const ip = createClientIpResolver({ trustedProxies: ['::1', '127.0.0.1'] });
    expect(ip('::1', h({ forwarded: 'for="[2001:db8:cafe::17]:4711";proto=https, for=127.0.0.1' }))).toBe(
      '2001:db8:cafe::17',
    );
    expect(ip('127.0.0.1', h({ forwarded: 'for=192.0.2.60:4711;by=203.0.113.43', 'x-forwarded-for': '6.6.6.6' }))).toBe(
      '192.0.2.60',
    );
  });

  it('believes nothing beyond a malformed hop', () => {
    const ip = createClientIpResolver({ trustedProxies: ['10.0.0.0/8'] });
    expect(ip('10.0.0.2', h({ 'x-forwarded-for': '198.51.100.1, not-an-ip' }))).toBe('10.0.0.2');
  });

  it('normalises IPv4-mapped IPv6 socket addresses', () => {
    const ip = createClientIpResolver({ trustedProxies: ['127.0.0.1'] });
    expect(ip('::ffff:127.0.0.1', h({ 'x-forwarded-for': '198.51.100.3' }))).toBe('198.51.100.3');
    expect(createClientIpResolver()('::ffff:203.0.113.9', h({}))).toBe('203.0.113.9');
  });

  it('refuses a malformed trusted-proxy entry instead of widening it (a stray slash was 0.0.0.0/0)', () => {
    for (const entry of ['10.0.0.1/', '10.0.0.0/8/9', '10.0.0.0/ 8', '10.0.0.0/0x8', '10.0.0.0/33', 'proxy.internal']) {
      expect(() => createClientIpResolver({ trustedProxies: [entry] }), entry).toThrow(
        expect.objectContaining({ code: 'ERR_MW_INVALID_OPTIONS' }),
      );
    }
    expect(() => createClientIpResolver({ trustedProxies: ['10.0.0.1/'] })).toThrow(MiddlewareError);
  });
});
