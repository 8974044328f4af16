import {
  callbackNotifier,
  createBreakGlass,
  createKeySet,
  createPasswordHasher,
  createTokenService,
  type TokenEvent,
} from '@provisioning/auth';
import { createManualClock, memoryStore } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { platformUnderTest, runCheck, secretsOf, withOutage } from '../test/platform.js';
import { createDsrService } from './dsr.js';
import { memoryDsrStore } from './dsr-store.js';
import {
  apiKeysProvider,
  breakGlassLimitsReader,
  passwordHashingReader,
  sessionsProvider,
  tokenLifetimesReader,
  usersProvider,
} from './platform-auth.js';
import { createProviderRegistry, type DataProvider } from './providers.js';

const clock = createManualClock(new Date('2026-06-01T09:00:00Z'));
const subject = (subjectId: string) => ({ subjectId, requestId: 'req-1' });

async function dsrOver(...providers: DataProvider[]) {
  return createDsrService({
    store: memoryDsrStore(),
    providers: createProviderRegistry(providers),
    verifier: { verify: async () => ({ verified: true, method: 'session' }) },
    clock,
  });
}

async function run(dsr: Awaited<ReturnType<typeof dsrOver>>, submission: Parameters<typeof dsr.submit>[0]) {
  const req = await dsr.submit(submission);
  await dsr.verifyIdentity(req.id, null);
  return dsr.process(req.id);
}

describe('usersProvider over @provisioning/auth', () => {
  it('exports the profile without the password hash, and nothing for an unknown subject', async () => {
    const p = await platformUnderTest({ clock });
    const ada = await p.seedUser('ada', ['Admin', 'Operator']);
    const users = usersProvider({ users: p.users });
    const out = await users.export?.(subject(ada.id));
    expect(out).toMatchObject({
      subjectFound: true,
      records: 1,
      data: {
        id: ada.id,
        username: 'ada',
        email: 'ada@example.test',
        roles: ['Admin', 'Operator'],
        teams: ['platform'],
        disabled: false,
        hasPassword: true,
      },
    });
    const text = JSON.stringify(out);
    for (const secret of secretsOf(ada)) expect(text).not.toContain(secret);
    expect(text).not.toContain('argon2');
    expect(await users.export?.(subject('nobody'))).toEqual({ subjectFound: false, data: null, records: 0 });
  });

  it('rectifies the email; a malformed email or a username change is refused and changes nothing', async () => {
    const p = await platformUnderTest({ clock });
    const ada = await p.seedUser('ada');
    const dsr = await dsrOver(usersProvider({ users: p.users }));

    const ok = await run(dsr, { type: 'rectification', subjectId: ada.id, rectification: { email: 'ada@new.test' } });
    expect(ok.record.status).toBe('completed');
    expect(ok.record.providers.users).toMatchObject({ status: 'succeeded', affected: 1 });
    expect((await p.users.findById(ada.id))?.email).toBe('ada@new.test');

    const bad = await run(dsr, {
      type: 'rectification',
      subjectId: ada.id,
      rectification: { email: 'not an address' },
    });
    expect(bad.record.status).toBe('failed');
    expect(bad.record.providers.users?.error?.code).toBe('ERR_COMPLIANCE_INVALID_INPUT');
    const renamed = await run(dsr, {
      type: 'rectification',
      subjectId: ada.id,
      rectification: { username: 'lovelace' },
    });
    expect(renamed.record.providers.users?.error?.code).toBe('ERR_COMPLIANCE_UNSUPPORTED_CHANGE');
    expect(await p.users.findById(ada.id)).toMatchObject({ username: 'ada', email: 'ada@new.test' });

    // `null` removes the address; fields of other providers are not this one's business.
    const users = usersProvider({ users: p.users });
    expect(await users.rectify?.(subject(ada.id), { email: null, phone: '+1 555' })).toEqual({
      subjectFound: true,
      affected: 1,
    });
    expect((await p.users.findById(ada.id))?.email).toBeUndefined();
    expect(await users.rectify?.(subject('nobody'), { email: 'x@y.test' })).toEqual({
      subjectFound: false,
      affected: 0,
    });
  });

  it('erases by deleting the account; a second erasure finds nothing', async () => {
    const p = await platformUnderTest({ clock });
    const ada = await p.seedUser('ada');
    const bob = await p.seedUser('bob');
    const users = usersProvider({ users: p.users });
    expect(await users.erase?.(subject(ada.id))).toEqual({ subjectFound: true, affected: 1, method: 'deleted' });
    expect(await p.users.findById(ada.id)).toBeUndefined();
    expect(await p.users.findByUsername('ada')).toBeUndefined();
    expect(await p.users.findById(bob.id)).toBeDefined();
    expect(await users.erase?.(subject(ada.id))).toEqual({ subjectFound: false, affected: 0, method: 'deleted' });
  });

  it('refuses a store without the needed operations at construction', () => {
    expect(() => usersProvider({ users: {} as never })).toThrow(
      expect.objectContaining({ code: 'ERR_COMPLIANCE_INVALID_OPTIONS' }),
    );
  });
});

