// The combined TOTP path (MfaStore.guardedClaimAndTouch: the claim and the
// lastUsedAt write in one transaction) against the fallback (guardedClaim,
// then touchDevice): the same verifications give the same results and leave
// the same stored state; lastUsedAt is written with a success that is due,
// and never on a failure.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyValueStore, ManualClock, RandomSource } from '@provisioning/core';
import { createManualClock, memoryStore } from '@provisioning/core';
import type { SqlDatabase } from '@provisioning/core/sql';
import { sqliteDatabase, sqliteStore } from '@provisioning/core/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { codeFor, RP, START } from '../test/helpers.js';
import { localAesGcmEncrypter } from './encrypter.js';
import type { MfaService } from './service.js';
import { createMfaService, LAST_USED_GRANULARITY_MS } from './service.js';
import { sqlMfaStore } from './sql.js';
import type { MfaStore } from './store.js';
import { memoryMfaStore } from './stores/memory.js';

const dir = mkdtempSync(join(tmpdir(), 'mfa-one-commit-'));
const databases: SqlDatabase[] = [];
afterAll(async () => {
  for (const d of databases) await d.close();
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;
const database = (): SqlDatabase => {
  const d = sqliteDatabase({ filename: join(dir, `db-${n++}.db`) });
  databases.push(d);
  return d;
};

/** A reproducible RandomSource: the same seed gives the same device ids and secrets. */
function seededRandom(seed: string): RandomSource {
  let counter = 0;
  return {
    bytes(length) {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i += 32) {
        const block = createHash('sha256').update(`${seed}:${counter++}`).digest();
        out.set(block.subarray(0, Math.min(32, length - i)), i);
      }
      return out;
    },
  };
}

/** A PRNG for the script (mulberry32). */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'combined' | 'fallback (method hidden)' | 'fallback (kv on another database)' | 'memory';

async function stores(kind: Kind, clock: ManualClock): Promise<{ store: MfaStore; kv: KeyValueStore }> {
  if (kind === 'memory') return { store: memoryMfaStore(), kv: memoryStore({ clock }) };
  const db = database();
  const store = await sqlMfaStore({ database: db });
  if (kind === 'combined') return { store, kv: await sqliteStore({ database: db, clock }) };
  if (kind === 'fallback (method hidden)') {
    return { store: { ...store, guardedClaimAndTouch: undefined }, kv: await sqliteStore({ database: db, clock }) };
  }
  return { store, kv: await sqliteStore({ database: database(), clock }) };
}

const USERS = ['alice', 'bob'];

async function service(kind: Kind) {
  const clock = createManualClock(START);
  const { store, kv } = await stores(kind, clock);
  const mfa: MfaService = createMfaService({
    store,
    kv,
    encrypter: localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] }),
    rp: RP,
    clock,
    random: seededRandom('one-commit'),
    attempts: { maxFailures: 3, windowSeconds: 120 },
  });
  const secrets = new Map<string, string[]>();
  const labels = new Map<string, string>(); // device id -> user#n (ids differ between runs)
  for (const u of USERS) {
    for (let d = 0; d < (u === 'bob' ? 2 : 1); d++) {
      const e = await mfa.beginTotpEnrollment(u, { accountName: `${u}@example.com` });
      await mfa.confirmTotpEnrollment(u, e.deviceId, codeFor(e.secret, clock));
      secrets.set(u, [...(secrets.get(u) ?? []), e.secret]);
      labels.set(e.deviceId, `${u}#${d}`);
      clock.advance(1000);
    }
  }
  /** Everything stored that a verification can change. */
  const snapshot = async () => {
    const state: Record<string, unknown> = {};
    for (const u of USERS) {
      // Device ids differ (uuidv7 keeps a per-process sequence): devices compare in creation order.
      state[u] = (await store.listDevices(u)).map((d) => ({ name: d.name, lastUsedAt: d.lastUsedAt?.getTime() }));
    }
    const keys = [...USERS.map((u) => `mfa:attempts:${u}`)];
    for (const u of USERS) {
      for (const d of await store.listDevices(u)) {
        const step = Math.floor(clock.now() / 30_000);
        for (let s = step - 4; s <= step + 1; s++) keys.push(`mfa:totp-used:${d.id}:${s}`);
      }
    }
    state.kv = await kv.getMany(keys);
    return state;
  };
  return { mfa, clock, secrets, labels, snapshot, store, kv };
}

