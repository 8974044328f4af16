import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MfaError } from '../src/errors.js';
import type { MfaDevice, MfaStore } from '../src/store.js';

/** A driver under test. */
export interface MfaStoreDriver {
  readonly name: string;
  /** Opens a store (it need not be empty: every test uses fresh user ids). */
  open(): Promise<MfaStore>;
  /** Opens a second store on the same backend (another connection or instance). */
  openPeer(first: MfaStore): Promise<MfaStore>;
}

let n = 0;
const T0 = Date.UTC(2026, 0, 1);

export function totpDevice(userId: string, extra: Partial<MfaDevice> = {}): MfaDevice {
  n += 1;
  return {
    id: `0190${String(n).padStart(4, '0')}-0000-7000-8000-${String(n).padStart(12, '0')}`,
    userId,
    type: 'totp',
    name: `Phone ${n}`,
    createdAt: new Date(T0 + n),
    confirmedAt: new Date(T0 + n),
    lastUsedAt: undefined,
    totp: { secretCiphertext: `v1.k1.iv${n}.ct${n}`, algorithm: 'sha1', digits: 6, periodSeconds: 30 },
    webauthn: undefined,
    ...extra,
  };
}

export function webauthnDevice(userId: string, extra: Partial<MfaDevice> = {}): MfaDevice {
  const base = totpDevice(userId);
  return {
    ...base,
    type: 'webauthn',
    name: `Key ${n}`,
    totp: undefined,
    webauthn: {
      credentialId: `cred-${n}-${Math.random().toString(36).slice(2)}`,
      publicKey: 'pQECAyYgASFYIA',
      counter: 7,
      transports: ['usb', 'nfc'],
      deviceType: 'multiDevice',
      backedUp: true,
      aaguid: '00000000-0000-0000-0000-000000000000',
      userHandle: 'aGFuZGxl',
    },
    ...extra,
  };
}

/**
 * The conformance suite of the {@link MfaStore} contract. Every driver runs
 * it; the concurrency cases run against a peer (a second connection).
 */