describe('sessionsProvider over @provisioning/auth', () => {
  it('exports session metadata (never a token) and erasure revokes every token of the subject', async () => {
    const p = await platformUnderTest({ clock });
    const ada = await p.seedUser('ada');
    const bob = await p.seedUser('bob');
    const sessions = sessionsProvider({ tokens: p.tokens });
    const out = await sessions.export?.(subject(ada.id));
    expect(out?.records).toBe(2);
    expect(out?.data).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ip: '203.0.113.7', userAgent: 'Firefox/140.0', amr: ['pwd'] }),
        expect.objectContaining({ label: 'cli' }),
      ]),
    );
    for (const secret of secretsOf(ada)) expect(JSON.stringify(out)).not.toContain(secret);

    expect(await sessions.erase?.(subject(ada.id))).toEqual({ subjectFound: true, affected: 2, method: 'deleted' });
    await expect(p.tokens.verify(ada.accessToken)).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_REVOKED' });
    await expect(p.tokens.refresh(ada.refreshToken)).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_AUTH_/),
    });
    expect(await p.tokens.listSessions(ada.id)).toEqual([]);
    // Another user's sessions are untouched.
    expect(await p.tokens.verify(bob.accessToken)).toMatchObject({ sub: bob.id });
    expect(await sessions.erase?.(subject(ada.id))).toMatchObject({ subjectFound: false, affected: 0 });
  });

  it('is recorded failed, never succeeded, when the token store is down', async () => {
    const kv = withOutage(memoryStore({ clock }));
    const tokens = createTokenService({
      keys: await createKeySet({ generate: 'EdDSA', clock }),
      issuer: 'https://auth.test',
      audience: 'provisioning',
      store: kv.store,
      clock,
    });
    const issued = await tokens.issue({ subject: 'u1' });
    const dsr = await dsrOver(sessionsProvider({ tokens }));
    kv.down = true;
    const { record } = await run(dsr, { type: 'erasure', subjectId: 'u1' });
    expect(record.status).toBe('failed');
    expect(record.providers.sessions).toMatchObject({ status: 'failed', error: { code: 'ERR_STORE_UNAVAILABLE' } });
    kv.down = false;
    expect(await tokens.verify(issued.accessToken)).toMatchObject({ sub: 'u1' }); // nothing was revoked …
    const retried = await dsr.process(record.id); // … until the retry
    expect(retried.record.status).toBe('completed');
    await expect(tokens.verify(issued.accessToken)).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_REVOKED' });
  });
});

describe('apiKeysProvider over @provisioning/auth', () => {
  it('exports key metadata without the key, and erasure revokes every key (metadata retained, said so)', async () => {
    const p = await platformUnderTest({ clock });
    const ada = await p.seedUser('ada');
    const keys = apiKeysProvider({ apiKeys: p.apiKeys });
    const out = await keys.export?.(subject(ada.id));
    expect(out).toMatchObject({ subjectFound: true, records: 1, data: [{ name: "ada's laptop", scopes: ['read'] }] });
    expect(JSON.stringify(out)).not.toContain(ada.apiKey);
    const [info] = (out?.data ?? []) as { visiblePrefix: string }[];
    expect(ada.apiKey.startsWith(`${info?.visiblePrefix}_`)).toBe(true);

    const erased = await keys.erase?.(subject(ada.id));
    expect(erased).toMatchObject({ subjectFound: true, affected: 1, method: 'retained' });
    expect(erased?.note).toMatch(/revoked.*no delete operation/);
    await expect(p.apiKeys.verify(ada.apiKey)).rejects.toMatchObject({ code: 'ERR_AUTH_API_KEY_REVOKED' });
    expect(await keys.erase?.(subject('nobody'))).toEqual({ subjectFound: false, affected: 0, method: 'deleted' });
  });
});

