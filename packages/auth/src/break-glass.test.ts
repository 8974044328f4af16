import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectAuthError, fixture } from '../test/helpers.js';
import type { BreakGlassAlert, BreakGlassAuditEvent, BreakGlassOptions } from './break-glass.js';
import { BREAK_GLASS_RETENTION_DAYS, callbackNotifier, createBreakGlass, webhookNotifier } from './break-glass.js';

const requester = { id: 'rita', team: 'sre' };
const alice = { id: 'alice', team: 'platform-admin' };
const bob = { id: 'bob', team: 'security' };
const carol = { id: 'carol', team: 'platform-admin' };
const input = {
  requester,
  reason: 'INC-42',
  justification: 'primary database is down, on-call needs production access',
  scope: ['production/*'],
  durationSeconds: 3600,
};

async function setup(overrides: Partial<BreakGlassOptions> = {}) {
  const f = await fixture();
  const events: BreakGlassAuditEvent[] = [];
  const alerts: BreakGlassAlert[] = [];
  const errors: unknown[] = [];
  const bg = createBreakGlass({
    tokens: f.tokens,
    store: f.store,
    clock: f.clock,
    audit: { write: async (e) => void events.push(e) },
    notifier: callbackNotifier((a) => void alerts.push(a)),
    onError: (e) => errors.push(e),
    ...overrides,
  });
  const approved = async (extra: Partial<typeof input> = {}) => {
    const r = await bg.request({ ...input, ...extra });
    await bg.approve(r.id, alice);
    await bg.approve(r.id, bob);
    return r;
  };
  return { ...f, bg, events, alerts, errors, approved };
}

