import type { Clock, RandomSource } from '@provisioning/core';
import { isSdkError, systemClock, uuidv7 } from '@provisioning/core';
import { clientError, SecretsError } from './errors.js';
import type { Lease, LeaseFilter, LeaseStore } from './lease.js';
import type { ProviderCreateContext, ProviderCreateResult, SecretProvider } from './provider.js';
import { synchronousCreate } from './provider.js';
import { publicValueRandom } from './random.js';

/** Something the lease manager reports: hook it to logs, metrics or the audit trail. Never carries a secret. */
export type LeaseEvent =
  | {
      readonly type: 'lease.created';
      readonly leaseId: string;
      readonly provider: string;
      readonly owner: string;
      readonly expiresAt: Date;
    }
  | { readonly type: 'lease.renewed'; readonly leaseId: string; readonly provider: string; readonly expiresAt: Date }
  | {
      readonly type: 'lease.revoked';
      readonly leaseId: string;
      readonly provider: string;
      readonly reason: 'revoked' | 'expired';
    }
  | {
      readonly type: 'lease.revoke_failed';
      readonly leaseId: string;
      readonly provider: string;
      readonly attempts: number;
      readonly nextAttemptAt: Date;
      readonly code: string;
    }
  | {
      readonly type: 'lease.create_failed';
      readonly leaseId: string;
      readonly provider: string;
      readonly code: string;
      /** `true` when the secret may exist (timeout): the lease is kept and revoked. */
      readonly pendingRevocation: boolean;
    };

/** Options of {@link createLeaseManager}. */
export interface LeaseManagerOptions {
  /** Where leases are persisted. */
  readonly store: LeaseStore;
  /** The providers leases can be issued by; each name once. */
  // biome-ignore lint/suspicious/noExplicitAny: providers of any request and secret type
  readonly providers: readonly SecretProvider<any, any>[];
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Randomness for lease ids. Default: the OS CSPRNG, read 4 KiB at a time. */
  readonly random?: RandomSource;
  /** TTL when `issue` is given none, in seconds. Default 3600 (capped by `maxTtlSeconds`). */
  readonly defaultTtlSeconds?: number;
  /** The longest any lease may live in total, in seconds. Default 86,400 (one day). */
  readonly maxTtlSeconds?: number;
  /** How long a provider call may take before it fails with `ERR_SECRETS_PROVIDER_TIMEOUT`, in ms. Default 10,000. */
  readonly providerTimeoutMs?: number;
  /** Backoff of failed revocations: the delay doubles from `initialDelayMs` (default 30 s) up to `maxDelayMs` (default 1 h). */
  readonly retry?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  /** Called for every {@link LeaseEvent}; exceptions it throws are ignored. */
  readonly onEvent?: (event: LeaseEvent) => void;
}

/** Options of {@link LeaseManager.issue}. */
export interface IssueOptions {
  /** Who the secret is for (1–256 characters). */
  readonly owner: string;
  /** TTL in whole seconds. Default: the manager's `defaultTtlSeconds`. */
  readonly ttlSeconds?: number;
  /** Total lifetime cap for renewals, in seconds. Default and upper bound: the manager's `maxTtlSeconds`. */
  readonly maxTtlSeconds?: number;
  /** Allow renewals. Default: whether the provider implements `renew`. */
  readonly renewable?: boolean;
}

/** What {@link LeaseManager.issue} returns: the lease and the secret (shown once). */
export interface IssueResult<S> {
  readonly lease: Lease;
  readonly secret: S;
}

/** Outcome of bulk revocations and sweeps. */
export interface RevokeSummary {
  /** Leases revoked by their provider and removed. */
  readonly revoked: string[];
  /** Leases whose revocation failed or is in progress elsewhere: kept and retried with backoff. */
  readonly pending: string[];
}

