import { createManualClock } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { createContextBuilder } from './context.js';

const at = Date.parse('2026-01-06T10:30:00Z'); // Tuesday

describe('context builder', () => {
  it('builds the MFA facts: presence and age in seconds', () => {
    const b = createContextBuilder({ clock: createManualClock(at) });
    expect(b.build({ clientIp: '10.0.0.1', mfaVerifiedAt: at - 125_000, mfaMethod: 'webauthn' }).mfa).toEqual({
      present: true,
      age_seconds: 125,
      method: 'webauthn',
    });
    expect(b.build({ clientIp: '10.0.0.1' }).mfa).toEqual({ present: false, age_seconds: 0 });
    expect(b.build({ clientIp: '10.0.0.1', mfaVerifiedAt: null, mfaMethod: 'totp' }).mfa).toEqual({
      present: false,
      age_seconds: 0,
    });
  });

  it('an MFA time far in the future counts as no MFA (fail closed); small skew is tolerated', () => {
    const b = createContextBuilder({ clock: createManualClock(at) });
    expect(b.build({ clientIp: '10.0.0.1', mfaVerifiedAt: at + 30_000 }).mfa).toEqual({
      present: true,
      age_seconds: 0,
    });
    expect(b.build({ clientIp: '10.0.0.1', mfaVerifiedAt: at + 3_600_000 }).mfa).toEqual({
      present: false,
      age_seconds: 0,
    });
  });

  it('turns the client IP into a Cedar ip value and checks trusted CIDR ranges (IPv4 and IPv6)', () => {
    const b = createContextBuilder({
      clock: createManualClock(at),
      trustedRanges: ['203.0.113.0/24', '2001:db8::/32'],
    });
    const v4 = b.build({ clientIp: '203.0.113.77' });
    expect(v4.client_ip).toEqual({ __extn: { fn: 'ip', arg: '203.0.113.77' } });
    expect(v4.trusted_network).toBe(true);
    expect(b.build({ clientIp: '203.0.114.1' }).trusted_network).toBe(false);
    expect(b.build({ clientIp: '2001:db8::5' }).trusted_network).toBe(true);
    expect(b.build({ clientIp: '2001:db9::5' }).trusted_network).toBe(false);
  });

  it('trusted_network.kept-answers: the kept answer per address stays right for every address, past the memo bound', () => {
    const b = createContextBuilder({ clock: createManualClock(at), trustedRanges: ['10.1.0.0/16', '2001:db8::/32'] });
    const none = createContextBuilder({ clock: createManualClock(at) });
    // More distinct addresses than the builder keeps, asked twice in two orders.
    const addresses: [string, boolean][] = [];
    for (let i = 0; i < 5000; i++) {
      addresses.push([`10.${i % 2 === 0 ? 1 : 2}.${(i >> 8) & 255}.${i & 255}`, i % 2 === 0]);
      if (i % 97 === 0) addresses.push([`2001:db${i % 2 === 0 ? 8 : 9}::${i.toString(16)}`, i % 2 === 0]);
    }
    for (const list of [addresses, [...addresses].reverse()]) {
      for (const [ip, trusted] of list) {
        expect(b.build({ clientIp: ip }).trusted_network).toBe(trusted);
        expect(none.build({ clientIp: ip }).trusted_network).toBe(false);
      }
    }
  });

  it('rejects a bad client IP and bad ranges', () => {
    const b = createContextBuilder();
    expect(() => b.build({ clientIp: '10.0.0.300' })).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_CONTEXT' }),
    );
    expect(() => b.build({ clientIp: '' })).toThrow(expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_CONTEXT' }));
    expect(() => createContextBuilder({ trustedRanges: ['10.0.0.0/33'] })).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_OPTIONS' }),
    );
    expect(() => createContextBuilder({ trustedRanges: ['nope/8'] })).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_OPTIONS' }),
    );
  });

  it('computes UTC and local time of day with weekday in the configured zone', () => {
    const b = createContextBuilder({ clock: createManualClock(at), timeZone: 'Asia/Tokyo' });
    const time = b.build({ clientIp: '10.0.0.1' }).time as Record<string, unknown>;
    expect(time.epoch_seconds).toBe(at / 1000);
    expect(time.utc).toEqual({ hour: 10, minute: 30, minute_of_day: 630, weekday: 2 });
    expect(time.local).toEqual({ hour: 19, minute: 30, minute_of_day: 1170, weekday: 2 });
    expect(time.zone).toBe('Asia/Tokyo');
    // 23:30 UTC Tuesday is Wednesday 08:30 in Tokyo
    const late = b.build({ clientIp: '10.0.0.1', at: Date.parse('2026-01-06T23:30:00Z') }).time as Record<
      string,
      unknown
    >;
    expect(late.local).toEqual({ hour: 8, minute: 30, minute_of_day: 510, weekday: 3 });
  });

  it('evaluates named windows by weekday, hours and time zone, including over midnight', () => {
    const clock = createManualClock(at);
    const b = createContextBuilder({
      clock,
      windows: {
        business_hours: { days: [1, 2, 3, 4, 5], start: '08:00', end: '18:00', timeZone: 'America/New_York' },
        change_freeze: { days: [5], start: '22:00', end: '06:00' },
      },
    });
    // 10:30 UTC = 05:30 in New York: closed
    expect(b.build({ clientIp: '10.0.0.1' }).windows).toEqual({ business_hours: false, change_freeze: false });
    clock.set(Date.parse('2026-01-06T14:00:00Z')); // 09:00 New York, Tuesday
    expect((b.build({ clientIp: '10.0.0.1' }).windows as Record<string, boolean>).business_hours).toBe(true);
    clock.set(Date.parse('2026-01-10T14:00:00Z')); // Saturday
    expect((b.build({ clientIp: '10.0.0.1' }).windows as Record<string, boolean>).business_hours).toBe(false);
    clock.set(Date.parse('2026-01-09T23:00:00Z')); // Friday 23:00 UTC
    expect((b.build({ clientIp: '10.0.0.1' }).windows as Record<string, boolean>).change_freeze).toBe(true);
    clock.set(Date.parse('2026-01-10T05:59:00Z')); // Saturday early: still Friday's window
    expect((b.build({ clientIp: '10.0.0.1' }).windows as Record<string, boolean>).change_freeze).toBe(true);
    clock.set(Date.parse('2026-01-10T06:00:00Z'));
    expect((b.build({ clientIp: '10.0.0.1' }).windows as Record<string, boolean>).change_freeze).toBe(false);
  });

  it('adds approval ids, break-glass session references, force and request attributes', () => {
    const c = createContextBuilder({ clock: createManualClock(at) }).build({
      clientIp: '10.0.0.1',
      approvalId: 'EMERGENCY-9',
      breakGlassSession: 'Provisioning::BreakGlassSession::"bg-1"',
      force: false,
      request: { method: 'DELETE', path: '/v1/servers/srv-1', requestId: 'r-1' },
      extra: { ticket: 'T-1' },
    });
    expect(c).toMatchObject({
      approval_id: 'EMERGENCY-9',
      break_glass: { __entity: { type: 'Provisioning::BreakGlassSession', id: 'bg-1' } },
      force: false,
      request: { method: 'DELETE', path: '/v1/servers/srv-1', request_id: 'r-1' },
      ticket: 'T-1',
    });
  });

  it('rejects unknown time zones and bad windows at construction', () => {
    expect(() => createContextBuilder({ timeZone: 'Mars/Olympus' })).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_OPTIONS' }),
    );
    expect(() => createContextBuilder({ windows: { w: { start: '8:00', end: '18:00' } } })).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_OPTIONS' }),
    );
    expect(() => createContextBuilder({ windows: { 'bad-name': { start: '08:00', end: '18:00' } } })).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_OPTIONS' }),
    );
    expect(() => createContextBuilder({ windows: { w: { days: [7], start: '08:00', end: '18:00' } } })).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_OPTIONS' }),
    );
  });
});
