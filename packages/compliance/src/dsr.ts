import type { Clock } from '@provisioning/core';
import { isSdkError, systemClock, uuidv7 } from '@provisioning/core';
import { dsrDeadline } from './deadline.js';
import type { DsrAuditSink } from './dsr-audit.js';
import { dsrAuditEvent } from './dsr-audit.js';
import type { DsrHistoryEntry, DsrRecord, DsrStatus, DsrType, ProviderResult } from './dsr-model.js';
import { assertDsrTransition, DSR_TYPES, isFinalDsrStatus } from './dsr-model.js';
import type { DsrListFilter, DsrStore } from './dsr-store.js';
import { notFoundError } from './dsr-store.js';
import { ComplianceError, invalidInput } from './errors.js';
import type { EncryptedExport, ExportBundle, ExportEncrypter, ExportManifestSection } from './export-bundle.js';
import { canonicalJson, encryptExportBundle, sha256Hex } from './export-bundle.js';
import type { DataProvider, ProviderExport, ProviderOutcome, ProviderRegistry } from './providers.js';

/**
 * Verifies that the person asking is the data subject (Art. 12(6)), e.g. by a
 * fresh MFA step-up or a signed-in session of that user. `evidence` is passed
 * through untouched and never stored or logged.
 */
export interface IdentityVerifier {
  verify(input: {
    readonly requestId: string;
    readonly subjectId: string;
    readonly type: DsrType;
    readonly evidence: unknown;
  }): Promise<{ readonly verified: boolean; readonly method?: string }>;
}

/** Tells whether a subject id exists (e.g. the users store). Optional: without it any id is accepted. */
export interface SubjectDirectory {
  exists(subjectId: string): Promise<boolean>;
}

/** Options of {@link createDsrService}. */
export interface DsrServiceOptions {
  readonly store: DsrStore;
  readonly providers: ProviderRegistry;
  readonly verifier: IdentityVerifier;
  /** Rejects requests for unknown subjects at submission. */
  readonly subjects?: SubjectDirectory;
  /** Encrypts access and portability exports when set. */
  readonly encrypter?: ExportEncrypter;
  /**
   * Records one audit event per processing attempt of an access, portability,
   * erasure or rectification request (`compliance.data.exported`, `…erased`,
   * `…rectified`; see {@link DsrAuditEvent}): `@provisioning/audit`'s
   * `AuditLog` fits. If the sink refuses an export's event the bundle is not
   * handed out and the request is stored `failed` (retryable); if it refuses
   * an erasure's or rectification's event, the outcome (which has happened) is
   * stored and `process()` rejects. Either way with `ERR_COMPLIANCE_AUDIT_FAILED`.
   */
  readonly audit?: DsrAuditSink;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Failed identity verifications before the request is rejected. Default 3. */
  readonly maxVerificationAttempts?: number;
  /** How long one provider call may take, in ms. Default 60,000. */
  readonly providerTimeoutMs?: number;
  /** After how long an `in_progress` request may be taken over by another worker, in ms. Default 15 minutes. */
  readonly staleAfterMs?: number;
  /** Request id generator. Default: UUIDv7 from the clock. */
  readonly newId?: () => string;
}

/** A new data-subject request. */
export interface DsrSubmission {
  readonly type: DsrType;
  readonly subjectId: string;
  /** For `rectification`: the corrected fields (required, non-empty). */
  readonly rectification?: Readonly<Record<string, unknown>>;
  /** For `objection`: the purposes objected to (required, non-empty). */
  readonly purposes?: readonly string[];
  /** For `restriction`: restrict (`true`, default) or lift (`false`). */
  readonly restrict?: boolean;
  /** When the request was received, if before submission (e.g. by post). Default: now. */
  readonly receivedAt?: Date;
}

/** The result of {@link DsrService.process}. */
export interface DsrProcessResult {
  readonly record: DsrRecord;
  /** For access and portability: the bundle (encrypted when an encrypter is configured). */
  readonly export?: ExportBundle | EncryptedExport;
}

