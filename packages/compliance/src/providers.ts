import { ComplianceError } from './errors.js';

/** The subject a provider is asked about, with the request it belongs to. */
export interface ProviderSubject {
  /** The platform's id of the data subject. */
  readonly subjectId: string;
  /** The data-subject request id, for the provider's own audit trail. */
  readonly requestId: string;
}

/** What a provider returns from {@link DataProvider.export}. */
export interface ProviderExport {
  /** Whether the provider holds data about the subject. */
  readonly subjectFound: boolean;
  /** The subject's data as JSON-serialisable values (no functions, no `undefined`, no cycles). */
  readonly data: unknown;
  /** How many records `data` holds, for the manifest. */
  readonly records?: number;
}

/**
 * How a provider erased a subject's data:
 * - `deleted`: rows removed;
 * - `anonymised`: identifying fields overwritten so the rest cannot be linked back;
 * - `pseudonymised` / `key_destroyed`: for append-only, hash-chained logs (audit): the
 *   events stay byte-for-byte so the chain still verifies, and the key or mapping
 *   that links their pseudonyms to the subject is destroyed;
 * - `retained`: kept under a legal obligation (Art. 17(3)); `note` says which.
 */
export type ErasureMethod = 'deleted' | 'anonymised' | 'pseudonymised' | 'key_destroyed' | 'retained';

/** What a provider returns from erase, rectify, restrict or object. */
export interface ProviderOutcome {
  /** Whether the provider held data about the subject. */
  readonly subjectFound: boolean;
  /** How many records were changed. */
  readonly affected?: number;
  /** For erasure: how it was done. */
  readonly method?: ErasureMethod;
  /** Why (e.g. the legal basis for `retained`). Never personal data: it is stored in the request record. */
  readonly note?: string;
}

/**
 * One component's handler of data-subject requests: users, MFA devices,
 * sessions, leases, audit pseudonyms, or a host application's own tables.
 * Every operation is optional; a missing one makes the provider
 * `not_applicable` for that request type (never a success).
 *
 * Contract:
 * - Operations are idempotent: a retry after a partial failure calls them again.
 * - A failure rejects (throws). Never resolve to hide a failure: the request
 *   would be reported complete while data remains.
 * - An unknown subject resolves with `subjectFound: false` (not an error).
 * - **Audit providers must not delete events.** An immutable, hash-chained
 *   audit log has to keep verifying after erasure: the audit provider
 *   pseudonymises (the events carry a pseudonym, never the subject id) and on
 *   `erase` destroys the per-subject key or mapping that links the pseudonym
 *   to the subject, returning `method: 'key_destroyed'` or `'pseudonymised'`.
 *
 * @example
 * ```ts
 * const users: DataProvider = {
 *   id: 'users',
 *   async export({ subjectId }) { const row = await db.find(subjectId); return { subjectFound: !!row, data: row ?? null }; },
 *   async erase({ subjectId }) { const n = await db.delete(subjectId); return { subjectFound: n > 0, affected: n, method: 'deleted' }; },
 * };
 * ```
 */
export interface DataProvider {
  /** Unique id (`users`, `mfa-devices`, `audit` …): lowercase letters, digits, `.`, `_`, `-`. */
  readonly id: string;
  /** A short description for reports. */
  readonly description?: string;
  /**
   * The provider's data is an append-only, hash-chained log (audit). Its
   * `erase` must answer `method: 'pseudonymised'`, `'key_destroyed'` or
   * `'retained'`; any other answer for a found subject is recorded as a
   * failure, because deleting or rewriting events would break the chain.
   */
  readonly appendOnly?: boolean;
  /** Returns the subject's data (access and portability). */
  export?(subject: ProviderSubject): Promise<ProviderExport>;
  /** Erases the subject's data (or pseudonymises it, see the contract). */
  erase?(subject: ProviderSubject): Promise<ProviderOutcome>;
  /** Applies corrected values; `changes` maps field names to new values. */
  rectify?(subject: ProviderSubject, changes: Readonly<Record<string, unknown>>): Promise<ProviderOutcome>;
  /** Restricts (or with `false` lifts the restriction of) processing of the subject's data. */
  restrict?(subject: ProviderSubject, restricted: boolean): Promise<ProviderOutcome>;
  /** Stops processing for the purposes the subject objected to. */
  object?(subject: ProviderSubject, purposes: readonly string[]): Promise<ProviderOutcome>;
}

/** The set of data providers a request fans out to. */
export interface ProviderRegistry {
  /**
   * Adds a provider.
   *
   * @throws ComplianceError `ERR_COMPLIANCE_DUPLICATE_ID` if the id is taken; `ERR_COMPLIANCE_INVALID_INPUT` for a bad id.
   */
  register(provider: DataProvider): void;
  /** Removes a provider; resolves whether it was registered. */
  unregister(id: string): boolean;
  /** The provider with this id, if any. */
  get(id: string): DataProvider | undefined;
  /** Every provider, in registration order. */
  list(): readonly DataProvider[];
}

const PROVIDER_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * Creates a {@link ProviderRegistry}, optionally with initial providers.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_DUPLICATE_ID`, `ERR_COMPLIANCE_INVALID_INPUT`.
 * @example
 * ```ts
 * const registry = createProviderRegistry([usersProvider, auditProvider]);
 * registry.register(hostAppProvider);
 * ```
 */
export function createProviderRegistry(initial: readonly DataProvider[] = []): ProviderRegistry {
  const providers = new Map<string, DataProvider>();
  const registry: ProviderRegistry = {
    register(provider) {
      if (typeof provider !== 'object' || provider === null || typeof provider.id !== 'string') {
        throw new ComplianceError('a data provider needs an id', {
          code: 'ERR_COMPLIANCE_INVALID_INPUT',
          fault: 'client',
        });
      }
      if (!PROVIDER_ID.test(provider.id)) {
        throw new ComplianceError('data provider ids are lowercase letters, digits, ".", "_" and "-"', {
          code: 'ERR_COMPLIANCE_INVALID_INPUT',
          fault: 'client',
          details: { id: provider.id.slice(0, 64) },
        });
      }
      if (providers.has(provider.id)) {
        throw new ComplianceError(`data provider ${provider.id} is already registered`, {
          code: 'ERR_COMPLIANCE_DUPLICATE_ID',
          fault: 'client',
          details: { id: provider.id },
        });
      }
      providers.set(provider.id, provider);
    },
    unregister: (id) => providers.delete(id),
    get: (id) => providers.get(id),
    list: () => [...providers.values()],
  };
  for (const provider of initial) registry.register(provider);
  return registry;
}
