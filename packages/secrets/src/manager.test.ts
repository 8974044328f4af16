import { createManualClock, type ManualClock } from '@provisioning/core';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeProvider } from '../test/fake-provider.js';
import { SecretsError } from './errors.js';
import type { Lease, LeaseStore } from './lease.js';
import { createLeaseManager, type LeaseEvent, type LeaseManager } from './manager.js';
import {
  type ProviderCreateContext,
  type ProviderCreateResult,
  type SecretProvider,
  synchronousCreate,
  synchronousLocalProvider,
} from './provider.js';
import { memoryLeaseStore } from './stores/memory.js';

describe('lease manager', () => {
  let clock: ManualClock;
  let store: LeaseStore;
  let provider: ReturnType<typeof fakeProvider>;
  let events: LeaseEvent[];
  let leases: LeaseManager;

  beforeEach(() => {
    clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    store = memoryLeaseStore();
    provider = fakeProvider();
    events = [];
    leases = createLeaseManager({
      store,
      providers: [provider],
      clock,
      maxTtlSeconds: 3600,
      providerTimeoutMs: 50,
      retry: { initialDelayMs: 1000, maxDelayMs: 8000 },
      onEvent: (e) => events.push(e),
    });
  });

  it('issues a lease with every field and persists it, not the secret', async () => {
    const { lease, secret } = await leases.issue(provider, { scope: 'db' }, { owner: 'alice', ttlSeconds: 600 });
    expect(secret).toBe(`secret-for-${lease.id}`);
    expect(lease).toMatchObject({
      provider: 'fake',
      owner: 'alice',
      ttlSeconds: 600,
      maxTtlSeconds: 3600,
      renewable: true,
      state: 'active',
      metadata: { scope: 'db' },
      createdAt: new Date('2026-01-01T00:00:00Z'),
      expiresAt: new Date('2026-01-01T00:10:00Z'),
      maxExpiresAt: new Date('2026-01-01T01:00:00Z'),
    });
    expect(lease.id).toMatch(/^fake\/[0-9a-f-]{36}$/);
    expect(await leases.get(lease.id)).toEqual(lease);
    expect(JSON.stringify(await store.list())).not.toContain('secret-for');
    expect(events.map((e) => e.type)).toEqual(['lease.created']);
    expect(JSON.stringify(events)).not.toContain('secret-for');
  });

  it('rejects invalid TTLs with ERR_SECRETS_INVALID_TTL and stores nothing', async () => {
    for (const ttlSeconds of [0, -5, 1.5, Number.NaN, 3601]) {
      await expect(leases.issue(provider, { scope: 'x' }, { owner: 'a', ttlSeconds })).rejects.toMatchObject({
        code: 'ERR_SECRETS_INVALID_TTL',
      });
    }
    await expect(
      leases.issue(provider, { scope: 'x' }, { owner: 'a', ttlSeconds: 100, maxTtlSeconds: 50 }),
    ).rejects.toMatchObject({ code: 'ERR_SECRETS_INVALID_TTL' });
    await expect(leases.renew('fake/none', { ttlSeconds: -1 })).rejects.toMatchObject({
      code: 'ERR_SECRETS_LEASE_NOT_FOUND',
    });
    expect(await store.list()).toEqual([]);
    expect(provider.calls).toEqual([]);
  });

  it('refuses unknown leases and unregistered providers', async () => {
    await expect(leases.get('fake/nope')).rejects.toMatchObject({ code: 'ERR_SECRETS_LEASE_NOT_FOUND' });
    await expect(leases.revoke('fake/nope')).rejects.toMatchObject({ code: 'ERR_SECRETS_LEASE_NOT_FOUND' });
    await expect(leases.renew('fake/nope')).rejects.toMatchObject({ code: 'ERR_SECRETS_LEASE_NOT_FOUND' });
    await expect(leases.issue(fakeProvider('other'), { scope: 'x' }, { owner: 'a' })).rejects.toMatchObject({
      code: 'ERR_SECRETS_UNKNOWN_PROVIDER',
    });
    expect(() => createLeaseManager({ store, providers: [provider, fakeProvider()] })).toThrow(SecretsError);
  });

  it('renews up to the maximum TTL and no further', async () => {
    const { lease } = await leases.issue(provider, { scope: 'x' }, { owner: 'a', ttlSeconds: 1800 });
    clock.advance(1000 * 1000);
    const renewed = await leases.renew(lease.id);
    expect(renewed.expiresAt).toEqual(new Date(clock.now() + 1800 * 1000));
    clock.advance(1500 * 1000);
    // now = 2500 s; 2500 + 1800 > 3600: capped at the maximum
    const capped = await leases.renew(lease.id);
    expect(capped.expiresAt).toEqual(lease.maxExpiresAt);
    expect(capped.ttlSeconds).toBe(1100);
    await expect(leases.renew(lease.id)).rejects.toMatchObject({ code: 'ERR_SECRETS_LEASE_NOT_RENEWABLE' });
    expect(provider.calls.filter((c) => c.startsWith('renew'))).toHaveLength(2);
  });

  it('does not renew an expired or non-renewable lease', async () => {
    const { lease } = await leases.issue(provider, { scope: 'x' }, { owner: 'a', ttlSeconds: 60 });
    const fixed = await leases.issue(provider, { scope: 'y' }, { owner: 'a', ttlSeconds: 60, renewable: false });
    await expect(leases.renew(fixed.lease.id)).rejects.toMatchObject({ code: 'ERR_SECRETS_LEASE_NOT_RENEWABLE' });
    clock.advance(60_000);
    await expect(leases.renew(lease.id)).rejects.toMatchObject({ code: 'ERR_SECRETS_LEASE_NOT_RENEWABLE' });
  });

  it('keeps the old expiry when the provider fails to renew', async () => {
    const { lease } = await leases.issue(provider, { scope: 'x' }, { owner: 'a', ttlSeconds: 60 });
    provider.state.failRenew = true;
    clock.advance(10_000);
    await expect(leases.renew(lease.id)).rejects.toMatchObject({ code: 'ERR_SECRETS_PROVIDER_FAILED' });
    expect((await leases.get(lease.id)).expiresAt).toEqual(lease.expiresAt);
  });

  it('revokes through the provider and deletes the lease', async () => {
    const { lease } = await leases.issue(provider, { scope: 'x' }, { owner: 'a' });
    expect(provider.live.has(lease.id)).toBe(true);
    await leases.revoke(lease.id);
    expect(provider.live.has(lease.id)).toBe(false);
    await expect(leases.get(lease.id)).rejects.toMatchObject({ code: 'ERR_SECRETS_LEASE_NOT_FOUND' });
    expect(events.at(-1)).toMatchObject({ type: 'lease.revoked', leaseId: lease.id, reason: 'revoked' });
  });

  it('never loses a lease whose provider fails to revoke: it is kept, backed off, reported and retried', async () => {
    const { lease } = await leases.issue(provider, { scope: 'x' }, { owner: 'a' });
    provider.state.failRevoke = 3;
    const error = await leases.revoke(lease.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretsError);
    expect(error).toMatchObject({ code: 'ERR_SECRETS_PROVIDER_FAILED', retryable: true });
    const kept = await leases.get(lease.id);
    expect(kept).toMatchObject({ state: 'revoking', revokeAttempts: 1, lastErrorCode: 'ERR_SECRETS_PROVIDER_FAILED' });
    expect(kept.nextAttemptAt).toEqual(new Date(clock.now() + 1000));
    // Not due before the backoff has passed.
    expect(await leases.sweep()).toEqual({ revoked: [], pending: [] });
    clock.advance(1000);
    expect(await leases.sweep()).toEqual({ revoked: [], pending: [lease.id] });
    expect((await leases.get(lease.id)).nextAttemptAt).toEqual(new Date(clock.now() + 2000));
    clock.advance(2000);
    await leases.sweep();
    expect((await leases.get(lease.id)).nextAttemptAt).toEqual(new Date(clock.now() + 4000));
    clock.advance(4000);
    expect(await leases.sweep()).toEqual({ revoked: [lease.id], pending: [] });
    expect(provider.live.has(lease.id)).toBe(false);
    const failures = events.filter((e) => e.type === 'lease.revoke_failed');
    expect(failures.map((e) => (e as { attempts: number }).attempts)).toEqual([1, 2, 3]);
  });

  it('caps the retry backoff at maxDelayMs', async () => {
    const { lease } = await leases.issue(provider, { scope: 'x' }, { owner: 'a' });
    provider.state.failRevoke = 100;
    await leases.revoke(lease.id).catch(() => {});
    for (let i = 0; i < 6; i++) {
      clock.advance(8000);
      await leases.sweep();
    }
    const kept = await leases.get(lease.id);
    expect(kept.revokeAttempts).toBe(7);
    expect(kept.nextAttemptAt).toEqual(new Date(clock.now() + 8000));
  });

  it('treats a revoke timeout as a failure and retries', async () => {
    const { lease } = await leases.issue(provider, { scope: 'x' }, { owner: 'a' });
    provider.state.hangRevoke = true;
    await expect(leases.revoke(lease.id)).rejects.toMatchObject({ code: 'ERR_SECRETS_PROVIDER_TIMEOUT' });
    provider.state.hangRevoke = false;
    clock.advance(1000);
    expect((await leases.sweep()).revoked).toEqual([lease.id]);
  });

  it('a failed create leaves no lease and no secret; its message holds no backend text', async () => {
    provider.state.failCreate = true;
    const error = (await leases
      .issue(provider, { scope: 'x' }, { owner: 'a' })
      .catch((e: unknown) => e)) as SecretsError;
    expect(error.code).toBe('ERR_SECRETS_PROVIDER_FAILED');
    expect(JSON.stringify(error.toJSON())).not.toContain('hunter2');
    expect(String(error.cause ?? '')).not.toContain('hunter2');
    expect(await store.list()).toEqual([]);
  });

  it('a create that times out keeps the lease and revokes what may have been created', async () => {
    provider.state.hangCreate = true;
    await expect(leases.issue(provider, { scope: 'x' }, { owner: 'a' })).rejects.toMatchObject({
      code: 'ERR_SECRETS_PROVIDER_TIMEOUT',
    });
    expect(provider.live.size).toBe(1);
    const [pending] = await store.list();
    expect(pending?.state).toBe('revoking');
    expect((await leases.sweep()).revoked).toEqual([pending?.id]);
    expect(provider.live.size).toBe(0);
  });

  it('sweeps expired leases, and only those', async () => {
    const short = await leases.issue(provider, { scope: 'a' }, { owner: 'a', ttlSeconds: 60 });
    const long = await leases.issue(provider, { scope: 'b' }, { owner: 'a', ttlSeconds: 600 });
    clock.advance(60_000);
    expect(await leases.sweep()).toEqual({ revoked: [short.lease.id], pending: [] });
    expect(provider.live.has(long.lease.id)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'lease.revoked', reason: 'expired' });
  });

  it('revokes by owner and by prefix', async () => {
    const other = fakeProvider('other');
    const multi = createLeaseManager({ store, providers: [provider, other], clock });
    const a1 = await multi.issue(provider, { scope: '1' }, { owner: 'alice' });
    const a2 = await multi.issue(other, { scope: '2' }, { owner: 'alice' });
    const b1 = await multi.issue(provider, { scope: '3' }, { owner: 'bob' });
    const b2 = await multi.issue(other, { scope: '4' }, { owner: 'bob' });
    expect((await multi.revokeByOwner('alice')).revoked.sort()).toEqual([a1.lease.id, a2.lease.id].sort());
    expect(await multi.revokeByPrefix('other/')).toEqual({ revoked: [b2.lease.id], pending: [] });
    expect((await multi.list()).map((l: Lease) => l.id)).toEqual([b1.lease.id]);
    await expect(multi.revokeByPrefix('')).rejects.toMatchObject({ code: 'ERR_SECRETS_INVALID_REQUEST' });
  });

  it('a lease whose provider is no longer registered is kept and reported, not dropped', async () => {
    const { lease } = await leases.issue(provider, { scope: 'x' }, { owner: 'a', ttlSeconds: 60 });
    const without = createLeaseManager({ store, providers: [], clock, retry: { initialDelayMs: 1000 } });
    clock.advance(60_000);
    expect(await without.sweep()).toEqual({ revoked: [], pending: [lease.id] });
    expect((await store.get(lease.id))?.lastErrorCode).toBe('ERR_SECRETS_UNKNOWN_PROVIDER');
    clock.advance(1000);
    expect((await leases.sweep()).revoked).toEqual([lease.id]);
  });

  it('two instances sweeping the same store revoke each lease once', async () => {
    const second = createLeaseManager({ store, providers: [provider], clock });
    for (let i = 0; i < 10; i++) await leases.issue(provider, { scope: String(i) }, { owner: 'a', ttlSeconds: 60 });
    clock.advance(60_000);
    const [r1, r2] = await Promise.all([leases.sweep(), second.sweep()]);
    expect(r1.revoked.length + r2.revoked.length).toBe(10);
    expect(provider.calls.filter((c) => c.startsWith('revoke'))).toHaveLength(10);
  });

  describe('local providers (the secret exists only in this process until returned)', () => {
    const localProvider = (): SecretProvider<{ scope: string }, string> & { made: string[] } => {
      const made: string[] = [];
      return {
        name: 'local',
        local: true,
        made,
        async create(req, ctx) {
          // Nothing is persisted yet: the lease is written once, after this.
          expect(await store.get(ctx.leaseId)).toBeUndefined();
          made.push(ctx.leaseId);
          return { secret: `local-secret-${ctx.leaseId}`, metadata: { scope: req.scope } };
        },
        async revoke() {},
      };
    };

    it('persists the lease once, already active, after create', async () => {
      const local = localProvider();
      const m = createLeaseManager({ store, providers: [local], clock, onEvent: (e) => events.push(e) });
      const { lease, secret } = await m.issue(local, { scope: 's' }, { owner: 'alice', ttlSeconds: 60 });
      expect(secret).toBe(`local-secret-${lease.id}`);
      expect(await store.get(lease.id)).toEqual(lease);
      expect(lease).toMatchObject({ state: 'active', owner: 'alice', metadata: { scope: 's' }, renewable: false });
      expect(events.map((e) => e.type)).toEqual(['lease.created']);
      // Expiry and revocation work as for any lease.
      clock.advance(60_000);
      expect((await m.sweep()).revoked).toEqual([lease.id]);
    });

    it('drops the secret when the lease cannot be written: nothing is returned, nothing is stored', async () => {
      const local = localProvider();
      const failing: LeaseStore = {
        ...store,
        insert: async () => {
          throw new SecretsError('disk full', { code: 'ERR_SECRETS_PROVIDER_FAILED', fault: 'server' });
        },
      };
      const m = createLeaseManager({ store: failing, providers: [local], clock });
      await expect(m.issue(local, { scope: 's' }, { owner: 'a', ttlSeconds: 60 })).rejects.toThrow('disk full');
      expect(local.made).toHaveLength(1);
      expect(await store.list()).toEqual([]);
    });
  });

  // The package's own key pair and certificate providers make their secret
  // synchronously; the manager calls that function directly (no promise, no
  // timer). Everything a local provider guarantees must hold on that path too.
  describe('synchronous local providers', () => {
    const syncProvider = (
      createNow: (req: { scope: string }, ctx: ProviderCreateContext) => ProviderCreateResult<string>,
    ) => synchronousLocalProvider<{ scope: string }, string>({ name: 'sync', createNow, async revoke() {} });

    it('issues through the synchronous create: one active lease, written after create, with the context a provider expects', async () => {
      const seen: ProviderCreateContext[] = [];
      const sync = syncProvider((req, ctx) => {
        seen.push(ctx);
        return { secret: `s-${ctx.leaseId}`, metadata: { scope: req.scope } };
      });
      expect(sync.local).toBe(true);
      expect(synchronousCreate(sync)).toBeTypeOf('function');
      const spy = vi.spyOn(globalThis, 'setTimeout');
      try {
        const m = createLeaseManager({ store, providers: [sync], clock, onEvent: (e) => events.push(e) });
        const { lease, secret } = await m.issue(sync, { scope: 'x' }, { owner: 'alice', ttlSeconds: 60 });
        expect(secret).toBe(`s-${lease.id}`);
        expect(lease).toMatchObject({ state: 'active', version: 1, owner: 'alice', metadata: { scope: 'x' } });
        expect(lease.expiresAt.getTime() - lease.createdAt.getTime()).toBe(60_000);
        expect(await store.get(lease.id)).toEqual(lease);
        expect(events.map((e) => e.type)).toEqual(['lease.created']);
        const [ctx] = seen;
        expect(ctx).toMatchObject({ leaseId: lease.id, owner: 'alice', ttlSeconds: 60, expiresAt: lease.expiresAt });
        expect(ctx?.clock).toBe(clock);
        expect(ctx?.signal).toBeInstanceOf(AbortSignal);
        expect(ctx?.signal.aborted).toBe(false);
        // No timer for a call that cannot outlive its timeout.
        expect(spy.mock.calls.filter(([, ms]) => ms === 10_000)).toHaveLength(0);
      } finally {
        spy.mockRestore();
      }
      // Its public create is the same function behind a promise.
      await expect(sync.create({ scope: 'y' }, seen[0] as ProviderCreateContext)).resolves.toMatchObject({
        metadata: { scope: 'y' },
      });
    });

    it('settles within two microtask turns on the memory store: the store write is the only promise it waits on', async () => {
      // The asynchronous path (provider promise, timeout bookkeeping, two
      // async frames) took five; a regression to it fails here.
      const sync = syncProvider(() => ({ secret: 's' }));
      const m = createLeaseManager({ store, providers: [sync], clock });
      let settled = false;
      const pending = m.issue(sync, { scope: 'x' }, { owner: 'a', ttlSeconds: 60 }).then(() => {
        settled = true;
      });
      let turns = 0;
      while (!settled && turns < 10) {
        await Promise.resolve();
        turns++;
      }
      await pending;
      expect(turns).toBeLessThanOrEqual(2);
    });

    it('maps a throwing create as any provider failure: a typed error without its message, nothing stored', async () => {
      const sync = syncProvider(() => {
        throw new Error('engine failed, key=AAAAsecret');
      });
      const m = createLeaseManager({ store, providers: [sync], clock, onEvent: (e) => events.push(e) });
      const pending = m.issue(sync, { scope: 'x' }, { owner: 'a', ttlSeconds: 60 });
      const error = await pending.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SecretsError);
      expect(error).toMatchObject({
        code: 'ERR_SECRETS_PROVIDER_FAILED',
        details: { provider: 'sync', operation: 'create' },
      });
      expect(JSON.stringify(error) + String((error as Error).message)).not.toContain('AAAAsecret');
      expect(events).toMatchObject([
        { type: 'lease.create_failed', code: 'ERR_SECRETS_PROVIDER_FAILED', pendingRevocation: false },
      ]);
      expect(await store.list()).toEqual([]);
      // A client error of the provider's own passes through unchanged.
      const refusing = synchronousLocalProvider<unknown, string>({
        name: 'refusing',
        createNow: () => {
          throw new SecretsError('no principals', { code: 'ERR_SECRETS_INVALID_REQUEST', fault: 'client' });
        },
        async revoke() {},
      });
      const m2 = createLeaseManager({ store, providers: [refusing], clock });
      await expect(m2.issue(refusing, {}, { owner: 'a', ttlSeconds: 60 })).rejects.toMatchObject({
        code: 'ERR_SECRETS_INVALID_REQUEST',
        message: 'no principals',
      });
    });

    it('refuses bad metadata and drops the secret when the store fails, whether it rejects or throws', async () => {
      const bad = syncProvider(() => ({ secret: 's', metadata: { n: 1 } as unknown as Record<string, string> }));
      const m = createLeaseManager({ store, providers: [bad], clock, onEvent: (e) => events.push(e) });
      await expect(m.issue(bad, { scope: 'x' }, { owner: 'a', ttlSeconds: 60 })).rejects.toMatchObject({
        code: 'ERR_SECRETS_INVALID_REQUEST',
      });
      expect(events.map((e) => e.type)).toEqual(['lease.create_failed']);
      const made: string[] = [];
      const good = syncProvider((_req, ctx) => {
        made.push(ctx.leaseId);
        return { secret: 's' };
      });
      const diskFull = new SecretsError('disk full', { code: 'ERR_SECRETS_PROVIDER_FAILED', fault: 'server' });
      const rejecting: LeaseStore = { ...store, insert: async () => Promise.reject(diskFull) };
      const throwing: LeaseStore = {
        ...store,
        insert: () => {
          throw diskFull;
        },
      };
      for (const failing of [rejecting, throwing]) {
        const mf = createLeaseManager({ store: failing, providers: [good], clock, onEvent: (e) => events.push(e) });
        let pending: Promise<unknown> | undefined;
        expect(() => {
          pending = mf.issue(good, { scope: 'x' }, { owner: 'a', ttlSeconds: 60 });
        }).not.toThrow();
        await expect(pending).rejects.toBe(diskFull);
      }
      expect(made).toHaveLength(2);
      expect(await store.list()).toEqual([]);
      // No lease.created for a lease that was never written.
      expect(events.map((e) => e.type)).toEqual(['lease.create_failed']);
    });

    it('rejects bad arguments instead of throwing, and a copy of the provider takes the asynchronous path', async () => {
      const sync = syncProvider(() => ({ secret: 's' }));
      const m = createLeaseManager({ store, providers: [sync], clock, maxTtlSeconds: 3600 });
      let pending: Promise<unknown> | undefined;
      expect(() => {
        pending = m.issue(sync, { scope: 'x' }, { owner: '', ttlSeconds: 60 });
      }).not.toThrow();
      await expect(pending).rejects.toMatchObject({ code: 'ERR_SECRETS_INVALID_REQUEST' });
      await expect(m.issue(sync, { scope: 'x' }, { owner: 'a', ttlSeconds: 3601 })).rejects.toMatchObject({
        code: 'ERR_SECRETS_INVALID_TTL',
      });
      const copy = { ...sync, name: 'copy' };
      expect(synchronousCreate(copy)).toBeUndefined();
      const mc = createLeaseManager({ store, providers: [copy], clock });
      const { lease, secret } = await mc.issue(copy, { scope: 'x' }, { owner: 'a', ttlSeconds: 60 });
      expect(secret).toBe('s');
      expect(await store.get(lease.id)).toEqual(lease);
    });
  });

  // The abort signal is made only when a provider reads it (an AbortController
  // per call was a measurable share of a certificate); providers that do read
  // it must see exactly what an eager signal would show.
  describe('the provider call signal', () => {
    const signalProvider = (name: string, body: (ctx: { signal: AbortSignal }) => Promise<void>) =>
      ({
        name,
        async create(_req: unknown, ctx: { signal: AbortSignal }) {
          await body(ctx);
          return { secret: 's' };
        },
        async revoke(_lease: Lease, ctx: { signal: AbortSignal }) {
          await body(ctx);
        },
      }) satisfies SecretProvider<unknown, string>;

    it('aborts the signal a waiting provider holds when the timeout elapses', async () => {
      const seen: boolean[] = [];
      const waiting = signalProvider('waiting', async (ctx) => {
        const { signal } = ctx;
        seen.push(signal.aborted);
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
        seen.push(signal.aborted);
      });
      const m = createLeaseManager({ store, providers: [waiting], clock, providerTimeoutMs: 30 });
      await expect(m.issue(waiting, {}, { owner: 'a', ttlSeconds: 60 })).rejects.toMatchObject({
        code: 'ERR_SECRETS_PROVIDER_TIMEOUT',
      });
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(seen).toEqual([false, true]);
    });

    it('a signal first read after the timeout is already aborted', async () => {
      let late: boolean | undefined;
      const slow = signalProvider('slow', async (ctx) => {
        await new Promise((resolve) => setTimeout(resolve, 80));
        late = ctx.signal.aborted;
      });
      const m = createLeaseManager({ store, providers: [slow], clock, providerTimeoutMs: 30 });
      await expect(m.issue(slow, {}, { owner: 'a', ttlSeconds: 60 })).rejects.toMatchObject({
        code: 'ERR_SECRETS_PROVIDER_TIMEOUT',
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(late).toBe(true);
    });

    it('arms a timer only for a provider that has not answered within a microtask; the timeout still holds', async () => {
      const spy = vi.spyOn(globalThis, 'setTimeout');
      try {
        // Makes its secret without waiting on anything, as the key pair and certificate providers do.
        const quick = {
          name: 'quick',
          async create() {
            return { secret: 's' };
          },
          async revoke() {},
        } satisfies SecretProvider<unknown, string>;
        const hops = signalProvider('hops', async () => {
          for (let i = 0; i < 20; i++) await Promise.resolve();
        });
        const hanging = signalProvider('hanging', () => new Promise<void>(() => {}));
        const throwing = {
          name: 'throwing',
          create: () => {
            throw new Error('sync failure, password=hunter2');
          },
          async revoke() {},
        } satisfies SecretProvider<unknown, string>;
        const m = createLeaseManager({
          store,
          providers: [quick, hops, hanging, throwing],
          clock,
          providerTimeoutMs: 30,
        });
        await m.issue(quick, {}, { owner: 'a', ttlSeconds: 60 });
        const armedByQuick = spy.mock.calls.filter(([, ms]) => ms === 30).length;
        await m.issue(hops, {}, { owner: 'a', ttlSeconds: 60 });
        await expect(m.issue(hanging, {}, { owner: 'a', ttlSeconds: 60 })).rejects.toMatchObject({
          code: 'ERR_SECRETS_PROVIDER_TIMEOUT',
        });
        const error = await m.issue(throwing, {}, { owner: 'a', ttlSeconds: 60 }).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'ERR_SECRETS_PROVIDER_FAILED' });
        expect(String((error as Error).message)).not.toContain('hunter2');
        expect(armedByQuick).toBe(0);
        // hops and hanging were armed (hops answered before it fired); throwing rejected at once.
        expect(spy.mock.calls.filter(([, ms]) => ms === 30).length).toBe(2);
      } finally {
        spy.mockRestore();
      }
    });

    it('a copied context carries a live signal, for create and for revoke', async () => {
      const signals: AbortSignal[] = [];
      const copying = signalProvider('copying', async (ctx) => {
        const copy = { ...ctx };
        signals.push(copy.signal);
      });
      const m = createLeaseManager({ store, providers: [copying], clock, providerTimeoutMs: 1000 });
      const { lease } = await m.issue(copying, {}, { owner: 'a', ttlSeconds: 60 });
      await m.revoke(lease.id);
      expect(signals).toHaveLength(2);
      for (const signal of signals) {
        expect(signal).toBeInstanceOf(AbortSignal);
        expect(signal.aborted).toBe(false);
      }
      // One signal per call, not one shared by every call.
      expect(signals[0]).not.toBe(signals[1]);
    });
  });

  it('caps lease metadata at 16 KiB of JSON, escapes and UTF-8 counted, whichever way the size is checked', async () => {
    const echo: SecretProvider<{ metadata: unknown }, string> = {
      name: 'echo',
      local: true,
      async create(req) {
        return { secret: 's', metadata: req.metadata as Record<string, string> };
      },
      async revoke() {},
    };
    const m = createLeaseManager({ store, providers: [echo], clock });
    const issue = (metadata: unknown) => m.issue(echo, { metadata }, { owner: 'a', ttlSeconds: 60 });
    const tooLarge = { code: 'ERR_SECRETS_INVALID_REQUEST', message: expect.stringContaining('16384 bytes') };
    // `{"k":"…"}` is 8 bytes besides the value.
    await expect(issue({ k: 'a'.repeat(16_376) })).resolves.toBeDefined();
    await expect(issue({ k: 'a'.repeat(16_377) })).rejects.toMatchObject(tooLarge);
    // A control character is 6 bytes of JSON (\u0001), é is 2 bytes of UTF-8.
    await expect(issue({ k: '\u0001'.repeat(2729) })).resolves.toBeDefined();
    await expect(issue({ k: '\u0001'.repeat(2730) })).rejects.toMatchObject(tooLarge);
    await expect(issue({ k: 'é'.repeat(8188) })).resolves.toBeDefined();
    await expect(issue({ k: 'é'.repeat(8189) })).rejects.toMatchObject(tooLarge);
    // Many small entries: within the quick bound, nothing to measure exactly.
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`key${i}`, `value ${i}`]));
    const { lease } = await issue(many);
    expect(lease.metadata).toEqual(many);
    await expect(issue({ k: 1 })).rejects.toMatchObject({ code: 'ERR_SECRETS_INVALID_REQUEST' });
    await expect(issue(['x'])).rejects.toMatchObject({ code: 'ERR_SECRETS_INVALID_REQUEST' });
  });
});