/** The lease manager: issue, renew, revoke and list dynamic secrets. Made by {@link createLeaseManager}. */
export interface LeaseManager {
  /** The manager's clock (the TTL manager uses it). */
  readonly clock: Clock;
  /**
   * Persists a lease, asks `provider` for the secret and returns both.
   *
   * @throws SecretsError `ERR_SECRETS_INVALID_TTL`, `ERR_SECRETS_INVALID_REQUEST`, `ERR_SECRETS_UNKNOWN_PROVIDER`,
   * `ERR_SECRETS_PROVIDER_FAILED`, `ERR_SECRETS_PROVIDER_TIMEOUT` (the lease is then kept and revoked), or the provider's own client error.
   */
  issue<R, S>(provider: SecretProvider<R, S>, request: R, options: IssueOptions): Promise<IssueResult<S>>;
  /** The lease. @throws SecretsError `ERR_SECRETS_LEASE_NOT_FOUND`. */
  get(id: string): Promise<Lease>;
  /** Leases matching `filter`, in creation order. */
  list(filter?: LeaseFilter): Promise<Lease[]>;
  /**
   * Extends a lease by `ttlSeconds` from now (default: its last TTL), never past its `maxExpiresAt`.
   *
   * @throws SecretsError `ERR_SECRETS_LEASE_NOT_FOUND`, `ERR_SECRETS_LEASE_NOT_RENEWABLE`, `ERR_SECRETS_INVALID_TTL`, provider errors.
   */
  renew(id: string, options?: { readonly ttlSeconds?: number }): Promise<Lease>;
  /**
   * Revokes a lease through its provider, then deletes it. If the provider
   * fails, the lease is kept (state `revoking`), retried with backoff by the
   * TTL manager, and this rejects with the provider's error.
   *
   * @throws SecretsError `ERR_SECRETS_LEASE_NOT_FOUND`, `ERR_SECRETS_PROVIDER_FAILED`, `ERR_SECRETS_PROVIDER_TIMEOUT`, `ERR_SECRETS_UNKNOWN_PROVIDER`.
   */
  revoke(id: string): Promise<void>;
  /** Revokes every lease of `owner`; failures stay pending and are retried. */
  revokeByOwner(owner: string): Promise<RevokeSummary>;
  /** Revokes every lease whose id starts with `prefix` (e.g. `ssh-cert/`); failures stay pending and are retried. */
  revokeByPrefix(prefix: string): Promise<RevokeSummary>;
  /** Revokes what is due now: expired leases and failed revocations whose retry time has come. */
  sweep(options?: { readonly batchSize?: number }): Promise<RevokeSummary>;
}

const PROVIDER_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const MAX_METADATA_BYTES = 16 * 1024;

/** @internal Validates a TTL in whole seconds within `1..max`. */
export function validateTtl(value: unknown, max: number, field = 'ttlSeconds'): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw clientError('ERR_SECRETS_INVALID_TTL', `${field} must be a positive whole number of seconds`, {
      [field]: typeof value === 'number' ? value : typeof value,
    });
  }
  if (value > max) {
    throw clientError('ERR_SECRETS_INVALID_TTL', `${field} exceeds the maximum of ${max} seconds`, {
      [field]: value,
      max,
    });
  }
  return value;
}

function positiveInt(value: unknown, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', `${name} must be a positive integer`, { [name]: v });
  }
  return v;
}

/**
 * @internal The abort signal of one provider call, made when the provider
 * first reads it: an `AbortController` costs ~4 µs, a tenth of a
 * certificate's own work, and local providers never look at it. A signal
 * read after the timeout comes already aborted, so every provider that
 * reads it sees the same as with an eager one.
 */
export class ProviderCall {
  #controller: AbortController | undefined;
  #timedOut = false;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#timedOut) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  /** Aborts the signal (now, or as it is made). */
  abort(): void {
    this.#timedOut = true;
    this.#controller?.abort();
  }
}

/**
 * @internal The context of a synchronous local `create` (see
 * `synchronousLocalProvider`). A class, where the asynchronous path passes an
 * object literal with a `signal` getter: V8 builds a literal with a getter on
 * its slow path, ~1 µs a call. Its getter is on the prototype, so a spread
 * copy of it has no `signal`; the only providers that get it are the
 * package's own, which do not copy it. The signal is never aborted: a
 * synchronous call returns before any timeout could elapse.
 */
class SynchronousCreateContext implements ProviderCreateContext {
  #controller: AbortController | undefined;

