import { SdkError } from '@provisioning/core';

/** The codes of {@link AuditError}. */
export type AuditErrorCode =
  /** Options passed to a factory are invalid (thrown at construction). */
  | 'ERR_AUDIT_INVALID_OPTIONS'
  /** An event is malformed: a missing or mistyped field, an unknown action, a bad IP … (`details.field`). */
  | 'ERR_AUDIT_INVALID_EVENT'
  /** An event's serialized form is larger than `maxEventBytes` (`details.bytes`, `details.limit`). */
  | 'ERR_AUDIT_EVENT_TOO_LARGE'
  /** The queue is full and the overflow policy is `reject`. Retryable. */
  | 'ERR_AUDIT_QUEUE_FULL'
  /** A droppable event was dropped by the `drop` overflow policy (signal only; counted in `stats()`). */
  | 'ERR_AUDIT_DROPPED'
  /** The log was closed. */
  | 'ERR_AUDIT_CLOSED'
  /** A sink could not store a batch after its retries (`details.sink`, `details.fromSeq`, `details.toSeq`). */
  | 'ERR_AUDIT_SINK_WRITE'
  /** A store could not be read (query, scan, verification); `retryable` when the backend is only unavailable. */
  | 'ERR_AUDIT_STORE_READ'
  /** The log's `transform` (a PII policy) failed: the batch was not stored (signalled; durable callers rejected). */
  | 'ERR_AUDIT_TRANSFORM'
  /** The Splunk HEC forwarder gave up on a batch (`details.status`). */
  | 'ERR_AUDIT_FORWARD_FAILED'
  /** No configured sink can answer queries, exports or verification. */
  | 'ERR_AUDIT_NOT_QUERYABLE'
  /** A query filter or cursor is malformed. */
  | 'ERR_AUDIT_INVALID_QUERY'
  /** Stored data cannot be read back (a malformed line or row). */
  | 'ERR_AUDIT_CORRUPT'
  /** A checkpoint or purge record cannot be signed (no signer configured). */
  | 'ERR_AUDIT_NO_SIGNER';

/**
 * The error class of `@provisioning/audit`. Messages and `details` never
 * carry event contents (they may hold personal data): only field names,
 * sizes, sequence numbers and sink ids.
 *
 * @example
 * ```ts
 * try { log.record(input); } catch (err) {
 *   if (err instanceof AuditError && err.code === 'ERR_AUDIT_INVALID_EVENT') console.error(err.details.field);
 * }
 * ```
 */
export class AuditError extends SdkError<AuditErrorCode> {
  override readonly name = 'AuditError' as const;
}