/** The GDPR data-subject request workflow. */
export interface DsrService {
  /**
   * Records a new request in `received` with its one-month deadline.
   *
   * @throws ComplianceError `ERR_COMPLIANCE_INVALID_INPUT`, `ERR_COMPLIANCE_UNKNOWN_SUBJECT`.
   */
  submit(submission: DsrSubmission): Promise<DsrRecord>;
  /** @throws ComplianceError `ERR_COMPLIANCE_REQUEST_NOT_FOUND`. */
  get(id: string): Promise<DsrRecord>;
  list(filter?: DsrListFilter): Promise<DsrRecord[]>;
  /**
   * Runs the identity verifier. On success the request becomes `verified`; on
   * failure the attempt is counted and after `maxVerificationAttempts` the
   * request is `rejected`.
   *
   * @throws ComplianceError `ERR_COMPLIANCE_ILLEGAL_TRANSITION` unless `received`; `ERR_COMPLIANCE_VERIFIER_FAILED` if the verifier throws.
   */
  verifyIdentity(id: string, evidence: unknown): Promise<DsrRecord>;
  /**
   * Fans the request out to every registered provider and records each
   * result. A retry (from `partially_completed` or `failed`) calls only the
   * providers that did not succeed, except for exports, which are re-collected
   * whole so the bundle is consistent (exports are read-only).
   *
   * @throws ComplianceError `ERR_COMPLIANCE_IDENTITY_NOT_VERIFIED` before verification;
   * `ERR_COMPLIANCE_ILLEGAL_TRANSITION`; `ERR_COMPLIANCE_NO_PROVIDERS`; `ERR_COMPLIANCE_CONFLICT` when another worker holds it.
   */
  process(id: string): Promise<DsrProcessResult>;
  /**
   * Extends the deadline by two months (once, before it passes), with the reason told to the subject.
   *
   * @throws ComplianceError `ERR_COMPLIANCE_EXTENSION_REFUSED`.
   */
  extend(id: string, reason: string): Promise<DsrRecord>;
  /** Rejects a `received` request (e.g. manifestly unfounded). */
  reject(id: string, reason: string): Promise<DsrRecord>;
  /** Cancels a request the subject withdrew (before processing started). */
  cancel(id: string, reason: string): Promise<DsrRecord>;
  /** Requests not final whose deadline has passed. */
  overdue(): Promise<DsrRecord[]>;
}

const SUBJECT_ID = /^[\x21-\x7e]{1,200}$/;
const OPERATION = {
  access: 'export',
  portability: 'export',
  erasure: 'erase',
  rectification: 'rectify',
  restriction: 'restrict',
  objection: 'object',
} as const satisfies Record<DsrType, string>;
const APPEND_ONLY_ERASURE: ReadonlySet<string> = new Set(['pseudonymised', 'key_destroyed', 'retained']);

/** The name or code of an error, never its message. */
function errorName(error: unknown): string {
  if (isSdkError(error)) return error.code;
  if (error instanceof Error) return error.name;
  return typeof error;
}
const MAX_REASON = 500;
const DURABLE = Object.freeze({ durable: true });

/**
 * Creates the data-subject request workflow over a store and a provider
 * registry.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS` for missing or bad options.
 * @example
 * ```ts
 * const dsr = createDsrService({ store: memoryDsrStore(), providers, verifier });
 * const req = await dsr.submit({ type: 'erasure', subjectId: 'user-42' });
 * await dsr.verifyIdentity(req.id, { sessionUserId: 'user-42' });
 * const { record } = await dsr.process(req.id); // record.status: completed | partially_completed | failed
 * ```
 */
