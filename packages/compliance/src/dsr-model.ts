import { ComplianceError } from './errors.js';

/**
 * The kinds of data-subject request (GDPR Art. 15–21): access (Art. 15),
 * rectification (16), erasure (17), restriction of processing (18),
 * portability (20, machine-readable JSON) and objection (21).
 */
export type DsrType = 'access' | 'erasure' | 'rectification' | 'portability' | 'restriction' | 'objection';

/** Every {@link DsrType}, in a stable order. */
export const DSR_TYPES: readonly DsrType[] = Object.freeze([
  'access',
  'erasure',
  'rectification',
  'portability',
  'restriction',
  'objection',
]);

/**
 * Where a data-subject request stands. `received` waits for identity
 * verification; nothing is fanned out to the providers before `verified`.
 * `completed`, `rejected` and `cancelled` are final.
 */
export type DsrStatus =
  | 'received'
  | 'verified'
  | 'in_progress'
  | 'completed'
  | 'partially_completed'
  | 'failed'
  | 'rejected'
  | 'cancelled';

/** Every {@link DsrStatus}. */
export const DSR_STATUSES: readonly DsrStatus[] = Object.freeze([
  'received',
  'verified',
  'in_progress',
  'completed',
  'partially_completed',
  'failed',
  'rejected',
  'cancelled',
]);

/**
 * The request state machine: the statuses each status may move to.
 * `partially_completed` and `failed` go back to `in_progress` for a retry of
 * the providers that failed; `in_progress` → `in_progress` is a take-over of a
 * request whose worker stopped (only after the stale period).
 */
export const DSR_TRANSITIONS: Readonly<Record<DsrStatus, readonly DsrStatus[]>> = Object.freeze({
  received: ['verified', 'rejected', 'cancelled'],
  verified: ['in_progress', 'cancelled'],
  in_progress: ['in_progress', 'completed', 'partially_completed', 'failed'],
  partially_completed: ['in_progress'],
  failed: ['in_progress'],
  completed: [],
  rejected: [],
  cancelled: [],
});

/**
 * Whether a request in `status` is finished for good (`completed`, `rejected`, `cancelled`).
 *
 * @example
 * ```ts
 * isFinalDsrStatus('partially_completed'); // false: it can be retried
 * ```
 */
export function isFinalDsrStatus(status: DsrStatus): boolean {
  return DSR_TRANSITIONS[status].length === 0;
}

/**
 * Throws unless the state machine allows `from` → `to`.
 *
 * @throws ComplianceError `ERR_COMPLIANCE_ILLEGAL_TRANSITION` (details `from`, `to`).
 * @example
 * ```ts
 * assertDsrTransition('received', 'verified'); // ok
 * assertDsrTransition('received', 'in_progress'); // throws: identity first
 * ```
 */
export function assertDsrTransition(from: DsrStatus, to: DsrStatus): void {
  if (!DSR_TRANSITIONS[from]?.includes(to)) {
    throw new ComplianceError(`a data-subject request cannot go from ${from} to ${to}`, {
      code: 'ERR_COMPLIANCE_ILLEGAL_TRANSITION',
      fault: 'client',
      details: { machine: 'dsr', from, to },
    });
  }
}

/** The result of one data provider for one request. */
export interface ProviderResult {
  /** `not_applicable`: the provider has no operation for this request type. Never counted as success. */
  readonly status: 'succeeded' | 'failed' | 'not_applicable';
  /** When the last attempt ended (ISO 8601). */
  readonly at: string;
  /** How many times the provider was called for this request. */
  readonly attempts: number;
  /** Whether the provider held data about the subject (as it reported). */
  readonly subjectFound?: boolean;
  /** Rows or records exported, erased, changed or flagged. */
  readonly affected?: number;
  /** How erasure was done (`deleted`, `pseudonymised` …). */
  readonly method?: string;
  /** SHA-256 (hex) of the provider's export section. */
  readonly sha256?: string;
  /** Why data was kept or the method chosen (e.g. a legal obligation). Never personal data. */
  readonly note?: string;
  /** For `failed`: a code and a generic message; the provider's own message is not stored (it may hold personal data). */
  readonly error?: { readonly code: string; readonly message: string };
}

/** A transition in a request's history. */
export interface DsrHistoryEntry {
  readonly at: string;
  readonly from: DsrStatus | null;
  readonly to: DsrStatus;
  readonly reason?: string;
}

/**
 * A data-subject request as stored. Times are ISO 8601 UTC strings so the
 * record is plain JSON in every store.
 */
export interface DsrRecord {
  readonly id: string;
  /** Incremented by every update; stores refuse an update whose version is not the stored one plus one. */
  readonly version: number;
  readonly type: DsrType;
  /** The platform's id of the data subject (a user id), not a name or e-mail address. */
  readonly subjectId: string;
  readonly status: DsrStatus;
  readonly receivedAt: string;
  /** The response deadline (inclusive), one calendar month after receipt or three when extended. */
  readonly dueAt: string;
  /** Set once when the deadline was extended by two months (Art. 12(3)), with the reason given to the subject. */
  readonly extension?: { readonly at: string; readonly reason: string };
  /** Identity verification: attempts, and when and how it passed. The evidence itself is never stored. */
  readonly identity: { readonly attempts: number; readonly verifiedAt?: string; readonly method?: string };
  /** For `rectification`: the corrected fields (personal data; kept until the request is final so a retry can apply them). */
  readonly rectification?: Readonly<Record<string, unknown>>;
  /** For `objection`: the processing purposes objected to (e.g. `marketing`). */
  readonly purposes?: readonly string[];
  /** For `restriction`: `true` to restrict processing, `false` to lift a restriction. */
  readonly restrict?: boolean;
  /** When the current processing attempt started (take-over after the stale period). */
  readonly startedAt?: string;
  /** When the request reached a final status. */
  readonly closedAt?: string;
  /** Per-provider results, by provider id. */
  readonly providers: Readonly<Record<string, ProviderResult>>;
  /** Digest of the last export bundle (access/portability). */
  readonly export?: { readonly sha256: string; readonly bytes: number; readonly encrypted: boolean };
  readonly history: readonly DsrHistoryEntry[];
}