describe('passwordHashingReader over @provisioning/auth', () => {
  it('passes with the hasher’s defaults (read from a real hash), fails below the OWASP minimum', async () => {
    const pass = await runCheck('auth.password-hashing', {
      passwordHashing: passwordHashingReader({ hasher: createPasswordHasher() }),
    });
    expect(pass).toMatchObject({ status: 'pass', evidence: ['argon2id m=19456 KiB t=2 p=1'] });
    const weak = await runCheck('auth.password-hashing', {
      passwordHashing: passwordHashingReader({ hasher: createPasswordHasher({ memoryCost: 7168, timeCost: 5 }) }),
    });
    expect(weak).toMatchObject({ status: 'fail', evidence: ['argon2id m=7168 KiB t=5 p=1'] });
    expect(weak.remediation).toContain('19456 KiB');
  });

  it('fails a hash it cannot read as argon2id, and a hasher that throws', async () => {
    const bcryptish = { hash: async () => '$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234' };
    const unknown = await runCheck('auth.password-hashing', {
      passwordHashing: passwordHashingReader({ hasher: bcryptish }),
    });
    expect(unknown.status).toBe('fail');
    expect(unknown.remediation).toContain('use argon2id (found unknown)');
    const broken = { hash: async () => Promise.reject(new Error('native binding missing')) };
    expect(
      (await runCheck('auth.password-hashing', { passwordHashing: passwordHashingReader({ hasher: broken }) })).status,
    ).toBe('fail');
  });
});

describe('tokenLifetimesReader over @provisioning/auth', () => {
  const service = async (options: { accessTtlSeconds?: number; refreshTtlSeconds?: number }, events: TokenEvent[]) =>
    createTokenService({
      keys: await createKeySet({ generate: 'EdDSA', clock }),
      issuer: 'https://auth.test',
      audience: 'provisioning',
      store: memoryStore({ clock }),
      clock,
      onEvent: (e) => events.push(e),
      ...options,
    });

  it('passes at the defaults, fails a long access or refresh lifetime, and leaves no live probe session', async () => {
    const events: TokenEvent[] = [];
    const tokens = await service({}, events);
    clock.advance(437); // not on a second boundary
    const pass = await runCheck('auth.token-lifetimes', { tokenLifetimes: tokenLifetimesReader({ tokens }) });
    expect(pass).toMatchObject({
      status: 'pass',
      evidence: ['access token TTL 900 s (limit 900 s)', 'refresh token TTL 604800 s (limit 604800 s)'],
    });
    const revoked = events.filter((e) => e.type === 'session.revoked');
    expect(revoked).toHaveLength(1);
    expect(revoked[0]?.subject).toMatch(/^compliance-probe:/);
    expect(await tokens.listSessions(revoked[0]?.subject as string)).toEqual([]);

    const longAccess = await service({ accessTtlSeconds: 3600 }, []);
    expect(
      (await runCheck('auth.token-lifetimes', { tokenLifetimes: tokenLifetimesReader({ tokens: longAccess }) })).status,
    ).toBe('fail');
    const longRefresh = await service({ refreshTtlSeconds: 30 * 86_400 }, []);
    const fail = await runCheck('auth.token-lifetimes', {
      tokenLifetimes: tokenLifetimesReader({ tokens: longRefresh }),
    });
    expect(fail).toMatchObject({
      status: 'fail',
      evidence: expect.arrayContaining(['refresh token TTL 2592000 s (limit 604800 s)']),
    });
  });

  it('fails when the probe session cannot be revoked', async () => {
    const tokens = await service({}, []);
    const leaky = { issue: tokens.issue, verify: tokens.verify, revokeSession: async () => {} };
    const result = await runCheck('auth.token-lifetimes', { tokenLifetimes: tokenLifetimesReader({ tokens: leaky }) });
    expect(result.status).toBe('fail');
    expect(result.evidence.join('\n')).toContain('ERR_COMPLIANCE_PROVIDER_FAILED');
  });
});

describe('breakGlassLimitsReader over @provisioning/auth', () => {
  const breakGlass = async (options: { maxDurationSeconds?: number } = {}) =>
    createBreakGlass({
      tokens: createTokenService({
        keys: await createKeySet({ generate: 'EdDSA', clock }),
        issuer: 'https://auth.test',
        audience: 'provisioning',
        store: memoryStore({ clock }),
        clock,
      }),
      store: memoryStore({ clock }),
      audit: { write: async () => {} },
      notifier: callbackNotifier(() => {}),
      clock,
      ...options,
    });

  it('passes with the limits in force; fails against a stricter organisation limit', async () => {
    const defaults = breakGlassLimitsReader({ breakGlass: await breakGlass() });
    expect(await runCheck('auth.break-glass-limits', { breakGlass: defaults })).toMatchObject({
      status: 'pass',
      evidence: ['approvers required: 2 from 2 team(s); max duration 14400 s; revoked after 1800 s idle'],
    });
    // Auth refuses to lift its limits, so the failing setup is an organisation that allows 1 h at most.
    const oneHour = { maxBreakGlassSeconds: 3600 };
    expect((await runCheck('auth.break-glass-limits', { breakGlass: defaults }, { limits: oneHour })).status).toBe(
      'fail',
    );
    const tight = breakGlassLimitsReader({ breakGlass: await breakGlass({ maxDurationSeconds: 3600 }) });
    expect((await runCheck('auth.break-glass-limits', { breakGlass: tight }, { limits: oneHour })).status).toBe('pass');
  });
});