  constructor(
    readonly leaseId: string,
    readonly owner: string,
    readonly ttlSeconds: number,
    readonly expiresAt: Date,
    readonly clock: Clock,
  ) {}

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }
}

/**
 * @internal Runs a provider call with a timeout, mapping its failure to a
 * {@link SecretsError} without copying messages that might hold secrets.
 * `fn` reads `call.signal` only if it needs it (see {@link ProviderCall}).
 */
export function callProvider<T>(
  provider: string,
  operation: string,
  timeoutMs: number,
  fn: (call: ProviderCall) => Promise<T>,
): Promise<T> {
  const call = new ProviderCall();
  // One promise settled by whichever comes first, the provider or the timer
  // (what a Promise.race of the two did, with two promises and an array less).
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    let pending: Promise<T>;
    try {
      pending = Promise.resolve(fn(call));
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => {
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        settled = true;
        clearTimeout(timer);
        reject(providerFailure(provider, operation, error));
      },
    );
    // The timer is armed one microtask later, and only if the provider has
    // not answered by then. A provider that finishes without waiting on
    // anything (key pairs, certificates) has settled first (its reaction was
    // queued before this job), so it costs no timer (~3 µs each with its
    // bookkeeping). No timeout is lost: a timer cannot fire before the
    // microtask queue has drained anyway, and this job always runs.
    queueMicrotask(() => {
      if (settled) return;
      timer = setTimeout(() => {
        call.abort();
        reject(
          new SecretsError(`provider ${provider} did not answer ${operation} within ${timeoutMs} ms`, {
            code: 'ERR_SECRETS_PROVIDER_TIMEOUT',
            fault: 'server',
            retryable: true,
            details: { provider, operation, timeoutMs },
          }),
        );
      }, timeoutMs);
    });
  });
}

function providerFailure(provider: string, operation: string, error: unknown): SecretsError {
  if (error instanceof SecretsError) return error;
  // An SDK error is secret-free by contract and can be kept as the cause; a
  // foreign error (a driver's, an HTTP client's) may quote SQL or a body, so
  // only its name and code are kept.
  const code = (error as { code?: unknown })?.code;
  return new SecretsError(`provider ${provider} failed to ${operation}`, {
    code: 'ERR_SECRETS_PROVIDER_FAILED',
    fault: 'server',
    retryable: true,
    ...(isSdkError(error) ? { cause: error } : {}),
    details: {
      provider,
      operation,
      errorName: error instanceof Error ? error.name : typeof error,
      ...(typeof code === 'string' ? { errorCode: code } : {}),
    },
  });
}

function validateMetadata(metadata: unknown): Readonly<Record<string, string>> {
  if (metadata === undefined) return {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw clientError('ERR_SECRETS_INVALID_REQUEST', 'lease metadata is a record of strings');
  }
  // JSON writes a UTF-16 unit as at most 6 bytes (`\u001f`), and an entry
  // adds quotes, a colon and a comma: when that bound fits, the exact size
  // (a JSON.stringify the store repeats) is not needed.
  let bound = 2;
  for (const key of Object.keys(metadata)) {
    const value = (metadata as Record<string, unknown>)[key];
    if (typeof value !== 'string')
      throw clientError('ERR_SECRETS_INVALID_REQUEST', 'lease metadata values are strings');
    bound += 6 * (key.length + value.length) + 6;
  }
  if (bound > MAX_METADATA_BYTES && Buffer.byteLength(JSON.stringify(metadata)) > MAX_METADATA_BYTES) {
    throw clientError('ERR_SECRETS_INVALID_REQUEST', `lease metadata exceeds ${MAX_METADATA_BYTES} bytes`);
  }
  return { ...(metadata as Record<string, string>) };
}

