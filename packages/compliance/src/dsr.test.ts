import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { memoryAuditStore } from '@provisioning/audit';
import { createManualClock, type ManualClock, memoryStore } from '@provisioning/core';
import { createEnvelope, secretEncrypter } from '@provisioning/kms';
import { localBackend } from '@provisioning/kms/local';
import { tempDir } from '@provisioning/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { auditSubjects } from '../test/fixtures.js';
import { builtinChecks } from './checks.js';
import type { DsrService, IdentityVerifier } from './dsr.js';
import { createDsrService } from './dsr.js';
import { assertDsrTransition, DSR_STATUSES, DSR_TRANSITIONS } from './dsr-model.js';
import type { DsrStore } from './dsr-store.js';
import { memoryDsrStore } from './dsr-store.js';
import { ComplianceError } from './errors.js';
import type { EncryptedExport, ExportBundle, ExportEncrypter } from './export-bundle.js';
import { canonicalJson, sha256Hex, verifyExportBundle } from './export-bundle.js';
import type { DataProvider, ProviderRegistry } from './providers.js';
import { createProviderRegistry } from './providers.js';

const SECRET_EVIDENCE = 'otp-492817-secret';

async function rejection(promise: Promise<unknown>): Promise<ComplianceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ComplianceError);
  return error as ComplianceError;
}

/** Accepts evidence `{ code: SECRET_EVIDENCE }` for any subject. */
const verifier: IdentityVerifier = {
  async verify({ evidence }) {
    return { verified: (evidence as { code?: string })?.code === SECRET_EVIDENCE, method: 'mfa-step-up' };
  },
};
const good = { code: SECRET_EVIDENCE };

/** A provider keeping data in a map, counting calls, and failing while `failing` is set. */
function mapProvider(id: string, initial: Record<string, Record<string, unknown>> = {}) {
  const data = new Map(Object.entries(initial));
  const state = {
    failing: false,
    calls: 0,
    restricted: new Set<string>(),
    objections: new Map<string, readonly string[]>(),
  };
  const guard = (): void => {
    state.calls += 1;
    // The message quotes personal data on purpose: it must not reach the request record.
    if (state.failing) throw new Error(`connection lost while deleting alice@example.test from ${id}`);
  };
  const provider: DataProvider = {
    id,
    async export({ subjectId }) {
      guard();
      const row = data.get(subjectId);
      return { subjectFound: row !== undefined, data: row ?? null, records: row ? 1 : 0 };
    },
    async erase({ subjectId }) {
      guard();
      const had = data.delete(subjectId);
      return { subjectFound: had, affected: had ? 1 : 0, method: 'deleted' };
    },
    async rectify({ subjectId }, changes) {
      guard();
      const row = data.get(subjectId);
      if (row) data.set(subjectId, { ...row, ...changes });
      return { subjectFound: row !== undefined, affected: row ? 1 : 0 };
    },
    async restrict({ subjectId }, restricted) {
      guard();
      if (restricted) state.restricted.add(subjectId);
      else state.restricted.delete(subjectId);
      return { subjectFound: data.has(subjectId), affected: 1 };
    },
    async object({ subjectId }, purposes) {
      guard();
      state.objections.set(subjectId, purposes);
      return { subjectFound: data.has(subjectId), affected: purposes.length };
    },
  };
  return { provider, data, state };
}