export function createDsrService(options: DsrServiceOptions): DsrService {
  if (!options || typeof options.store?.get !== 'function' || typeof options.providers?.list !== 'function') {
    throw new ComplianceError('createDsrService needs a store and a provider registry', {
      code: 'ERR_COMPLIANCE_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  if (typeof options.verifier?.verify !== 'function') {
    // Identity verification is not optional: without it anyone could export or erase anyone's data.
    throw new ComplianceError('createDsrService needs an identity verifier', {
      code: 'ERR_COMPLIANCE_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const positive = (v: number | undefined, name: string, def: number): number => {
    if (v === undefined) return def;
    if (!Number.isFinite(v) || v <= 0) {
      throw new ComplianceError(`${name} must be a positive number`, {
        code: 'ERR_COMPLIANCE_INVALID_OPTIONS',
        fault: 'client',
      });
    }
    return v;
  };
  const { store, providers, verifier, subjects, encrypter, audit } = options;
  if (audit !== undefined && typeof audit?.record !== 'function') {
    throw new ComplianceError('the audit option needs a sink with record(event)', {
      code: 'ERR_COMPLIANCE_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const clock = options.clock ?? systemClock;
  const maxAttempts = positive(options.maxVerificationAttempts, 'maxVerificationAttempts', 3);
  const timeoutMs = positive(options.providerTimeoutMs, 'providerTimeoutMs', 60_000);
  const staleAfterMs = positive(options.staleAfterMs, 'staleAfterMs', 15 * 60_000);
  const newId = options.newId ?? (() => uuidv7(clock));
  const nowIso = (): string => new Date(clock.now()).toISOString();

  const load = async (id: string): Promise<DsrRecord> => {
    if (typeof id !== 'string' || id === '') throw invalidInput('a request id is required');
    const record = await store.get(id);
    if (!record) throw notFoundError(id);
    return record;
  };

  const move = (record: DsrRecord, to: DsrStatus, reason?: string, patch: Partial<DsrRecord> = {}): DsrRecord => {
    assertDsrTransition(record.status, to);
    const at = nowIso();
    const entry: DsrHistoryEntry = { at, from: record.status, to, ...(reason ? { reason } : {}) };
    return {
      ...record,
      ...patch,
      status: to,
      version: record.version + 1,
      ...(isFinalDsrStatus(to) ? { closedAt: at } : {}),
      history: [...record.history, entry],
    };
  };

  const reasonText = (reason: unknown): string => {
    if (typeof reason !== 'string' || reason.trim() === '' || reason.length > MAX_REASON) {
      throw invalidInput(`a reason of 1 to ${MAX_REASON} characters is required`);
    }
    return reason.trim();
  };

  const withTimeout = <T>(providerId: string, fn: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new ComplianceError(`data provider ${providerId} timed out`, {
            code: 'ERR_COMPLIANCE_PROVIDER_FAILED',
            fault: 'server',
            retryable: true,
            details: { provider: providerId, timeoutMs },
          }),
        );
      }, timeoutMs);
      timer.unref?.();
      Promise.resolve()
        .then(fn)
        .then(resolve, reject)
        .finally(() => clearTimeout(timer));
    });

  interface Call {
    readonly provider: DataProvider;
    readonly op?: 'export' | 'erase' | 'rectify' | 'restrict' | 'object';
    readonly outcome?: ProviderOutcome | ProviderExport;
    readonly error?: unknown;
    readonly applicable: boolean;
  }

  const callProvider = async (record: DsrRecord, provider: DataProvider): Promise<Call> => {
    const subject = { subjectId: record.subjectId, requestId: record.id };
    let op: (() => Promise<ProviderOutcome | ProviderExport>) | undefined;
    switch (record.type) {
      case 'access':
      case 'portability':
        if (provider.export) op = () => (provider.export as NonNullable<DataProvider['export']>)(subject);
        break;
      case 'erasure':
        if (provider.erase) op = () => (provider.erase as NonNullable<DataProvider['erase']>)(subject);
        break;
      case 'rectification':
        if (provider.rectify)
          op = () => (provider.rectify as NonNullable<DataProvider['rectify']>)(subject, record.rectification ?? {});
        break;
      case 'restriction':
        if (provider.restrict)
          op = () => (provider.restrict as NonNullable<DataProvider['restrict']>)(subject, record.restrict ?? true);
        break;
      case 'objection':
        if (provider.object)
          op = () => (provider.object as NonNullable<DataProvider['object']>)(subject, record.purposes ?? []);
        break;
    }
    if (!op) return { provider, applicable: false };
    const kind = OPERATION[record.type];
    try {
      const outcome = await withTimeout(provider.id, op);
      if (typeof outcome !== 'object' || outcome === null || typeof outcome.subjectFound !== 'boolean') {
        // A provider that answers nonsense did not demonstrably do its job: fail closed.
        return {
          provider,
          applicable: true,
          op: kind,
          error: invalidInput(`data provider ${provider.id} returned a malformed result`, { provider: provider.id }),
        };
      }
      return { provider, applicable: true, op: kind, outcome };
    } catch (error) {
      return { provider, applicable: true, op: kind, error };
    }
  };

  const resultOf = (call: Call, previous: ProviderResult | undefined, at: string): ProviderResult => {
    const attempts = (previous?.attempts ?? 0) + (call.applicable ? 1 : 0);
    if (!call.applicable) return { status: 'not_applicable', at, attempts };
    if (call.error !== undefined) {
      // Only the code is kept: a provider's message may quote the subject's data.
      const code = isSdkError(call.error) ? call.error.code : 'ERR_COMPLIANCE_PROVIDER_FAILED';
      return {
        status: 'failed',
        at,
        attempts,
        error: { code, message: `data provider ${call.provider.id} failed` },
      };
    }
    const o = call.outcome as ProviderOutcome & Partial<ProviderExport>;
    if (call.provider.appendOnly && call.op === 'erase' && o.subjectFound && !APPEND_ONLY_ERASURE.has(o.method ?? '')) {
      // An append-only (hash-chained) log must pseudonymise or destroy keys: a claimed deletion or
      // rewrite would break the chain, and no method at all proves nothing. Never a success.
      return {
        status: 'failed',
        at,
        attempts,
        error: {
          code: 'ERR_COMPLIANCE_PROVIDER_FAILED',
          message: `append-only provider ${call.provider.id} did not pseudonymise or destroy keys`,
        },
      };
    }
    return {
      status: 'succeeded',
      at,
      attempts,
      subjectFound: o.subjectFound,
      ...(typeof o.affected === 'number' ? { affected: o.affected } : {}),
      ...(typeof o.records === 'number' ? { affected: o.records } : {}),
      ...(typeof o.method === 'string' ? { method: o.method } : {}),
      ...(typeof o.note === 'string' ? { note: o.note.slice(0, MAX_REASON) } : {}),
    };
  };

  const service: DsrService = {
    async submit(submission) {
      if (typeof submission !== 'object' || submission === null) throw invalidInput('a request object is required');
      const { type, subjectId } = submission;
      if (!DSR_TYPES.includes(type)) throw invalidInput('unknown request type', { type: String(type).slice(0, 40) });
      if (typeof subjectId !== 'string' || !SUBJECT_ID.test(subjectId)) {
        throw invalidInput('subjectId must be 1 to 200 printable ASCII characters');
      }
      let extra: Partial<DsrRecord> = {};
      if (type === 'rectification') {
        const changes = submission.rectification;
        if (typeof changes !== 'object' || changes === null || Array.isArray(changes) || !Object.keys(changes).length) {
          throw invalidInput('a rectification request needs the corrected fields');
        }
        canonicalJson(changes); // must be plain JSON: it is stored
        extra = { rectification: changes };
      } else if (submission.rectification !== undefined) {
        throw invalidInput('rectification fields are only for rectification requests');
      }
      if (type === 'objection') {
        const purposes = submission.purposes;
        if (
          !Array.isArray(purposes) ||
          purposes.length === 0 ||
          purposes.some((p) => typeof p !== 'string' || !/^[\w.:-]{1,64}$/.test(p))
        ) {
          throw invalidInput('an objection needs one or more purposes (identifiers)');
        }
        extra = { purposes: [...new Set(purposes)] };
      }
      if (type === 'restriction') {
        if (submission.restrict !== undefined && typeof submission.restrict !== 'boolean') {
          throw invalidInput('restrict must be a boolean');
        }
        extra = { restrict: submission.restrict ?? true };
      }
      const receivedAt = submission.receivedAt ?? new Date(clock.now());
      if (
        !(receivedAt instanceof Date) ||
        !Number.isFinite(receivedAt.getTime()) ||
        receivedAt.getTime() > clock.now()
      ) {
        throw invalidInput('receivedAt must be a valid time, not in the future');
      }
      if (subjects && !(await subjects.exists(subjectId))) {
        throw new ComplianceError('the data subject is not known', {
          code: 'ERR_COMPLIANCE_UNKNOWN_SUBJECT',
          fault: 'client',
        });
      }
      const at = nowIso();
      const record: DsrRecord = {
        id: newId(),
        version: 1,
        type,
        subjectId,
        status: 'received',
        receivedAt: receivedAt.toISOString(),
        dueAt: dsrDeadline(receivedAt).toISOString(),
        identity: { attempts: 0 },
        ...extra,
        providers: {},
        history: [{ at, from: null, to: 'received' }],
      };
      await store.create(record);
      return record;
    },

    get: load,

    list: (filter) => store.list(filter),

    async verifyIdentity(id, evidence) {
      const record = await load(id);
      if (record.status !== 'received') assertDsrTransition(record.status, 'verified');
      let outcome: { verified: boolean; method?: string };
      try {
        outcome = await verifier.verify({
          requestId: record.id,
          subjectId: record.subjectId,
          type: record.type,
          evidence,
        });
      } catch (error) {
        throw new ComplianceError('the identity verifier failed', {
          code: 'ERR_COMPLIANCE_VERIFIER_FAILED',
          fault: 'server',
          retryable: true,
          // No cause: the verifier's error may quote the evidence (a code, a document number).
          details: { requestId: record.id, verifierError: errorName(error) },
        });
      }
      const attempts = record.identity.attempts + 1;
      // Fail closed: anything but an explicit `verified: true` is a failure.
      if (outcome?.verified === true) {
        return commit(
          move(record, 'verified', undefined, {
            identity: {
              attempts,
              verifiedAt: nowIso(),
              ...(typeof outcome.method === 'string' ? { method: outcome.method.slice(0, 64) } : {}),
            },
          }),
        );
      }
      if (attempts >= maxAttempts) {
        return commit(move(record, 'rejected', 'identity not verified', { identity: { attempts } }));
      }
      return commit({ ...record, version: record.version + 1, identity: { attempts } });
    },

    async process(id) {
      let record = await load(id);
      if (record.status === 'received') {
        throw new ComplianceError('the subject’s identity must be verified before the request is processed', {
          code: 'ERR_COMPLIANCE_IDENTITY_NOT_VERIFIED',
          fault: 'client',
          details: { requestId: record.id },
        });
      }
      if (record.status === 'in_progress') {
        const started = record.startedAt ? Date.parse(record.startedAt) : 0;
        if (clock.now() - started < staleAfterMs) {
          throw new ComplianceError('the request is being processed by another worker', {
            code: 'ERR_COMPLIANCE_CONFLICT',
            fault: 'client',
            retryable: true,
            details: { requestId: record.id },
          });
        }
      }
      const all = providers.list();
      if (all.length === 0) {
        throw new ComplianceError('no data provider is registered', {
          code: 'ERR_COMPLIANCE_NO_PROVIDERS',
          fault: 'server',
        });
      }
      const exporting = record.type === 'access' || record.type === 'portability';
      const retry = record.status !== 'verified';
      // Claim the request first (compare-and-set on version): only one worker fans out.
      record = await commit(move(record, 'in_progress', retry ? 'retry' : undefined, { startedAt: nowIso() }));
      const todo = all.filter((p) => exporting || record.providers[p.id]?.status !== 'succeeded');
      const calls = await Promise.all(todo.map((p) => callProvider(record, p)));
      const at = nowIso();
      const results: Record<string, ProviderResult> = { ...record.providers };
      for (const call of calls) results[call.provider.id] = resultOf(call, record.providers[call.provider.id], at);

      let bundleOut: ExportBundle | EncryptedExport | undefined;
      let exportInfo: DsrRecord['export'];
      if (exporting) {
        const sections: Record<string, unknown> = {};
        const manifest: ExportManifestSection[] = [];
        for (const call of calls) {
          const r = results[call.provider.id] as ProviderResult;
          if (r.status === 'succeeded') {
            const data = (call.outcome as ProviderExport).data ?? null;
            let text: string;
            try {
              text = canonicalJson(data);
            } catch {
              results[call.provider.id] = {
                status: 'failed',
                at,
                attempts: r.attempts,
                error: {
                  code: 'ERR_COMPLIANCE_INVALID_INPUT',
                  message: `data provider ${call.provider.id} exported data that is not JSON`,
                },
              };
              manifest.push({ provider: call.provider.id, status: 'failed' });
              continue;
            }
            const sha256 = sha256Hex(text);
            results[call.provider.id] = { ...r, sha256 };
            sections[call.provider.id] = JSON.parse(text);
            manifest.push({
              provider: call.provider.id,
              status: 'succeeded',
              sha256,
              bytes: Buffer.byteLength(text),
              ...(r.affected !== undefined ? { records: r.affected } : {}),
              subjectFound: r.subjectFound ?? false,
            });
          } else {
            manifest.push({ provider: call.provider.id, status: r.status });
          }
        }
        const bundle: ExportBundle = {
          format: 'provisioning.dsr-export/v1',
          manifest: {
            requestId: record.id,
            subjectId: record.subjectId,
            type: record.type as 'access' | 'portability',
            generatedAt: at,
            digestAlgorithm: 'sha-256',
            complete: manifest.every((s) => s.status !== 'failed'),
            sections: manifest,
          },
          sections,
        };
        const text = canonicalJson(bundle);
        if (encrypter) {
          bundleOut = await encryptExportBundle(bundle, encrypter).catch(async (error: unknown) => {
            // Nothing was delivered: record the attempt as failed, then surface the error.
            const failedRecord = move(record, 'failed', 'export encryption failed', { providers: results });
            await commit(failedRecord).catch(() => {});
            // Best effort: the encrypter's error is what the caller must see, and nothing was disclosed.
            const event = audit === undefined ? undefined : dsrAuditEvent(failedRecord);
            if (event !== undefined) await Promise.resolve(audit?.record(event, DURABLE)).catch(() => {});
            throw error;
          });
          exportInfo = {
            sha256: (bundleOut as EncryptedExport).sha256,
            bytes: Buffer.byteLength(text),
            encrypted: true,
          };
        } else {
          bundleOut = bundle;
          exportInfo = { sha256: sha256Hex(text), bytes: Buffer.byteLength(text), encrypted: false };
        }
      }

      const statuses = all.map((p) => results[p.id]?.status);
      const failed = statuses.filter((s) => s === 'failed').length;
      const succeeded = statuses.filter((s) => s === 'succeeded').length;
      // A failed provider is never folded into success: any failure leaves the request open for a retry.
      const to: DsrStatus = failed === 0 ? 'completed' : succeeded > 0 ? 'partially_completed' : 'failed';
      const patch: Partial<DsrRecord> = { providers: results, ...(exportInfo ? { export: exportInfo } : {}) };
      let final = move(record, to, failed ? `${failed} provider(s) failed` : undefined, patch);
      if (to === 'completed' && record.type === 'rectification') {
        // The corrected values are personal data; once applied everywhere they are not kept here.
        const { rectification: _dropped, ...rest } = final;
        final = rest as DsrRecord;
      }
      const event = audit === undefined ? undefined : dsrAuditEvent(final);
      if (event !== undefined) {
        try {
          // Durable: the bundle is handed out only once its event is stored, not merely queued.
          await audit?.record(event, DURABLE);
        } catch (error) {
          // Accountability: no export is handed out without its audit record (exports are read-only,
          // so the request just stays retryable). An erasure or rectification has already happened:
          // its true outcome is stored before the failure is raised.
          const stored = exporting ? move(record, 'failed', 'audit event not recorded', { providers: results }) : final;
          const committed = await commit(stored).then(
            () => true,
            () => false,
          );
          throw new ComplianceError('the audit sink did not record the request’s event', {
            code: 'ERR_COMPLIANCE_AUDIT_FAILED',
            fault: 'server',
            retryable: exporting,
            details: {
              requestId: record.id,
              status: committed ? stored.status : record.status,
              sinkError: errorName(error),
            },
          });
        }
      }
      return { record: await commit(final), ...(bundleOut ? { export: bundleOut } : {}) };
    },

    async extend(id, reason) {
      const text = reasonText(reason);
      const record = await load(id);
      const refuse = (why: string): ComplianceError =>
        new ComplianceError(`the deadline cannot be extended: ${why}`, {
          code: 'ERR_COMPLIANCE_EXTENSION_REFUSED',
          fault: 'client',
          details: { requestId: record.id },
        });
      if (record.extension) throw refuse('it was already extended');
      if (isFinalDsrStatus(record.status)) throw refuse('the request is closed');
      // Art. 12(3): the subject must be told of an extension within the first month, so it cannot come after.
      if (clock.now() > Date.parse(record.dueAt)) throw refuse('the one-month deadline has passed');
      return commit({
        ...record,
        version: record.version + 1,
        dueAt: dsrDeadline(new Date(record.receivedAt), true).toISOString(),
        extension: { at: nowIso(), reason: text },
      });
    },

    async reject(id, reason) {
      const text = reasonText(reason);
      return commit(move(await load(id), 'rejected', text));
    },

    async cancel(id, reason) {
      const text = reasonText(reason);
      return commit(move(await load(id), 'cancelled', text));
    },

    async overdue() {
      const open: DsrStatus[] = ['received', 'verified', 'in_progress', 'partially_completed', 'failed'];
      return store.list({ statuses: open, dueBefore: new Date(clock.now()), limit: 10_000 });
    },
  };

  async function commit(record: DsrRecord): Promise<DsrRecord> {
    await store.update(record);
    return record;
  }

  return service;
}
