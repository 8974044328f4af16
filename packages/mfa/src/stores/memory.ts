import { CoreError } from '@provisioning/core';
import { MfaError } from '../errors.js';
import type { CounterUpdate, DeleteDeviceOutcome, MfaDevice, MfaStore } from '../store.js';

// Returned devices are copies (the MfaStore contract): Dates and nested
// objects are mutable. Written out field by field rather than with object
// spread: listDevices runs on every TOTP verification.
const copy = (d: MfaDevice): MfaDevice => ({
  id: d.id,
  userId: d.userId,
  type: d.type,
  name: d.name,
  createdAt: new Date(d.createdAt.getTime()),
  confirmedAt: d.confirmedAt === undefined ? undefined : new Date(d.confirmedAt.getTime()),
  lastUsedAt: d.lastUsedAt === undefined ? undefined : new Date(d.lastUsedAt.getTime()),
  totp:
    d.totp === undefined
      ? undefined
      : {
          secretCiphertext: d.totp.secretCiphertext,
          algorithm: d.totp.algorithm,
          digits: d.totp.digits,
          periodSeconds: d.totp.periodSeconds,
        },
  webauthn: d.webauthn && { ...d.webauthn, transports: [...d.webauthn.transports] },
});

const byCreation = (a: MfaDevice, b: MfaDevice): number =>
  a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1);

/**
 * An {@link MfaStore} in process memory: for tests and single-process quick
 * starts. Everything is lost on restart. Each method runs synchronously to
 * completion, so the atomic guarantees hold within the process.
 *
 * @example
 * ```ts
 * import { createMfaService, memoryMfaStore } from '@provisioning/mfa';
 * const mfa = createMfaService({ store: memoryMfaStore(), kv: memoryStore(), encrypter, rp });
 * ```
 */
export function memoryMfaStore(): MfaStore {
  const devices = new Map<string, MfaDevice>();
  const byUser = new Map<string, Set<string>>();
  const credentials = new Map<string, string>();
  const backup = new Map<string, Set<string>>();
  let closed = false;

  const check = (): void => {
    if (closed) throw new CoreError('the memory MFA store is closed', { code: 'ERR_STORE_CLOSED', fault: 'client' });
  };
  const own = (userId: string, deviceId: string): MfaDevice | undefined => {
    const d = devices.get(deviceId);
    return d !== undefined && d.userId === userId ? d : undefined;
  };
  const patch = (d: MfaDevice, change: Partial<MfaDevice>): void => {
    devices.set(d.id, { ...d, ...change });
  };
  // The stored objects never leave the store (copies in, copies out), so
  // the per-verification lastUsedAt write can change the field in place
  // instead of rebuilding the device.
  const setLastUsed = (d: MfaDevice, at: Date): void => {
    (d as { lastUsedAt: Date | undefined }).lastUsedAt = new Date(at);
  };

  return {
    id: 'memory',
    async createDevice(device) {
      check();
      const cred = device.webauthn?.credentialId;
      if (devices.has(device.id) || (cred !== undefined && credentials.has(cred))) {
        throw new MfaError('the device or credential is already registered', {
          code: 'ERR_MFA_CREDENTIAL_EXISTS',
          fault: 'client',
        });
      }
      devices.set(device.id, copy(device));
      if (cred !== undefined) credentials.set(cred, device.id);
      const set = byUser.get(device.userId) ?? new Set<string>();
      set.add(device.id);
      byUser.set(device.userId, set);
    },
    async getDevice(userId, deviceId) {
      check();
      const d = own(userId, deviceId);
      return d && copy(d);
    },
    async listDevices(userId) {
      check();
      const ids = byUser.get(userId);
      if (ids === undefined) return [];
      const list: MfaDevice[] = [];
      for (const id of ids) list.push(copy(devices.get(id) as MfaDevice));
      return list.length > 1 ? list.sort(byCreation) : list;
    },
    async findCredential(credentialId) {
      check();
      const id = credentials.get(credentialId);
      const d = id === undefined ? undefined : devices.get(id);
      return d && copy(d);
    },
    async renameDevice(userId, deviceId, name) {
      check();
      const d = own(userId, deviceId);
      if (d === undefined) return false;
      patch(d, { name });
      return true;
    },
    async confirmDevice(userId, deviceId, at) {
      check();
      const d = own(userId, deviceId);
      if (d === undefined || d.confirmedAt !== undefined) return false;
      patch(d, { confirmedAt: new Date(at) });
      return true;
    },
    async touchDevice(userId, deviceId, at) {
      check();
      const d = own(userId, deviceId);
      if (d === undefined) return false;
      setLastUsed(d, at);
      return true;
    },
    async updateCounter(userId, deviceId, update: CounterUpdate) {
      check();
      const d = own(userId, deviceId);
      if (d?.webauthn === undefined || d.webauthn.counter !== update.expectedCounter) return false;
      patch(d, {
        lastUsedAt: new Date(update.lastUsedAt),
        webauthn: { ...d.webauthn, counter: update.counter, backedUp: update.backedUp },
      });
      return true;
    },
    async deleteDevice(userId, deviceId, options): Promise<DeleteDeviceOutcome> {
      check();
      const d = own(userId, deviceId);
      if (d === undefined) return 'not_found';
      if (options.keepLastFactor && d.confirmedAt !== undefined) {
        const others = [...(byUser.get(userId) ?? [])].filter(
          (id) => id !== deviceId && devices.get(id)?.confirmedAt !== undefined,
        );
        if (others.length === 0) return 'last_factor';
      }
      devices.delete(deviceId);
      byUser.get(userId)?.delete(deviceId);
      if (d.webauthn !== undefined) credentials.delete(d.webauthn.credentialId);
      return 'deleted';
    },
    async replaceBackupCodes(userId, hashes) {
      check();
      if (hashes.length === 0) backup.delete(userId);
      else backup.set(userId, new Set(hashes));
    },
    async consumeBackupCode(userId, hash) {
      check();
      return backup.get(userId)?.delete(hash) ?? false;
    },
    async countBackupCodes(userId) {
      check();
      return backup.get(userId)?.size ?? 0;
    },
    async deleteUser(userId) {
      check();
      for (const id of byUser.get(userId) ?? []) {
        const d = devices.get(id);
        if (d?.webauthn !== undefined) credentials.delete(d.webauthn.credentialId);
        devices.delete(id);
      }
      byUser.delete(userId);
      backup.delete(userId);
    },
    async close() {
      closed = true;
    },
  };
}