describe('data-subject request state machine', () => {
  it('refuses every transition the machine does not list, with ERR_COMPLIANCE_ILLEGAL_TRANSITION', () => {
    let illegal = 0;
    for (const from of DSR_STATUSES) {
      for (const to of DSR_STATUSES) {
        if (DSR_TRANSITIONS[from].includes(to)) {
          expect(() => assertDsrTransition(from, to)).not.toThrow();
          continue;
        }
        illegal += 1;
        let error: unknown;
        try {
          assertDsrTransition(from, to);
        } catch (e) {
          error = e;
        }
        expect(error, `${from} -> ${to}`).toBeInstanceOf(ComplianceError);
        expect((error as ComplianceError).code).toBe('ERR_COMPLIANCE_ILLEGAL_TRANSITION');
        expect((error as ComplianceError).details).toMatchObject({ from, to });
      }
    }
    expect(illegal).toBe(64 - 11);
  });

  it('never lets a request skip identity verification (received -> in_progress is illegal)', () => {
    expect(DSR_TRANSITIONS.received).not.toContain('in_progress');
    expect(DSR_TRANSITIONS.received).not.toContain('completed');
  });
});

describe('data-subject requests', () => {
  let clock: ManualClock;
  let store: DsrStore;
  let registry: ProviderRegistry;
  let users: ReturnType<typeof mapProvider>;
  let devices: ReturnType<typeof mapProvider>;
  let dsr: DsrService;

  beforeEach(() => {
    clock = createManualClock(new Date('2026-01-31T10:00:00Z'));
    store = memoryDsrStore();
    users = mapProvider('users', {
      'user-1': { email: 'alice@example.test', name: 'Alice' },
      'user-2': { email: 'b@x.test' },
    });
    devices = mapProvider('mfa-devices', { 'user-1': { devices: ['totp', 'passkey'] } });
    registry = createProviderRegistry([users.provider, devices.provider]);
    dsr = createDsrService({ store, providers: registry, verifier, clock });
  });

  describe('deadlines', () => {
    it('sets a one-month deadline at submission, clamped to the end of February', async () => {
      const req = await dsr.submit({ type: 'access', subjectId: 'user-1' });
      expect(req.status).toBe('received');
      expect(req.receivedAt).toBe('2026-01-31T10:00:00.000Z');
      expect(req.dueAt).toBe('2026-02-28T23:59:59.999Z');
    });

    it('extends once by two months counted from receipt, and not after the deadline', async () => {
      const req = await dsr.submit({ type: 'erasure', subjectId: 'user-1' });
      const extended = await dsr.extend(req.id, 'many requests from this subject');
      expect(extended.dueAt).toBe('2026-04-30T23:59:59.999Z');
      expect(extended.extension?.reason).toBe('many requests from this subject');
      expect((await rejection(dsr.extend(req.id, 'again'))).code).toBe('ERR_COMPLIANCE_EXTENSION_REFUSED');

      const late = await dsr.submit({ type: 'erasure', subjectId: 'user-2' });
      clock.set(new Date('2026-03-01T00:00:00Z'));
      expect((await rejection(dsr.extend(late.id, 'too late'))).code).toBe('ERR_COMPLIANCE_EXTENSION_REFUSED');
      expect((await rejection(dsr.extend(late.id, ''))).code).toBe('ERR_COMPLIANCE_INVALID_INPUT');
    });

    it('plugs into the gdpr.request-deadlines check as its reader, unchanged', async () => {
      const check = builtinChecks().find((c) => c.id === 'gdpr.request-deadlines');
      await dsr.submit({ type: 'access', subjectId: 'user-1' });
      expect((await check?.run({ readers: { dataSubjectRequests: dsr }, clock }))?.status).toBe('pass');
      clock.set(new Date('2026-03-01T00:00:00Z'));
      expect((await check?.run({ readers: { dataSubjectRequests: dsr }, clock }))?.status).toBe('fail');
    });

    it('reports open requests past their deadline as overdue, and not before', async () => {
      const a = await dsr.submit({ type: 'access', subjectId: 'user-1' });
      const b = await dsr.submit({ type: 'access', subjectId: 'user-2' });
      await dsr.extend(b.id, 'complex request');
      clock.set(new Date('2026-02-28T23:59:59.999Z'));
      expect(await dsr.overdue()).toEqual([]);
      clock.advance(1);
      expect((await dsr.overdue()).map((r) => r.id)).toEqual([a.id]);
      // A finished request is not overdue.
      await dsr.cancel(a.id, 'withdrawn by the subject');
      expect(await dsr.overdue()).toEqual([]);
    });
  });

  describe('identity verification', () => {
    it('refuses to fan out before identity is verified, and calls no provider', async () => {
      const req = await dsr.submit({ type: 'erasure', subjectId: 'user-1' });
      expect((await rejection(dsr.process(req.id))).code).toBe('ERR_COMPLIANCE_IDENTITY_NOT_VERIFIED');
      expect(users.state.calls + devices.state.calls).toBe(0);
      expect(users.data.has('user-1')).toBe(true);
    });

    it('counts failed verifications and rejects after the limit; a rejected request never fans out', async () => {
      const req = await dsr.submit({ type: 'erasure', subjectId: 'user-1' });
      expect((await dsr.verifyIdentity(req.id, { code: 'wrong' })).identity.attempts).toBe(1);
      expect((await dsr.verifyIdentity(req.id, undefined)).status).toBe('received');
      const rejected = await dsr.verifyIdentity(req.id, { code: 'nope' });
      expect(rejected.status).toBe('rejected');
      expect((await rejection(dsr.verifyIdentity(req.id, good))).code).toBe('ERR_COMPLIANCE_ILLEGAL_TRANSITION');
      expect((await rejection(dsr.process(req.id))).code).toBe('ERR_COMPLIANCE_ILLEGAL_TRANSITION');
      expect(users.state.calls).toBe(0);
    });

    it('treats anything but verified === true as a failure (fail closed)', async () => {
      const sloppy = createDsrService({
        store,
        providers: registry,
        clock,
        verifier: { verify: async () => ({ verified: 'yes' }) as never },
      });
      const req = await sloppy.submit({ type: 'access', subjectId: 'user-1' });
      expect((await sloppy.verifyIdentity(req.id, good)).status).toBe('received');
    });

    it('never stores the verification evidence', async () => {
      const req = await dsr.submit({ type: 'access', subjectId: 'user-1' });
      const verified = await dsr.verifyIdentity(req.id, good);
      expect(verified.status).toBe('verified');
      expect(verified.identity.method).toBe('mfa-step-up');
      expect(JSON.stringify(await store.get(req.id))).not.toContain(SECRET_EVIDENCE);
    });

    it('maps a throwing verifier to retryable ERR_COMPLIANCE_VERIFIER_FAILED without the evidence', async () => {
      const broken = createDsrService({
        store,
        providers: registry,
        clock,
        verifier: {
          verify: async () => {
            throw new Error('upstream down');
          },
        },
      });
      const req = await broken.submit({ type: 'access', subjectId: 'user-1' });
      const error = await rejection(broken.verifyIdentity(req.id, good));
      expect(error).toMatchObject({
        code: 'ERR_COMPLIANCE_VERIFIER_FAILED',
        retryable: true,
        details: { verifierError: 'Error' },
      });
      expect(error.cause).toBeUndefined();
      expect(JSON.stringify(error.toJSON())).not.toContain(SECRET_EVIDENCE);
      expect((await store.get(req.id))?.status).toBe('received');
    });
  });

  describe('fan-out', () => {
    const verified = async (submission: Parameters<DsrService['submit']>[0]) => {
      const req = await dsr.submit(submission);
      await dsr.verifyIdentity(req.id, good);
      return req.id;
    };

    it('erases from every provider and records each result', async () => {
      const id = await verified({ type: 'erasure', subjectId: 'user-1' });
      const { record } = await dsr.process(id);
      expect(record.status).toBe('completed');
      expect(record.providers.users).toMatchObject({
        status: 'succeeded',
        affected: 1,
        method: 'deleted',
        attempts: 1,
      });
      expect(record.providers['mfa-devices']).toMatchObject({ status: 'succeeded', subjectFound: true });
      expect(users.data.has('user-1')).toBe(false);
      expect(devices.data.has('user-1')).toBe(false);
      expect(users.data.has('user-2')).toBe(true);
      expect(record.history.map((h) => h.to)).toEqual(['received', 'verified', 'in_progress', 'completed']);
      expect(record.closedAt).toBeDefined();
    });

    it('reports a failed provider as failed, never as success, and retries only that provider', async () => {
      devices.state.failing = true;
      const id = await verified({ type: 'erasure', subjectId: 'user-1' });
      const first = await dsr.process(id);
      expect(first.record.status).toBe('partially_completed');
      expect(first.record.providers['mfa-devices']).toMatchObject({
        status: 'failed',
        attempts: 1,
        error: { code: 'ERR_COMPLIANCE_PROVIDER_FAILED' },
      });
      expect(first.record.providers['mfa-devices']?.subjectFound).toBeUndefined();
      // The provider's message quoted personal data; the record keeps only the code.
      expect(JSON.stringify(first.record)).not.toContain('alice@example.test');
      expect(devices.data.has('user-1')).toBe(true);

      devices.state.failing = false;
      const usersCalls = users.state.calls;
      const second = await dsr.process(id);
      expect(second.record.status).toBe('completed');
      expect(users.state.calls).toBe(usersCalls); // not called again
      expect(second.record.providers['mfa-devices']).toMatchObject({ status: 'succeeded', attempts: 2 });
      expect(second.record.providers.users?.attempts).toBe(1);
      expect(devices.data.has('user-1')).toBe(false);
    });

    it('ends failed when every provider failed, and stays retryable', async () => {
      users.state.failing = true;
      devices.state.failing = true;
      const id = await verified({ type: 'erasure', subjectId: 'user-1' });
      const { record } = await dsr.process(id);
      expect(record.status).toBe('failed');
      expect(Object.values(record.providers).every((p) => p.status === 'failed')).toBe(true);
      expect((await dsr.overdue()).length).toBe(0);
      users.state.failing = false;
      devices.state.failing = false;
      expect((await dsr.process(id)).record.status).toBe('completed');
    });

    it('fails closed on a provider that answers with a malformed result or times out', async () => {
      registry.register({ id: 'sloppy', erase: async () => ({ ok: true }) as never });
      registry.register({ id: 'hung', erase: () => new Promise(() => {}) });
      const quick = createDsrService({ store, providers: registry, verifier, clock, providerTimeoutMs: 50 });
      const req = await quick.submit({ type: 'erasure', subjectId: 'user-1' });
      await quick.verifyIdentity(req.id, good);
      const { record } = await quick.process(req.id);
      expect(record.status).toBe('partially_completed');
      expect(record.providers.sloppy).toMatchObject({
        status: 'failed',
        error: { code: 'ERR_COMPLIANCE_INVALID_INPUT' },
      });
      expect(record.providers.hung).toMatchObject({
        status: 'failed',
        error: { code: 'ERR_COMPLIANCE_PROVIDER_FAILED' },
      });
    });

    it('marks a provider without the operation not_applicable (not a success) and completes', async () => {
      registry.register({ id: 'read-only', export: async () => ({ subjectFound: false, data: null }) });
      const id = await verified({ type: 'erasure', subjectId: 'user-1' });
      const { record } = await dsr.process(id);
      expect(record.providers['read-only']).toMatchObject({ status: 'not_applicable', attempts: 0 });
      expect(record.status).toBe('completed');
    });

    it('lets only one of two concurrent workers fan out', async () => {
      const id = await verified({ type: 'erasure', subjectId: 'user-1' });
      const results = await Promise.allSettled([dsr.process(id), dsr.process(id)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect((loser.reason as ComplianceError).code).toBe('ERR_COMPLIANCE_CONFLICT');
      expect(users.state.calls).toBe(1);
    });

    it('takes over an in_progress request only after the stale period', async () => {
      const id = await verified({ type: 'erasure', subjectId: 'user-1' });
      const record = await store.get(id);
      if (!record) throw new Error('missing');
      await store.update({
        ...record,
        version: record.version + 1,
        status: 'in_progress',
        startedAt: new Date(clock.now()).toISOString(),
      });
      expect((await rejection(dsr.process(id))).code).toBe('ERR_COMPLIANCE_CONFLICT');
      clock.advance(15 * 60_000);
      expect((await dsr.process(id)).record.status).toBe('completed');
    });

    it('applies rectification and forgets the corrected values once complete', async () => {
      const id = await verified({
        type: 'rectification',
        subjectId: 'user-1',
        rectification: { email: 'alice@new.test' },
      });
      devices.state.failing = true;
      const partial = await dsr.process(id);
      expect(partial.record.rectification).toEqual({ email: 'alice@new.test' }); // kept for the retry
      devices.state.failing = false;
      const { record } = await dsr.process(id);
      expect(record.status).toBe('completed');
      expect(users.data.get('user-1')?.email).toBe('alice@new.test');
      expect(record.rectification).toBeUndefined();
      expect(JSON.stringify(await store.get(id))).not.toContain('alice@new.test');
    });

    it('passes restriction and objection parameters to providers', async () => {
      const r = await verified({ type: 'restriction', subjectId: 'user-1' });
      expect((await dsr.process(r)).record.status).toBe('completed');
      expect(users.state.restricted.has('user-1')).toBe(true);
      const lift = await verified({ type: 'restriction', subjectId: 'user-1', restrict: false });
      await dsr.process(lift);
      expect(users.state.restricted.has('user-1')).toBe(false);
      const o = await verified({
        type: 'objection',
        subjectId: 'user-1',
        purposes: ['marketing', 'profiling', 'marketing'],
      });
      await dsr.process(o);
      expect(devices.state.objections.get('user-1')).toEqual(['marketing', 'profiling']);
    });

    it('refuses to process with no provider registered', async () => {
      const empty = createDsrService({ store, providers: createProviderRegistry(), verifier, clock });
      const req = await empty.submit({ type: 'erasure', subjectId: 'user-1' });
      await empty.verifyIdentity(req.id, good);
      expect((await rejection(empty.process(req.id))).code).toBe('ERR_COMPLIANCE_NO_PROVIDERS');
      expect((await store.get(req.id))?.status).toBe('verified');
    });
  });

  describe('exports', () => {
    it('bundles per-provider sections with SHA-256 digests in a manifest', async () => {
      const req = await dsr.submit({ type: 'portability', subjectId: 'user-1' });
      await dsr.verifyIdentity(req.id, good);
      const { record, export: out } = await dsr.process(req.id);
      const bundle = out as ExportBundle;
      expect(bundle.format).toBe('provisioning.dsr-export/v1');
      expect(bundle.manifest).toMatchObject({
        requestId: req.id,
        subjectId: 'user-1',
        type: 'portability',
        complete: true,
      });
      expect(bundle.sections.users).toEqual({ email: 'alice@example.test', name: 'Alice' });
      const usersSection = bundle.manifest.sections.find((s) => s.provider === 'users');
      expect(usersSection?.sha256).toBe(sha256Hex(canonicalJson({ email: 'alice@example.test', name: 'Alice' })));
      expect(verifyExportBundle(bundle)).toEqual([]);
      expect(record.export).toMatchObject({ sha256: sha256Hex(canonicalJson(bundle)), encrypted: false });
      // Machine-readable: the bundle survives a JSON round trip unchanged.
      expect(JSON.parse(JSON.stringify(bundle))).toEqual(bundle);
      // Tampering is detected.
      const tampered = { ...bundle, sections: { ...bundle.sections, users: { email: 'x', name: 'Alice' } } };
      expect(verifyExportBundle(tampered)).toEqual(['users']);
      expect(verifyExportBundle({ ...bundle, sections: { ...bundle.sections, extra: 1 } })).toEqual(['extra']);
    });

    it('marks the bundle incomplete when a provider failed', async () => {
      devices.state.failing = true;
      const req = await dsr.submit({ type: 'access', subjectId: 'user-1' });
      await dsr.verifyIdentity(req.id, good);
      const { record, export: out } = await dsr.process(req.id);
      const bundle = out as ExportBundle;
      expect(record.status).toBe('partially_completed');
      expect(bundle.manifest.complete).toBe(false);
      expect(bundle.manifest.sections.find((s) => s.provider === 'mfa-devices')).toEqual({
        provider: 'mfa-devices',
        status: 'failed',
      });
      expect(bundle.sections['mfa-devices']).toBeUndefined();
    });

    it('encrypts the bundle through the injected encrypter, keeping the manifest inside', async () => {
      const key = randomBytes(32);
      const encrypter: ExportEncrypter = {
        async encrypt(plaintext, context) {
          const iv = randomBytes(12);
          const c = createCipheriv('aes-256-gcm', key, iv);
          c.setAAD(Buffer.from(JSON.stringify(context)));
          const body = Buffer.concat([c.update(plaintext), c.final()]);
          return {
            ciphertext: Buffer.concat([iv, c.getAuthTag(), body]),
            keyId: 'test-key-1',
            algorithm: 'AES-256-GCM',
          };
        },
      };
      const sealed = createDsrService({ store, providers: registry, verifier, clock, encrypter });
      const req = await sealed.submit({ type: 'access', subjectId: 'user-1' });
      await sealed.verifyIdentity(req.id, good);
      const { record, export: out } = await sealed.process(req.id);
      const enc = out as EncryptedExport;
      expect(enc).toMatchObject({
        format: 'provisioning.dsr-export.encrypted/v1',
        requestId: req.id,
        keyId: 'test-key-1',
      });
      expect(JSON.stringify(enc)).not.toContain('alice@example.test');
      expect(JSON.stringify(enc)).not.toContain('user-1');
      const raw = Buffer.from(enc.ciphertext, 'base64');
      const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(JSON.stringify(enc.context)));
      d.setAuthTag(raw.subarray(12, 28));
      const text = Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
      expect(sha256Hex(text)).toBe(enc.sha256);
      const bundle = JSON.parse(text) as ExportBundle;
      expect(verifyExportBundle(bundle)).toEqual([]);
      expect(bundle.sections.users).toMatchObject({ email: 'alice@example.test' });
      expect(record.export?.encrypted).toBe(true);
    });

    it('encrypts through @provisioning/kms envelope encryption, bound to the request context', async () => {
      const dir = tempDir('compliance-kms-');
      try {
        const envelope = createEnvelope({ backends: [await localBackend({ path: join(dir.path, 'keyring.json') })] });
        const secrets = secretEncrypter(envelope);
        // The whole adapter: kms's SecretEncrypter answers a printable ciphertext.
        const encrypter: ExportEncrypter = {
          encrypt: async (plaintext, context) => ({
            ciphertext: await secrets.encrypt(plaintext, context),
            algorithm: 'pkms1',
          }),
        };
        const sealed = createDsrService({ store, providers: registry, verifier, clock, encrypter });
        const req = await sealed.submit({ type: 'access', subjectId: 'user-1' });
        await sealed.verifyIdentity(req.id, good);
        const enc = (await sealed.process(req.id)).export as EncryptedExport;
        expect(JSON.stringify(enc)).not.toContain('alice@example.test');
        const text = Buffer.from(await secrets.decrypt(enc.ciphertext, enc.context)).toString('utf8');
        expect(sha256Hex(text)).toBe(enc.sha256);
        expect(verifyExportBundle(JSON.parse(text) as ExportBundle)).toEqual([]);
        // The context is authenticated: another request's context does not open it.
        await expect(secrets.decrypt(enc.ciphertext, { ...enc.context, requestId: 'other' })).rejects.toMatchObject({
          code: expect.stringMatching(/^ERR_KMS_/),
        });
      } finally {
        dir.remove();
      }
    });

    it('records a failed attempt when encryption fails and surfaces ERR_COMPLIANCE_ENCRYPTION_FAILED', async () => {
      const sealed = createDsrService({
        store,
        providers: registry,
        verifier,
        clock,
        encrypter: {
          encrypt: async () => {
            throw new Error('kms down');
          },
        },
      });
      const req = await sealed.submit({ type: 'access', subjectId: 'user-1' });
      await sealed.verifyIdentity(req.id, good);
      expect((await rejection(sealed.process(req.id))).code).toBe('ERR_COMPLIANCE_ENCRYPTION_FAILED');
      expect((await store.get(req.id))?.status).toBe('failed');
    });

    it('fails a provider whose export is not JSON', async () => {
      registry.register({ id: 'weird', export: async () => ({ subjectFound: true, data: { n: 10n } }) });
      const req = await dsr.submit({ type: 'access', subjectId: 'user-1' });
      await dsr.verifyIdentity(req.id, good);
      const { record, export: out } = await dsr.process(req.id);
      expect(record.providers.weird).toMatchObject({
        status: 'failed',
        error: { code: 'ERR_COMPLIANCE_INVALID_INPUT' },
      });
      expect((out as ExportBundle).manifest.complete).toBe(false);
    });
  });

  describe('audit log', () => {
    it('erasure destroys the audit pseudonym key and the real audit chain still verifies', async () => {
      const events = memoryAuditStore();
      const audit = await auditSubjects({ sinks: [events], keys: memoryStore() });
      await audit.record('user-1', 'auth.login.succeeded');
      await audit.record('user-2', 'auth.login.succeeded');
      await audit.record('user-1', 'compliance.data.exported');
      registry.register(audit.provider);
      const before = events.entries.map((e) => JSON.stringify(e));
      expect(before.join()).not.toContain('user-1'); // pseudonyms only
      const found = await audit.provider.export?.({ subjectId: 'user-1', requestId: 'x' });
      expect(found).toMatchObject({ subjectFound: true, records: 2 });

      const req = await dsr.submit({ type: 'erasure', subjectId: 'user-1' });
      await dsr.verifyIdentity(req.id, good);
      const { record } = await dsr.process(req.id);
      expect(record.status).toBe('completed');
      expect(record.providers.audit).toMatchObject({ status: 'succeeded', method: 'key_destroyed' });
      expect(events.entries.map((e) => JSON.stringify(e))).toEqual(before); // no event deleted or rewritten
      expect(await audit.log.verify()).toMatchObject({ ok: true, count: 3 });
      expect(await audit.subjects.lookup('user-1')).toBeUndefined();
      const exported = await audit.provider.export?.({ subjectId: 'user-1', requestId: 'x' });
      expect(exported?.subjectFound).toBe(false);
      await audit.log.close();
    });
  });

  describe('append-only providers', () => {
    it('reports an append-only provider that claims deletion as failed, never as success', async () => {
      registry.register({
        id: 'audit',
        appendOnly: true,
        erase: async () => ({ subjectFound: true, affected: 3, method: 'deleted' }),
      });
      registry.register({
        id: 'audit-silent',
        appendOnly: true,
        erase: async () => ({ subjectFound: true, affected: 3 }),
      });
      registry.register({ id: 'audit-clean', appendOnly: true, erase: async () => ({ subjectFound: false }) });
      const req = await dsr.submit({ type: 'erasure', subjectId: 'user-1' });
      await dsr.verifyIdentity(req.id, good);
      const { record } = await dsr.process(req.id);
      expect(record.status).toBe('partially_completed');
      expect(record.providers.audit).toMatchObject({
        status: 'failed',
        error: { code: 'ERR_COMPLIANCE_PROVIDER_FAILED' },
      });
      expect(record.providers['audit-silent']?.status).toBe('failed');
      expect(record.providers['audit-clean']?.status).toBe('succeeded');
    });
  });

  describe('bad input', () => {
    it('rejects malformed submissions with ERR_COMPLIANCE_INVALID_INPUT and stores nothing', async () => {
      const bad: unknown[] = [
        null,
        'erase me',
        { type: 'delete', subjectId: 'user-1' },
        { type: 'erasure' },
        { type: 'erasure', subjectId: '' },
        { type: 'erasure', subjectId: 'has space' },
        { type: 'erasure', subjectId: 'x'.repeat(201) },
        { type: 'rectification', subjectId: 'user-1' },
        { type: 'rectification', subjectId: 'user-1', rectification: {} },
        { type: 'rectification', subjectId: 'user-1', rectification: ['a'] },
        { type: 'erasure', subjectId: 'user-1', rectification: { a: 1 } },
        { type: 'objection', subjectId: 'user-1' },
        { type: 'objection', subjectId: 'user-1', purposes: ['bad purpose!'] },
        { type: 'restriction', subjectId: 'user-1', restrict: 'yes' },
        { type: 'access', subjectId: 'user-1', receivedAt: new Date('2027-01-01T00:00:00Z') },
        { type: 'access', subjectId: 'user-1', receivedAt: 'yesterday' },
      ];
      for (const submission of bad) {
        const error = await rejection(dsr.submit(submission as never));
        expect(error.code, JSON.stringify(submission)).toBe('ERR_COMPLIANCE_INVALID_INPUT');
      }
      expect(await store.list()).toEqual([]);
    });

    it('rejects unknown subjects when a subject directory is wired', async () => {
      const known = createDsrService({
        store,
        providers: registry,
        verifier,
        clock,
        subjects: { exists: async (id) => users.data.has(id) },
      });
      const error = await rejection(known.submit({ type: 'erasure', subjectId: 'ghost-9' }));
      expect(error.code).toBe('ERR_COMPLIANCE_UNKNOWN_SUBJECT');
      expect(error.message).not.toContain('ghost-9');
      expect((await known.submit({ type: 'erasure', subjectId: 'user-1' })).status).toBe('received');
    });

    it('answers unknown request ids with ERR_COMPLIANCE_REQUEST_NOT_FOUND', async () => {
      for (const call of [
        dsr.get('nope'),
        dsr.process('nope'),
        dsr.verifyIdentity('nope', good),
        dsr.extend('nope', 'r'),
      ]) {
        expect((await rejection(call)).code).toBe('ERR_COMPLIANCE_REQUEST_NOT_FOUND');
      }
      expect((await rejection(dsr.get(''))).code).toBe('ERR_COMPLIANCE_INVALID_INPUT');
    });

    it('refuses construction without a verifier, store or providers', () => {
      expect(() => createDsrService({ store, providers: registry } as never)).toThrow(/identity verifier/);
      expect(() => createDsrService({ providers: registry, verifier } as never)).toThrow(ComplianceError);
      expect(() => createDsrService({ store, providers: registry, verifier, providerTimeoutMs: 0 })).toThrow(
        /positive/,
      );
    });

    it('refuses duplicate and malformed provider ids', () => {
      expect(() => registry.register(users.provider)).toThrow(
        expect.objectContaining({ code: 'ERR_COMPLIANCE_DUPLICATE_ID' }),
      );
      expect(() => registry.register({ id: 'Bad Id' })).toThrow(
        expect.objectContaining({ code: 'ERR_COMPLIANCE_INVALID_INPUT' }),
      );
      expect(() => registry.register(null as never)).toThrow(ComplianceError);
      expect(registry.unregister('users')).toBe(true);
      expect(registry.list().map((p) => p.id)).toEqual(['mfa-devices']);
    });
  });
});