describe('TOTP: the claim and lastUsedAt in one transaction', () => {
  it('the SQL store joins a key/value store on its database, and declines one on another', async () => {
    const clock = createManualClock(START);
    const db = database();
    const store = await sqlMfaStore({ database: db });
    const claim = { counterKey: 'a', maxFailures: 1, windowSeconds: 1 };
    const touch = { userId: 'u', deviceId: 'd', at: new Date(0) };
    expect(store.guardedClaimAndTouch?.(memoryStore(), claim, touch)).toBeUndefined();
    expect(store.guardedClaimAndTouch?.(await sqliteStore({ database: database(), clock }), claim, touch)).toBe(
      undefined,
    );
    const joined = store.guardedClaimAndTouch?.(await sqliteStore({ database: db, clock }), claim, touch);
    expect(joined).toBeInstanceOf(Promise);
    await expect(joined).resolves.toMatchObject({ outcome: 'failed' });
  });

  it('gives the same results and the same stored state as the fallback (random script)', async () => {
    const kinds: Kind[] = ['fallback (method hidden)', 'combined', 'fallback (kv on another database)', 'memory'];
    const runs = await Promise.all(kinds.map((k) => service(k)));
    const random = prng(20261203);
    const accepted: { user: string; code: string }[] = [];
    const log: string[][] = kinds.map(() => []);
    for (let i = 0; i < 400; i++) {
      const user = USERS[Math.floor(random() * USERS.length)] as string;
      const r = random();
      const advance = Math.floor(random() * 4) * 15_000 + (random() < 0.1 ? 130_000 : 0);
      const deviceIndex = Math.floor(random() * 2);
      const pickCode = (run: (typeof runs)[number]): { code: string; deviceId?: string } => {
        const secrets = run.secrets.get(user) as string[];
        const secret = secrets[deviceIndex % secrets.length] as string;
        if (r < 0.5) return { code: codeFor(secret, run.clock) };
        if (r < 0.65) return { code: codeFor(secret, run.clock, -30_000) };
        if (r < 0.8 && accepted.length > 0) return { code: (accepted[accepted.length - 1] as { code: string }).code };
        return { code: codeFor(secret, run.clock) === '123456' ? '654321' : '123456' };
      };
      const results: string[] = [];
      for (const [k, run] of runs.entries()) {
        run.clock.advance(advance);
        const { code } = pickCode(run);
        const outcome = await run.mfa.verifyTotp(user, code).then(
          (v) => `ok ${run.labels.get(v.deviceId as string)} ${v.verifiedAt.getTime()}`,
          (e: { code?: string; details?: unknown }) => `${e.code} ${JSON.stringify(e.details ?? {})}`,
        );
        if (k === 0 && outcome.startsWith('ok')) accepted.push({ user, code });
        results.push(outcome);
        log[k]?.push(outcome);
      }
      // Every backend answered alike, and stored alike.
      expect(
        results.every((x) => x === results[0]),
        `step ${i}: ${results.join(' | ')}`,
      ).toBe(true);
      const states = await Promise.all(runs.map((run) => run.snapshot()));
      for (const state of states.slice(1)) expect(state).toEqual(states[0]);
    }
    // The script exercised every outcome, and lastUsedAt writes.
    const outcomes = new Set((log[0] as string[]).map((x) => x.split(' ')[0]));
    expect(outcomes).toEqual(
      new Set(['ok', 'ERR_MFA_INVALID_CODE', 'ERR_MFA_CODE_REPLAYED', 'ERR_MFA_TOO_MANY_ATTEMPTS']),
    );
  });

  it('writes lastUsedAt with a due success, through the combined path, and never on a failure', async () => {
    const clock = createManualClock(START);
    const db = database();
    const store = await sqlMfaStore({ database: db });
    const real = await sqliteStore({ database: db, clock });
    let plainClaims = 0;
    // The same store (its own enumerable properties, the join capability
    // too) with a plain guardedClaim that counts its calls: a due success
    // must not use it.
    const kv: KeyValueStore = {
      ...real,
      guardedClaim: (options) => {
        plainClaims += 1;
        return real.guardedClaim(options);
      },
    };
    const mfa = createMfaService({
      store,
      kv,
      encrypter: localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] }),
      rp: RP,
      clock,
    });
    const e = await mfa.beginTotpEnrollment('u1', { accountName: 'u1@example.com' });
    await mfa.confirmTotpEnrollment('u1', e.deviceId, codeFor(e.secret, clock)); // lastUsedAt = START
    const lastUsed = async () => (await store.getDevice('u1', e.deviceId))?.lastUsedAt?.getTime();
    expect(await lastUsed()).toBe(START.getTime());

    clock.advance(LAST_USED_GRANULARITY_MS + 30_000); // lastUsedAt is due from here on
    plainClaims = 0; // the enrollment's claim used it
    // A wrong code: counted (through the plain guardedClaim: it has no claim to carry a write), lastUsedAt untouched.
    const right = codeFor(e.secret, clock, 30_000); // the next step's code, inside the window
    const wrong = right === '000000' ? '111111' : '000000';
    await expect(mfa.verifyTotp('u1', wrong)).rejects.toMatchObject({ code: 'ERR_MFA_INVALID_CODE' });
    expect(await lastUsed()).toBe(START.getTime());
    expect(plainClaims).toBe(1);
    // A right code: the claim and lastUsedAt in one call, not the plain guardedClaim.
    await mfa.verifyTotp('u1', right);
    const touchedAt = clock.now();
    expect(await lastUsed()).toBe(touchedAt);
    expect(plainClaims).toBe(1);
    expect(await real.get('mfa:attempts:u1')).toBeUndefined(); // the success reset the count
    // A minute on, lastUsedAt is due again and the same code is still in the window: a replay.
    // The combined path decides it (a match), counts it, and writes no lastUsedAt.
    clock.advance(LAST_USED_GRANULARITY_MS);
    await expect(mfa.verifyTotp('u1', right)).rejects.toMatchObject({ code: 'ERR_MFA_CODE_REPLAYED' });
    expect(await lastUsed()).toBe(touchedAt);
    expect(plainClaims).toBe(1);
    expect(await real.get('mfa:attempts:u1')).toBe('1');
    // Locked (5 failures): a right, unused code is refused, and nothing is written.
    for (let i = 0; i < 4; i++) {
      await expect(mfa.verifyTotp('u1', wrong)).rejects.toMatchObject({ code: 'ERR_MFA_INVALID_CODE' });
    }
    const fresh = codeFor(e.secret, clock);
    await expect(mfa.verifyTotp('u1', fresh)).rejects.toMatchObject({ code: 'ERR_MFA_TOO_MANY_ATTEMPTS' });
    expect(await lastUsed()).toBe(touchedAt);
    expect(await real.get(`mfa:totp-used:${e.deviceId}:${Math.floor(clock.now() / 30_000)}`)).toBeUndefined();
  });
});