/**
 * Creates the lease manager: every dynamic secret is issued, renewed and
 * revoked through it, and tracked as a {@link Lease} in `store`.
 *
 * Guarantees: a lease is persisted before its provider creates the secret
 * (no untracked credential after a crash); a lease is deleted only after its
 * provider confirmed the revocation (a failing provider delays, never loses a
 * revocation); several instances sharing a store claim a revocation by
 * compare-and-set before calling the provider.
 *
 * @throws SecretsError `ERR_SECRETS_INVALID_OPTIONS` for bad options or duplicate provider names.
 * @example
 * ```ts
 * const leases = createLeaseManager({ store: memoryLeaseStore(), providers: [certs] });
 * const { lease, secret } = await leases.issue(certs, { principals: ['deploy'] }, { owner: 'alice', ttlSeconds: 900 });
 * await leases.revoke(lease.id);
 * ```
 */
export function createLeaseManager(options: LeaseManagerOptions): LeaseManager {
  const store = options?.store;
  if (store === undefined || typeof store.insert !== 'function') {
    throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'createLeaseManager needs a LeaseStore');
  }
  const clock = options.clock ?? systemClock;
  // Lease ids are public: pooled CSPRNG bytes (see publicValueRandom).
  const random = options.random ?? publicValueRandom;
  const maxTtl = positiveInt(options.maxTtlSeconds, 86_400, 'maxTtlSeconds');
  const defaultTtl = Math.min(positiveInt(options.defaultTtlSeconds, 3600, 'defaultTtlSeconds'), maxTtl);
  const timeoutMs = positiveInt(options.providerTimeoutMs, 10_000, 'providerTimeoutMs');
  const initialDelayMs = positiveInt(options.retry?.initialDelayMs, 30_000, 'retry.initialDelayMs');
  const maxDelayMs = Math.max(initialDelayMs, positiveInt(options.retry?.maxDelayMs, 3_600_000, 'retry.maxDelayMs'));
  // biome-ignore lint/suspicious/noExplicitAny: see LeaseManagerOptions.providers
  const providers = new Map<string, SecretProvider<any, any>>();
  for (const provider of options.providers ?? []) {
    if (typeof provider?.name !== 'string' || !PROVIDER_NAME.test(provider.name)) {
      throw clientError('ERR_SECRETS_INVALID_OPTIONS', 'provider names are lowercase identifiers');
    }
    if (providers.has(provider.name)) {
      throw clientError('ERR_SECRETS_INVALID_OPTIONS', `provider ${provider.name} is registered twice`);
    }
    providers.set(provider.name, provider);
  }

  const emit = (event: LeaseEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {
      // A failing listener must not turn a completed revocation into an error.
    }
  };

  const providerOf = (name: string) => {
    const provider = providers.get(name);
    if (provider === undefined) {
      throw new SecretsError(`provider ${name} is not registered`, {
        code: 'ERR_SECRETS_UNKNOWN_PROVIDER',
        fault: 'client',
        details: { provider: name },
      });
    }
    return provider;
  };

  const mustGet = async (id: string): Promise<Lease> => {
    if (typeof id !== 'string' || id === '') throw clientError('ERR_SECRETS_LEASE_NOT_FOUND', 'no such lease');
    const lease = await store.get(id);
    if (lease === undefined) throw clientError('ERR_SECRETS_LEASE_NOT_FOUND', 'no such lease', { leaseId: id });
    return lease;
  };

  type Attempt = { status: 'revoked' | 'gone' | 'busy' } | { status: 'failed'; error: SecretsError };

  /**
   * Claims the lease (compare-and-set to `revoking` with a claim deadline),
   * calls the provider, and deletes the lease only on success. On failure
   * the lease stays `revoking` with a backed-off `nextAttemptAt`; if even
   * that write fails, the claim deadline passes and the sweeper retries.
   */
  const attemptRevoke = async (lease: Lease, reason: 'revoked' | 'expired'): Promise<Attempt> => {
    const claimed: Lease = {
      ...lease,
      state: 'revoking',
      nextAttemptAt: new Date(clock.now() + timeoutMs * 2),
      version: lease.version + 1,
    };
    if (!(await store.update(claimed, lease.version))) {
      return (await store.get(lease.id)) === undefined ? { status: 'gone' } : { status: 'busy' };
    }
    try {
      const provider = providerOf(lease.provider);
      await callProvider(lease.provider, 'revoke', timeoutMs, (call) =>
        provider.revoke(claimed, {
          get signal() {
            return call.signal;
          },
        }),
      );
    } catch (error) {
      const mapped =
        error instanceof SecretsError
          ? error
          : new SecretsError('revocation failed', {
              code: 'ERR_SECRETS_PROVIDER_FAILED',
              fault: 'server',
              retryable: true,
            });
      const attempts = claimed.revokeAttempts + 1;
      const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempts - 1, 30));
      const nextAttemptAt = new Date(clock.now() + delay);
      await store
        .update(
          {
            ...claimed,
            revokeAttempts: attempts,
            nextAttemptAt,
            lastErrorCode: mapped.code,
            version: claimed.version + 1,
          },
          claimed.version,
        )
        .catch(() => {});
      emit({
        type: 'lease.revoke_failed',
        leaseId: lease.id,
        provider: lease.provider,
        attempts,
        nextAttemptAt,
        code: mapped.code,
      });
      return {
        status: 'failed',
        error: new SecretsError(`revocation of the lease failed; it is kept and retried`, {
          code: mapped.code,
          fault: mapped.fault,
          retryable: true,
          cause: mapped,
          details: {
            leaseId: lease.id,
            provider: lease.provider,
            attempts,
            nextAttemptAt: nextAttemptAt.toISOString(),
          },
        }),
      };
    }
    await store.delete(lease.id);
    emit({ type: 'lease.revoked', leaseId: lease.id, provider: lease.provider, reason });
    return { status: 'revoked' };
  };

  const revokeAll = async (filter: LeaseFilter): Promise<RevokeSummary> => {
    const revoked: string[] = [];
    const pending: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await store.list({ ...filter, limit: 500, ...(after === undefined ? {} : { after }) });
      for (const lease of page) {
        const result = await attemptRevoke(lease, 'revoked');
        if (result.status === 'revoked') revoked.push(lease.id);
        else if (result.status !== 'gone') pending.push(lease.id);
      }
      if (page.length < 500) break;
      after = page[page.length - 1]?.id;
    }
    return { revoked, pending };
  };

  const activeLease = <S>(lease: Lease, result: ProviderCreateResult<S>, version: number): Lease => {
    const backendEnd = result?.expiresAt?.getTime();
    // The backend ends the secret earlier: the lease follows, so it never outlives its secret.
    const shorter = backendEnd !== undefined && backendEnd < lease.expiresAt.getTime();
    // Field by field rather than spread with overrides: one object, not three.
    return {
      id: lease.id,
      provider: lease.provider,
      owner: lease.owner,
      ttlSeconds: shorter ? Math.max(1, Math.floor((backendEnd - lease.createdAt.getTime()) / 1000)) : lease.ttlSeconds,
      maxTtlSeconds: lease.maxTtlSeconds,
      renewable: lease.renewable,
      createdAt: lease.createdAt,
      expiresAt: shorter ? new Date(backendEnd) : lease.expiresAt,
      maxExpiresAt: lease.maxExpiresAt,
      metadata: validateMetadata(result?.metadata),
      state: 'active',
      revokeAttempts: lease.revokeAttempts,
      nextAttemptAt: lease.nextAttemptAt,
      lastErrorCode: lease.lastErrorCode,
      version,
    };
  };

  /** Reports a failed local create (nothing was persisted) and hands the error on. */
  const localCreateFailed = (provider: string, leaseId: string, error: unknown): unknown => {
    const code = isSdkError(error) ? error.code : 'ERR_SECRETS_PROVIDER_FAILED';
    emit({ type: 'lease.create_failed', leaseId, provider, code, pendingRevocation: false });
    return error;
  };

  /**
   * A local provider's secret exists only in this process until it is
   * returned, so the lease is written once, after `create`: a crash before
   * the write leaves nothing behind, and a failed write drops the secret.
   * The lease is built once, already active (there is no `creating` record
   * to persist).
   *
   * Promise chains rather than `async` functions: for a provider that
   * answers synchronously, the only promise this waits on is the store's
   * `insert` (an `async` issue and an `async` helper cost two more promises,
   * their frames and three more microtask turns per certificate). Nothing
   * here throws: every failure is a rejection.
   */
  const issueLocal = <R, S>(
    provider: SecretProvider<R, S>,
    request: R,
    owner: string,
    ttl: number,
    leaseMax: number,
    renewable: boolean,
  ): Promise<IssueResult<S>> => {
    const now = clock.now();
    const id = `${provider.name}/${uuidv7(clock, random)}`;
    const expiresAt = new Date(now + ttl * 1000);
    const createNow = synchronousCreate(provider);
    if (createNow !== undefined) {
      // The package's own key pair and certificate providers: no promise and
      // no timeout (none could fire before a synchronous call returns).
      // Failures map exactly as callProvider maps them.
      let result: ProviderCreateResult<S>;
      try {
        result = createNow(request, new SynchronousCreateContext(id, owner, ttl, expiresAt, clock));
      } catch (error) {
        return Promise.reject(localCreateFailed(provider.name, id, providerFailure(provider.name, 'create', error)));
      }
      return persistLocal(provider.name, id, owner, ttl, leaseMax, renewable, now, expiresAt, result);
    }
    return callProvider(provider.name, 'create', timeoutMs, (call) =>
      provider.create(request, {
        leaseId: id,
        owner,
        ttlSeconds: ttl,
        expiresAt,
        get signal() {
          return call.signal;
        },
        clock,
      }),
    ).then(
      (result) => persistLocal(provider.name, id, owner, ttl, leaseMax, renewable, now, expiresAt, result),
      (error: unknown) => {
        throw localCreateFailed(provider.name, id, error);
      },
    );
  };

  /** The second half of {@link issueLocal}: the active lease, written once, then the secret. */
  const persistLocal = <S>(
    provider: string,
    id: string,
    owner: string,
    ttl: number,
    leaseMax: number,
    renewable: boolean,
    now: number,
    expiresAt: Date,
    result: ProviderCreateResult<S>,
  ): Promise<IssueResult<S>> => {
    let active: Lease;
    let inserted: Promise<void>;
    try {
      const backendEnd = result?.expiresAt?.getTime();
      // The backend ends the secret earlier: the lease follows, so it never outlives its secret.
      const shorter = backendEnd !== undefined && backendEnd < expiresAt.getTime();
      active = {
        id,
        provider,
        owner,
        ttlSeconds: shorter ? Math.max(1, Math.floor((backendEnd - now) / 1000)) : ttl,
        maxTtlSeconds: leaseMax,
        renewable,
        createdAt: new Date(now),
        expiresAt: shorter ? new Date(backendEnd) : expiresAt,
        maxExpiresAt: new Date(now + leaseMax * 1000),
        metadata: validateMetadata(result?.metadata),
        state: 'active',
        revokeAttempts: 0,
        nextAttemptAt: undefined,
        lastErrorCode: undefined,
        version: 1,
      };
    } catch (error) {
      return Promise.reject(localCreateFailed(provider, id, error));
    }
    try {
      inserted = store.insert(active);
    } catch (error) {
      // A store that throws instead of rejecting: the secret is dropped all the same.
      return Promise.reject(error);
    }
    return Promise.resolve(inserted).then(() => {
      if (options.onEvent !== undefined) {
        emit({ type: 'lease.created', leaseId: id, provider, owner, expiresAt: active.expiresAt });
      }
      return { lease: active, secret: result.secret };
    });
  };

  /** `issue` once its arguments are checked; throws (synchronously) for bad ones. */
  const issueChecked = <R, S>(
    provider: SecretProvider<R, S>,
    request: R,
    issueOptions: IssueOptions,
  ): Promise<IssueResult<S>> => {
    const registered = providerOf(provider?.name);
    if (registered !== provider) {
      throw clientError('ERR_SECRETS_UNKNOWN_PROVIDER', 'a different provider is registered under this name', {
        provider: provider.name,
      });
    }
    const owner = issueOptions?.owner;
    if (typeof owner !== 'string' || owner.length === 0 || owner.length > 256) {
      throw clientError('ERR_SECRETS_INVALID_REQUEST', 'owner must be 1-256 characters');
    }
    const leaseMax = validateTtl(issueOptions.maxTtlSeconds ?? maxTtl, maxTtl, 'maxTtlSeconds');
    const ttl = validateTtl(issueOptions.ttlSeconds ?? Math.min(defaultTtl, leaseMax), leaseMax);
    const renewable = issueOptions.renewable ?? provider.renew !== undefined;
    if (renewable && provider.renew === undefined) {
      throw clientError('ERR_SECRETS_INVALID_REQUEST', `provider ${provider.name} cannot renew`, {
        provider: provider.name,
      });
    }
    if (provider.local === true) return issueLocal(provider, request, owner, ttl, leaseMax, renewable);
    return issueRemote(provider, request, owner, ttl, leaseMax, renewable);
  };

  /** A provider with a backend: the lease is persisted (`creating`) before `create`, activated after. */
  const issueRemote = async <R, S>(
    provider: SecretProvider<R, S>,
    request: R,
    owner: string,
    ttl: number,
    leaseMax: number,
    renewable: boolean,
  ): Promise<IssueResult<S>> => {
    const now = clock.now();
    const lease: Lease = {
      id: `${provider.name}/${uuidv7(clock, random)}`,
      provider: provider.name,
      owner,
      ttlSeconds: ttl,
      maxTtlSeconds: leaseMax,
      renewable,
      createdAt: new Date(now),
      expiresAt: new Date(now + ttl * 1000),
      maxExpiresAt: new Date(now + leaseMax * 1000),
      metadata: {},
      state: 'creating',
      revokeAttempts: 0,
      nextAttemptAt: undefined,
      lastErrorCode: undefined,
      version: 1,
    };
    // Persist first: if the process dies while the provider works, the
    // sweeper still finds the lease at its expiry and revokes whatever exists.
    await store.insert(lease);
    let result: ProviderCreateResult<S>;
    try {
      result = await callProvider(provider.name, 'create', timeoutMs, (call) =>
        provider.create(request, {
          leaseId: lease.id,
          owner,
          ttlSeconds: ttl,
          expiresAt: lease.expiresAt,
          get signal() {
            return call.signal;
          },
          clock,
        }),
      );
    } catch (error) {
      const code = isSdkError(error) ? error.code : 'ERR_SECRETS_PROVIDER_FAILED';
      const maybeCreated = code === 'ERR_SECRETS_PROVIDER_TIMEOUT';
      if (maybeCreated) {
        // The backend may have made the secret after all: revoke it now-ish.
        await store
          .update({ ...lease, state: 'revoking', nextAttemptAt: new Date(clock.now()), version: 2 }, 1)
          .catch(() => {});
      } else {
        await store.delete(lease.id).catch(() => {});
      }
      emit({
        type: 'lease.create_failed',
        leaseId: lease.id,
        provider: provider.name,
        code,
        pendingRevocation: maybeCreated,
      });
      throw error;
    }
    let active: Lease;
    try {
      active = activeLease(lease, result, 2);
      if (!(await store.update(active, 1))) {
        throw clientError('ERR_SECRETS_LEASE_NOT_FOUND', 'the lease was revoked while it was being created', {
          leaseId: lease.id,
        });
      }
    } catch (error) {
      // The secret exists but cannot be tracked properly: take it back now.
      await callProvider(provider.name, 'revoke', timeoutMs, (call) =>
        provider.revoke(
          { ...lease, metadata: validateMetadataSafe(result?.metadata) },
          {
            get signal() {
              return call.signal;
            },
          },
        ),
      )
        .then(() => store.delete(lease.id))
        .catch(() => {});
      throw error;
    }
    emit({ type: 'lease.created', leaseId: lease.id, provider: provider.name, owner, expiresAt: active.expiresAt });
    return { lease: active, secret: result.secret };
  };

  return {
    clock,
    issue<R, S>(provider: SecretProvider<R, S>, request: R, issueOptions: IssueOptions): Promise<IssueResult<S>> {
      // Not `async`: a local provider's issuance is one promise chain (see
      // issueLocal). Every throw below still becomes a rejection.
      try {
        return issueChecked(provider, request, issueOptions);
      } catch (error) {
        return Promise.reject(error);
      }
    },

    get: mustGet,

    async list(filter?: LeaseFilter) {
      return store.list(filter);
    },

    async renew(id, renewOptions) {
      const lease = await mustGet(id);
      const now = clock.now();
      const notRenewable = (reason: string) =>
        clientError('ERR_SECRETS_LEASE_NOT_RENEWABLE', `the lease cannot be renewed (${reason})`, {
          leaseId: id,
          reason,
        });
      if (!lease.renewable) throw notRenewable('not renewable');
      if (lease.state !== 'active') throw notRenewable(lease.state);
      if (lease.expiresAt.getTime() <= now) throw notRenewable('expired');
      const ttl = validateTtl(renewOptions?.ttlSeconds ?? lease.ttlSeconds, lease.maxTtlSeconds);
      if (lease.expiresAt.getTime() >= lease.maxExpiresAt.getTime()) throw notRenewable('maximum TTL reached');
      const expiresAt = Math.min(now + ttl * 1000, lease.maxExpiresAt.getTime());
      const provider = providerOf(lease.provider);
      const granted = Math.max(1, Math.floor((expiresAt - now) / 1000));
      const renew = provider.renew;
      if (renew === undefined) throw notRenewable('provider cannot renew');
      const renewed = await callProvider(lease.provider, 'renew', timeoutMs, (call) =>
        renew.call(provider, lease, {
          ttlSeconds: granted,
          expiresAt: new Date(expiresAt),
          get signal() {
            return call.signal;
          },
        }),
      );
      const backendEnd = renewed?.expiresAt?.getTime();
      const end = backendEnd !== undefined && backendEnd < expiresAt ? backendEnd : expiresAt;
      const next: Lease = {
        ...lease,
        ttlSeconds: Math.max(1, Math.floor((end - now) / 1000)),
        expiresAt: new Date(end),
        version: lease.version + 1,
      };
      // Lost race (revoked meanwhile): the stored, shorter state wins: safe.
      if (!(await store.update(next, lease.version))) throw notRenewable('changed concurrently');
      emit({ type: 'lease.renewed', leaseId: id, provider: lease.provider, expiresAt: next.expiresAt });
      return (await store.get(id)) ?? next;
    },

    async revoke(id) {
      for (let i = 0; i < 3; i++) {
        const lease = await mustGet(id);
        const result = await attemptRevoke(lease, 'revoked');
        if (result.status === 'revoked' || result.status === 'gone') return;
        if (result.status === 'failed') throw result.error;
        // busy: changed under us (renewed, or claimed by another instance): read again.
      }
      throw new SecretsError('the lease is being revoked by another instance', {
        code: 'ERR_SECRETS_PROVIDER_TIMEOUT',
        fault: 'server',
        retryable: true,
        details: { leaseId: id },
      });
    },

    async revokeByOwner(owner) {
      if (typeof owner !== 'string' || owner === '')
        throw clientError('ERR_SECRETS_INVALID_REQUEST', 'owner is required');
      return revokeAll({ owner });
    },

    async revokeByPrefix(prefix) {
      // An empty prefix would revoke everything: refuse it, it is never what a caller meant.
      if (typeof prefix !== 'string' || prefix === '')
        throw clientError('ERR_SECRETS_INVALID_REQUEST', 'prefix is required');
      return revokeAll({ prefix });
    },

    async sweep(sweepOptions) {
      const batch = positiveInt(sweepOptions?.batchSize, 100, 'batchSize');
      const revoked: string[] = [];
      const pending: string[] = [];
      const seen = new Set<string>();
      for (let round = 0; round < 1000; round++) {
        const due = (await store.due(new Date(clock.now()), batch)).filter((l) => !seen.has(l.id));
        if (due.length === 0) break;
        for (const lease of due) {
          seen.add(lease.id);
          const result = await attemptRevoke(lease, lease.expiresAt.getTime() <= clock.now() ? 'expired' : 'revoked');
          if (result.status === 'revoked') revoked.push(lease.id);
          else if (result.status !== 'gone') pending.push(lease.id);
        }
      }
      return { revoked, pending };
    },
  };
}

function validateMetadataSafe(metadata: unknown): Readonly<Record<string, string>> {
  try {
    return validateMetadata(metadata);
  } catch {
    return {};
  }
}