describe('break-glass approval rules', () => {
  it('needs two distinct approvers from two teams, then issues an emergency token of at most the requested duration', async () => {
    const { bg, tokens, events, alerts } = await setup();
    const r = await bg.request(input);
    expect(r.status).toBe('pending');
    expect((await bg.approve(r.id, alice)).status).toBe('pending');
    await expectAuthError(bg.activate(r.id, requester), 'ERR_AUTH_BREAK_GLASS_DENIED');
    expect((await bg.approve(r.id, bob)).status).toBe('approved');
    const access = await bg.activate(r.id, requester);
    const claims = await tokens.verify(access.token);
    expect(claims).toMatchObject({
      sub: 'rita',
      emergency: true,
      bg_sid: access.sessionId,
      sid: access.sessionId,
      approvers: ['alice', 'bob'],
      approval_id: `EMERGENCY-${r.id}`,
      roles: ['Admin'],
    });
    expect(claims.exp - claims.iat).toBe(3600);
    expect((await bg.get(r.id))?.status).toBe('active');
    expect(events.map((e) => e.type)).toEqual([
      'breakglass.requested',
      'breakglass.approved',
      'breakglass.approved',
      'breakglass.activated',
    ]);
    expect(alerts).toHaveLength(4);
    for (const e of events) expect(e.retentionDays).toBe(BREAK_GLASS_RETENTION_DAYS);
    expect(JSON.stringify(events).includes(access.token)).toBe(false);
  });

  it("carries the requester's authentication facts into the emergency token, and invents none", async () => {
    const { bg, tokens, clock, approved } = await setup();
    const mfaAt = new Date(clock.now() - 60_000);
    const withMfa = await approved();
    const access = await bg.activate(withMfa.id, requester, { amr: ['pwd', 'otp'], mfaAt });
    const claims = await tokens.verify(access.token);
    expect(claims).toMatchObject({ emergency: true, amr: ['pwd', 'otp'], mfa_at: Math.floor(mfaAt.getTime() / 1000) });

    const without = await approved();
    const plain = await tokens.verify((await bg.activate(without.id, requester)).token);
    expect(plain.mfa_at).toBeUndefined();
    expect(plain.amr).toEqual(['pwd']);

    // An MFA time in the future would pass any step-up age: refused, and the request stays approved.
    const future = await approved();
    await expectAuthError(
      bg.activate(future.id, requester, { amr: ['pwd', 'otp'], mfaAt: new Date(clock.now() + 1000) }),
      'ERR_AUTH_INVALID_INPUT',
    );
    expect((await bg.get(future.id))?.status).toBe('approved');
  });

  it('refuses self-approval', async () => {
    const { bg } = await setup();
    const r = await bg.request(input);
    await expectAuthError(bg.approve(r.id, { id: 'rita', team: 'security' }), 'ERR_AUTH_BREAK_GLASS_DENIED');
  });

  it('counts the same approver only once, even when approving twice concurrently', async () => {
    const { bg } = await setup();
    const r = await bg.request(input);
    const results = await Promise.allSettled([
      bg.approve(r.id, alice),
      bg.approve(r.id, alice),
      bg.approve(r.id, { ...alice, team: 'security' }),
    ]);
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    expect((await bg.get(r.id))?.approvals).toHaveLength(1);
    await expectAuthError(bg.activate(r.id, requester), 'ERR_AUTH_BREAK_GLASS_DENIED');
  });

  it('two approvers of the same team are not enough; a third from another team is', async () => {
    const { bg } = await setup();
    const r = await bg.request(input);
    await bg.approve(r.id, alice);
    expect((await bg.approve(r.id, carol)).status).toBe('pending');
    const refused = await expectAuthError(bg.activate(r.id, requester), 'ERR_AUTH_BREAK_GLASS_DENIED');
    expect(refused.details).toMatchObject({ approvals: 2, teams: 1 });
    expect((await bg.approve(r.id, bob)).status).toBe('approved');
  });

  it('a denial ends the request for good', async () => {
    const { bg, events, approved } = await setup();
    const r = await approved();
    expect((await bg.deny(r.id, carol, 'not an emergency')).status).toBe('denied');
    await expectAuthError(bg.activate(r.id, requester), 'ERR_AUTH_BREAK_GLASS_DENIED');
    await expectAuthError(bg.approve(r.id, { id: 'dave', team: 'x' }), 'ERR_AUTH_BREAK_GLASS_DENIED');
    expect(events.at(-1)?.type).toBe('breakglass.denied');
  });

  it('only the requester activates, and only once', async () => {
    const { bg, approved } = await setup();
    const r = await approved();
    await expectAuthError(bg.activate(r.id, alice), 'ERR_AUTH_BREAK_GLASS_DENIED');
    await bg.activate(r.id, requester);
    await expectAuthError(bg.activate(r.id, requester), 'ERR_AUTH_BREAK_GLASS_DENIED');
  });

  it('refuses durations over 4 hours and requests that waited too long', async () => {
    const { bg, clock } = await setup();
    await expectAuthError(bg.request({ ...input, durationSeconds: 4 * 3600 + 1 }), 'ERR_AUTH_BREAK_GLASS_DENIED');
    const r = await bg.request({ ...input, durationSeconds: 4 * 3600 });
    await bg.approve(r.id, alice);
    await bg.approve(r.id, bob);
    clock.advance(3600_000);
    await expectAuthError(bg.activate(r.id, requester), 'ERR_AUTH_BREAK_GLASS_DENIED');
    await expectAuthError(bg.approve('missing', alice), 'ERR_AUTH_BREAK_GLASS_NOT_FOUND');
  });

  it('configuration cannot switch it off or lift its limits', async () => {
    const { tokens, store } = await fixture();
    const base = { tokens, store, audit: { write: async () => {} }, notifier: callbackNotifier(() => {}) };
    for (const bad of [
      { maxDurationSeconds: 4 * 3600 + 1 },
      { requiredApprovals: 1 },
      { requiredTeams: 1 },
      { inactivityTimeoutSeconds: 0 },
      { inactivityTimeoutSeconds: 10 * 3600 },
      { enabled: false },
      { audit: undefined },
      { notifier: undefined },
    ]) {
      expect(() => createBreakGlass({ ...base, ...bad } as never), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'ERR_AUTH_INVALID_OPTIONS' }),
      );
    }
    expect(createBreakGlass({ ...base, maxDurationSeconds: 3600, requiredApprovals: 3 }).limits).toMatchObject({
      maxDurationSeconds: 3600,
      requiredApprovals: 3,
      requiredTeams: 2,
      inactivityTimeoutSeconds: 1800,
    });
  });

  it('fails closed when the audit sink fails: no request, approval or token without its record', async () => {
    let fail = false;
    const { bg, alerts } = await setup({
      audit: {
        write: async () => {
          if (fail) throw new Error('disk full');
        },
      },
    });
    const r = await bg.request(input);
    await bg.approve(r.id, alice);
    await bg.approve(r.id, bob);
    fail = true;
    await expectAuthError(bg.request(input), 'ERR_AUTH_AUDIT_FAILED');
    await expectAuthError(bg.activate(r.id, requester), 'ERR_AUTH_AUDIT_FAILED');
    expect((await bg.get(r.id))?.status).toBe('approved');
    fail = false;
    await expect(bg.activate(r.id, requester)).resolves.toBeDefined();
    expect(alerts.map((a) => a.event.type)).not.toContain(undefined);
  });

  it('a failing notifier does not block the step and is reported', async () => {
    const { bg, errors } = await setup({
      notifier: {
        notify: async () => {
          throw new Error('chat down');
        },
      },
    });
    await bg.request(input);
    await vi.waitFor(() => expect(errors).toHaveLength(1));
  });
});

