import { createManualClock, memoryStore } from '@provisioning/core';
import argon2 from 'argon2';
import { describe, expect, it } from 'vitest';
import { expectAuthError, fixture, T0 } from '../test/helpers.js';
import { createAuthenticator } from './authenticator.js';
import { createPasswordHasher } from './passwords.js';
import { createLoginThrottle } from './throttle.js';
import { memoryUserStore } from './users.js';

// Fast parameters keep the suite quick; the defaults are asserted separately.
const fast = createPasswordHasher({ memoryCost: 7168, timeCost: 1 });

describe('password hashing', () => {
  it('defaults to Argon2id with m=19456 KiB, t=2, p=1 (OWASP minimum)', async () => {
    const hasher = createPasswordHasher();
    expect(hasher.parameters).toEqual({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await hasher.verify(hash, 'correct horse battery staple')).toBe(true);
    expect(await hasher.verify(hash, 'correct horse battery stapl')).toBe(false);
  });

  it('normalises passwords (NFKC) so one password typed two ways verifies', async () => {
    const hash = await fast.hash('caf\u00e9');
    expect(await fast.verify(hash, 'cafe\u0301')).toBe(true);
  });

  it('refuses empty and over-long passwords and parameters below the floor', async () => {
    await expectAuthError(fast.hash(''), 'ERR_AUTH_WEAK_PASSWORD');
    await expectAuthError(fast.hash('x'.repeat(1025)), 'ERR_AUTH_WEAK_PASSWORD');
    expect(await fast.verify(await fast.hash('pw'), 'x'.repeat(5000))).toBe(false);
    expect(() => createPasswordHasher({ memoryCost: 1024 })).toThrow();
    expect(() => createPasswordHasher({ parallelism: 0 })).toThrow();
  });

  it('verifies malformed hashes as false instead of throwing', async () => {
    expect(await fast.verify('not-a-hash', 'pw')).toBe(false);
    expect(await fast.verify('$argon2id$garbage', 'pw')).toBe(false);
  });

  it('needsRehash flags weaker parameters and other algorithms', async () => {
    const strong = createPasswordHasher();
    expect(strong.needsRehash(await fast.hash('pw'))).toBe(true);
    expect(strong.needsRehash(await strong.hash('pw'))).toBe(false);
    expect(
      strong.needsRehash(
        await argon2.hash('pw', { type: argon2.argon2i, memoryCost: 19456, timeCost: 2, parallelism: 1 }),
      ),
    ).toBe(true);
    expect(strong.needsRehash('$2b$10$bcrypt')).toBe(true);
  });

  it('hashing does not block the event loop', async () => {
    const hasher = createPasswordHasher();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await Promise.all([hasher.hash('a'), hasher.hash('b')]);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(3);
  });
});

async function setup(throttleOptions: Parameters<typeof createLoginThrottle>[0] | undefined = undefined) {
  const { tokens, clock } = await fixture();
  const users = memoryUserStore({ clock });
  const store = memoryStore({ clock });
  const throttle = createLoginThrottle(throttleOptions ?? { store, clock });
  const auth = createAuthenticator({ users, hasher: fast, tokens, throttle, clock });
  await auth.createUser({ id: 'u-ada', username: 'ada', password: 'right password', roles: ['Developer'] });
  return { auth, users, tokens, clock, store };
}

describe('login', () => {
  it('logs in, issues tokens with the roles, and never returns the hash', async () => {
    const { auth, tokens } = await setup();
    const result = await auth.login({ username: 'ADA', password: 'right password', ip: '10.0.0.1' });
    expect(result.user).toMatchObject({ id: 'u-ada', username: 'ada', roles: ['Developer'] });
    expect(result.user).not.toHaveProperty('passwordHash');
    const claims = await tokens.verify(result.tokens?.accessToken as string);
    expect(claims).toMatchObject({ sub: 'u-ada', roles: ['Developer'], amr: ['pwd'] });
  });

  it('does not reveal whether a user exists: same error and same Argon2id work for unknown user and wrong password', async () => {
    const { auth } = await setup();
    let verifies = 0;
    const counting = {
      ...fast,
      verify: async (h: string, p: string) => {
        verifies++;
        return fast.verify(h, p);
      },
    };
    const users = memoryUserStore();
    await users.create({ username: 'ada', passwordHash: await fast.hash('right password') });
    await users.create({ username: 'off', passwordHash: await fast.hash('right password'), disabled: true });
    await users.create({ username: 'sso' });
    const probe = createAuthenticator({ users, hasher: counting });
    const errors = [];
    for (const [username, password] of [
      ['ada', 'wrong'],
      ['nobody', 'wrong'],
      ['off', 'right password'],
      ['sso', 'x'],
      ['bad name', 'x'],
    ]) {
      const before = verifies;
      errors.push(
        await expectAuthError(
          probe.login({ username: username as string, password: password as string }),
          'ERR_AUTH_INVALID_CREDENTIALS',
          [password as string],
        ),
      );
      expect(verifies - before, `one Argon2id verification for ${username}`).toBe(1);
    }
    expect(new Set(errors.map((e) => e.message)).size).toBe(1);
    expect(new Set(errors.map((e) => JSON.stringify(e.details))).size).toBe(1);
    void auth;
  });

  it('upgrades an outdated hash on successful login (needsRehash)', async () => {
    const users = memoryUserStore();
    const old = await fast.hash('pw');
    await users.create({ id: 'u', username: 'ada', passwordHash: old });
    const auth = createAuthenticator({ users, hasher: createPasswordHasher() });
    const result = await auth.login({ username: 'ada', password: 'pw' });
    expect(result.rehashed).toBe(true);
    const stored = (await users.findById('u'))?.passwordHash as string;
    expect(stored).toMatch(/m=19456,p=1,t=2/);
    expect((await auth.login({ username: 'ada', password: 'pw' })).rehashed).toBe(false);
  });

  it('locks an account after 5 failures with doubling backoff, for existing and unknown users alike', async () => {
    const { auth, clock } = await setup();
    for (const username of ['ada', 'ghost']) {
      for (let i = 0; i < 5; i++)
        await expectAuthError(auth.login({ username, password: 'wrong' }), 'ERR_AUTH_INVALID_CREDENTIALS');
      const locked = await expectAuthError(auth.login({ username, password: 'right password' }), 'ERR_AUTH_LOCKED_OUT');
      expect(locked.details.retryAfterSeconds).toBe(60);
      expect(locked.retryable).toBe(true);
    }
    clock.advance(61_000);
    await expectAuthError(auth.login({ username: 'ada', password: 'wrong' }), 'ERR_AUTH_INVALID_CREDENTIALS');
    expect(
      (await expectAuthError(auth.login({ username: 'ada', password: 'x' }), 'ERR_AUTH_LOCKED_OUT')).details
        .retryAfterSeconds,
    ).toBe(120);
    clock.advance(121_000);
    await expect(auth.login({ username: 'ada', password: 'right password' })).resolves.toBeDefined();
    // Success resets the account's count.
    for (let i = 0; i < 4; i++)
      await expectAuthError(auth.login({ username: 'ada', password: 'wrong' }), 'ERR_AUTH_INVALID_CREDENTIALS');
    await expect(auth.login({ username: 'ada', password: 'right password' })).resolves.toBeDefined();
  });

  it('locks an IP address that fails across many accounts', async () => {
    const clock = createManualClock(T0);
    const store = memoryStore({ clock });
    const { auth } = await setup({ store, clock, ip: { maxFailures: 3, windowSeconds: 60 } });
    for (const username of ['a1', 'a2', 'a3'])
      await expectAuthError(auth.login({ username, password: 'x', ip: '203.0.113.9' }), 'ERR_AUTH_INVALID_CREDENTIALS');
    await expectAuthError(
      auth.login({ username: 'ada', password: 'right password', ip: '203.0.113.9' }),
      'ERR_AUTH_LOCKED_OUT',
    );
    await expect(
      auth.login({ username: 'ada', password: 'right password', ip: '198.51.100.1' }),
    ).resolves.toBeDefined();
  });

  it('the lockout is shared by instances on one store', async () => {
    const clock = createManualClock(T0);
    const store = memoryStore({ clock });
    const one = await setup({ store, clock });
    const two = await setup({ store, clock });
    for (let i = 0; i < 5; i++)
      await expectAuthError(one.auth.login({ username: 'ada', password: 'wrong' }), 'ERR_AUTH_INVALID_CREDENTIALS');
    await expectAuthError(two.auth.login({ username: 'ada', password: 'right password' }), 'ERR_AUTH_LOCKED_OUT');
  });

  it('setPassword ends existing sessions', async () => {
    const { auth, tokens, clock } = await setup();
    const { tokens: issued } = await auth.login({ username: 'ada', password: 'right password' });
    clock.advance(1000);
    await auth.setPassword('u-ada', 'new password');
    await expectAuthError(tokens.verify(issued?.accessToken as string), 'ERR_AUTH_TOKEN_REVOKED');
    await expectAuthError(auth.login({ username: 'ada', password: 'right password' }), 'ERR_AUTH_INVALID_CREDENTIALS');
    clock.advance(1000);
    await expect(auth.login({ username: 'ada', password: 'new password' })).resolves.toBeDefined();
  });
});