export function describeMfaStore(driver: MfaStoreDriver): void {
  describe(`MfaStore conformance: ${driver.name}`, () => {
    let store: MfaStore;
    const peers: MfaStore[] = [];
    // Fresh user ids per test: drivers on a shared database need not start empty.
    let u1: string;
    let u2: string;
    let u3: string;
    beforeEach(async () => {
      const run = Math.random().toString(36).slice(2, 10);
      [u1, u2, u3] = [`u1-${run}`, `u2-${run}`, `u3-${run}`];
      store = await driver.open();
    });
    afterEach(async () => {
      for (const p of peers.splice(0)) await p.close();
      await store.close();
    });
    const peer = async (): Promise<MfaStore> => {
      const p = await driver.openPeer(store);
      peers.push(p);
      return p;
    };

    it('stores and returns every field of both device kinds', async () => {
      const t = totpDevice(u1, { lastUsedAt: new Date(T0 + 5) });
      const w = webauthnDevice(u1, { confirmedAt: undefined });
      await store.createDevice(t);
      await store.createDevice(w);
      expect(await store.getDevice(u1, t.id)).toEqual(t);
      expect(await store.getDevice(u1, w.id)).toEqual(w);
      expect(await store.findCredential(w.webauthn?.credentialId as string)).toEqual(w);
      expect(await store.findCredential('nope')).toBeUndefined();
    });

    it('lists a user’s devices oldest first and keeps users apart', async () => {
      const a = totpDevice(u1);
      const b = webauthnDevice(u1);
      const c = totpDevice(u2);
      await store.createDevice(b);
      await store.createDevice(a);
      await store.createDevice(c);
      expect((await store.listDevices(u1)).map((d) => d.id)).toEqual([a.id, b.id]);
      expect(await store.listDevices(u3)).toEqual([]);
      expect(await store.getDevice(u2, a.id)).toBeUndefined();
      expect(await store.renameDevice(u2, a.id, 'x')).toBe(false);
      expect(await store.deleteDevice(u2, a.id, { keepLastFactor: false })).toBe('not_found');
    });

    it('refuses a duplicate device id or credential id and stores nothing', async () => {
      const w = webauthnDevice(u1);
      await store.createDevice(w);
      const dupCred = webauthnDevice(u2);
      const again = {
        ...dupCred,
        webauthn: {
          ...(dupCred.webauthn as NonNullable<MfaDevice['webauthn']>),
          credentialId: w.webauthn?.credentialId as string,
        },
      };
      const error = await store.createDevice(again).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MfaError);
      expect(error).toMatchObject({ code: 'ERR_MFA_CREDENTIAL_EXISTS' });
      expect(await store.listDevices(u2)).toEqual([]);
      await expect(store.createDevice({ ...totpDevice(u3), id: w.id })).rejects.toMatchObject({
        code: 'ERR_MFA_CREDENTIAL_EXISTS',
      });
    });

    it('returns copies: changing a result changes nothing stored', async () => {
      const w = webauthnDevice(u1);
      await store.createDevice(w);
      const got = (await store.getDevice(u1, w.id)) as MfaDevice;
      (got.webauthn?.transports as string[] | undefined)?.push('ble');
      (got as { name: string }).name = 'changed';
      expect(await store.getDevice(u1, w.id)).toEqual(w);
    });

    it('lists copies too: changing a listed device’s dates or TOTP fields changes nothing stored', async () => {
      const t = totpDevice(u1, { lastUsedAt: new Date(T0 + 5) });
      await store.createDevice(t);
      for (const listed of [await store.listDevices(u1), await store.listDevices(u1)]) {
        expect(listed).toEqual([t]);
        const got = listed[0] as MfaDevice;
        got.createdAt.setTime(0);
        got.confirmedAt?.setTime(0);
        got.lastUsedAt?.setTime(0);
        (got.totp as { secretCiphertext: string }).secretCiphertext = 'changed';
      }
      expect(await store.getDevice(u1, t.id)).toEqual(t);
    });

    it('renames and touches', async () => {
      const t = totpDevice(u1);
      await store.createDevice(t);
      expect(await store.renameDevice(u1, t.id, 'Work phone')).toBe(true);
      expect(await store.touchDevice(u1, t.id, new Date(T0 + 999))).toBe(true);
      expect(await store.getDevice(u1, t.id)).toMatchObject({ name: 'Work phone', lastUsedAt: new Date(T0 + 999) });
      expect(await store.touchDevice(u1, 'missing', new Date())).toBe(false);
    });

    it('touches by value: a device read before keeps its time, and the caller’s Date stays the caller’s', async () => {
      const t = totpDevice(u1, { lastUsedAt: new Date(T0 + 5) });
      await store.createDevice(t);
      const before = await store.getDevice(u1, t.id);
      const listed = await store.listDevices(u1);
      const at = new Date(T0 + 60_000);
      expect(await store.touchDevice(u1, t.id, at)).toBe(true);
      at.setTime(0);
      expect(before?.lastUsedAt).toEqual(new Date(T0 + 5));
      expect(listed[0]?.lastUsedAt).toEqual(new Date(T0 + 5));
      const after = await store.getDevice(u1, t.id);
      expect(after).toEqual({ ...t, lastUsedAt: new Date(T0 + 60_000) });
      after?.lastUsedAt?.setTime(1);
      expect((await store.listDevices(u1))[0]?.lastUsedAt).toEqual(new Date(T0 + 60_000));
    });

    it('confirms a device for exactly one of concurrent callers', async () => {
      const t = totpDevice(u1, { confirmedAt: undefined });
      await store.createDevice(t);
      const other = await peer();
      const results = await Promise.all([
        store.confirmDevice(u1, t.id, new Date(T0 + 1)),
        other.confirmDevice(u1, t.id, new Date(T0 + 2)),
        store.confirmDevice(u1, t.id, new Date(T0 + 3)),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await store.getDevice(u1, t.id))?.confirmedAt).toBeInstanceOf(Date);
    });

    it('updates a counter by compare-and-set: one of concurrent updates wins', async () => {
      const w = webauthnDevice(u1);
      await store.createDevice(w);
      const other = await peer();
      const update = (s: MfaStore, counter: number) =>
        s.updateCounter(u1, w.id, { expectedCounter: 7, counter, backedUp: false, lastUsedAt: new Date(T0 + counter) });
      const results = await Promise.all([update(store, 8), update(other, 9), update(store, 10)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      const after = await store.getDevice(u1, w.id);
      expect([8, 9, 10]).toContain(after?.webauthn?.counter);
      expect(after?.webauthn?.backedUp).toBe(false);
      expect(after?.lastUsedAt?.getTime()).toBe(T0 + (after?.webauthn?.counter as number));
      expect(await update(store, 11)).toBe(false);
    });

    it('deletes devices, refusing the last confirmed one when asked', async () => {
      const a = totpDevice(u1);
      const pending = totpDevice(u1, { confirmedAt: undefined });
      await store.createDevice(a);
      await store.createDevice(pending);
      expect(await store.deleteDevice(u1, a.id, { keepLastFactor: true })).toBe('last_factor');
      expect(await store.getDevice(u1, a.id)).toBeDefined();
      expect(await store.deleteDevice(u1, pending.id, { keepLastFactor: true })).toBe('deleted');
      expect(await store.deleteDevice(u1, a.id, { keepLastFactor: false })).toBe('deleted');
      expect(await store.listDevices(u1)).toEqual([]);
      expect(await store.deleteDevice(u1, a.id, { keepLastFactor: false })).toBe('not_found');
    });

    it('frees a deleted credential id', async () => {
      const w = webauthnDevice(u1);
      await store.createDevice(w);
      await store.createDevice(totpDevice(u1));
      expect(await store.deleteDevice(u1, w.id, { keepLastFactor: true })).toBe('deleted');
      expect(await store.findCredential(w.webauthn?.credentialId as string)).toBeUndefined();
      await store.createDevice({ ...w, id: totpDevice(u3).id });
    });

    it('never lets concurrent removals on two instances take the last two factors', async () => {
      for (let round = 0; round < 5; round++) {
        const user = `race-${round}-${u1}`;
        const a = totpDevice(user);
        const b = webauthnDevice(user);
        await store.createDevice(a);
        await store.createDevice(b);
        const other = await peer();
        const results = await Promise.all([
          store.deleteDevice(user, a.id, { keepLastFactor: true }),
          other.deleteDevice(user, b.id, { keepLastFactor: true }),
        ]);
        expect(results.sort()).toEqual(['deleted', 'last_factor']);
        expect(await store.listDevices(user)).toHaveLength(1);
      }
    });

    it('replaces, consumes and counts backup codes', async () => {
      await store.replaceBackupCodes(u1, ['h1', 'h2', 'h3'], new Date(T0));
      await store.replaceBackupCodes(u2, ['h1'], new Date(T0));
      expect(await store.countBackupCodes(u1)).toBe(3);
      expect(await store.consumeBackupCode(u1, 'h2')).toBe(true);
      expect(await store.consumeBackupCode(u1, 'h2')).toBe(false);
      expect(await store.consumeBackupCode(u1, 'nope')).toBe(false);
      expect(await store.countBackupCodes(u1)).toBe(2);
      expect(await store.countBackupCodes(u2)).toBe(1);
      await store.replaceBackupCodes(u1, ['h9'], new Date(T0));
      expect(await store.consumeBackupCode(u1, 'h1')).toBe(false);
      expect(await store.countBackupCodes(u1)).toBe(1);
      await store.replaceBackupCodes(u1, [], new Date(T0));
      expect(await store.countBackupCodes(u1)).toBe(0);
    });

    it('lets exactly one of concurrent consumers on two instances use a backup code', async () => {
      await store.replaceBackupCodes(u1, ['h1'], new Date(T0));
      const other = await peer();
      const results = await Promise.all([1, 2, 3, 4].map((i) => (i % 2 ? store : other).consumeBackupCode(u1, 'h1')));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('deletes everything of a user', async () => {
      const w = webauthnDevice(u1);
      await store.createDevice(w);
      await store.createDevice(totpDevice(u1));
      await store.createDevice(totpDevice(u2));
      await store.replaceBackupCodes(u1, ['h1'], new Date(T0));
      await store.deleteUser(u1);
      expect(await store.listDevices(u1)).toEqual([]);
      expect(await store.countBackupCodes(u1)).toBe(0);
      expect(await store.findCredential(w.webauthn?.credentialId as string)).toBeUndefined();
      expect(await store.listDevices(u2)).toHaveLength(1);
    });

    it('rejects calls after close', async () => {
      const s = await driver.open();
      await s.close();
      await expect(s.listDevices(u1)).rejects.toMatchObject({ code: 'ERR_STORE_CLOSED' });
    });
  });
}