describe('break-glass session end', () => {
  it('revokes automatically at expiry (injected clock)', async () => {
    const { bg, clock, tokens, events, approved } = await setup();
    const r = await approved();
    const access = await bg.activate(r.id, requester);
    clock.advance(20 * 60_000);
    await bg.verify(access.token);
    clock.advance(20 * 60_000);
    await bg.verify(access.token);
    clock.advance(20 * 60_000);
    expect(await bg.enforce()).toBe(1);
    // Revoked at expiry, even inside the verifier's clock-skew tolerance.
    await expectAuthError(tokens.verify(access.token), 'ERR_AUTH_TOKEN_REVOKED');
    expect((await bg.get(r.id))?.ended?.reason).toBe('expired');
    expect(events.at(-1)?.type).toBe('breakglass.expired');
  });

  it('revokes after 30 minutes without use; use keeps it alive', async () => {
    const { bg, clock, tokens, events, approved } = await setup();
    const r = await approved({ durationSeconds: 4 * 3600 });
    const access = await bg.activate(r.id, requester);
    clock.advance(29 * 60_000);
    await bg.verify(access.token);
    clock.advance(29 * 60_000);
    expect(await bg.enforce()).toBe(0);
    await bg.verify(access.token);
    clock.advance(30 * 60_000);
    expect(await bg.enforce()).toBe(1);
    await expectAuthError(tokens.verify(access.token), 'ERR_AUTH_TOKEN_REVOKED');
    await expectAuthError(bg.verify(access.token), 'ERR_AUTH_TOKEN_REVOKED');
    expect(events.at(-1)).toMatchObject({ type: 'breakglass.inactive', actor: 'system', sessionId: access.sessionId });
  });

  it('enforces inactivity on use even before the monitor runs', async () => {
    const { bg, clock, approved } = await setup({ inactivityTimeoutSeconds: 600 });
    const r = await approved();
    const access = await bg.activate(r.id, requester);
    clock.advance(600_000);
    await expectAuthError(bg.verify(access.token), 'ERR_AUTH_BREAK_GLASS_INACTIVE');
    expect((await bg.get(r.id))?.ended?.reason).toBe('inactive');
  });

  it('manual revocation ends the session once, audited with the actor', async () => {
    const { bg, tokens, events, approved } = await setup();
    const r = await approved();
    const access = await bg.activate(r.id, requester);
    expect(await bg.revoke(r.id, bob, 'incident resolved')).toBe(true);
    expect(await bg.revoke(r.id, bob, 'again')).toBe(false);
    await expectAuthError(tokens.verify(access.token), 'ERR_AUTH_TOKEN_REVOKED');
    expect(events.filter((e) => e.type === 'breakglass.revoked')).toEqual([
      expect.objectContaining({ actor: bob, details: { reason: 'revoked', note: 'incident resolved' } }),
    ]);
  });

  it('refuses ordinary tokens where an emergency token is expected', async () => {
    const { bg, tokens } = await setup();
    const { accessToken } = await tokens.issue({ subject: 'rita' });
    await expectAuthError(bg.verify(accessToken), 'ERR_AUTH_WRONG_TOKEN_TYPE');
  });
});

describe('break-glass monitor', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts, enforces on its interval, and stops leaving no timer behind', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const { bg, clock, approved } = await setup({ monitorIntervalMs: 1000 });
    const r = await approved();
    await bg.activate(r.id, requester);
    bg.start();
    bg.start();
    expect(vi.getTimerCount()).toBe(1);
    clock.advance(31 * 60_000);
    await vi.advanceTimersByTimeAsync(1000);
    await vi.waitFor(async () => expect((await bg.get(r.id))?.ended?.reason).toBe('inactive'));
    await bg.stop();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('webhook notifier', () => {
  it('POSTs the alert as JSON with the configured headers and rejects on non-2xx', async () => {
    const received: Array<{ body: string; auth: string | undefined }> = [];
    let status = 204;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ body, auth: req.headers.authorization });
        res.statusCode = status;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const notifier = webhookNotifier({
        url: `http://127.0.0.1:${port}/hook`,
        headers: { authorization: 'Bearer hook' },
      });
      const { bg } = await setup({ notifier });
      await bg.request(input);
      await vi.waitFor(() => expect(received).toHaveLength(1));
      const payload = JSON.parse(received[0]?.body as string);
      expect(payload.event).toMatchObject({
        type: 'breakglass.requested',
        retentionDays: 2555,
        details: { reason: 'INC-42' },
      });
      expect(payload.summary).toContain('rita');
      expect(received[0]?.auth).toBe('Bearer hook');
      status = 500;
      await expect(notifier.notify({ summary: 's', event: payload.event })).rejects.toThrow(/500/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(() => webhookNotifier({ url: 'ftp://x' })).toThrow();
  });
});
