import { SdkError } from '@provisioning/core';

/** The codes of {@link ComplianceError}. */
export type ComplianceErrorCode =
  /** Options passed to a factory are invalid (thrown at construction). */
  | 'ERR_COMPLIANCE_INVALID_OPTIONS'
  /** A request, incident, matrix or other input is malformed. */
  | 'ERR_COMPLIANCE_INVALID_INPUT'
  /** The data subject is not known to the subject directory. */
  | 'ERR_COMPLIANCE_UNKNOWN_SUBJECT'
  /** No data-subject request has this id. */
  | 'ERR_COMPLIANCE_REQUEST_NOT_FOUND'
  /** A state machine (request or incident) refused a transition. */
  | 'ERR_COMPLIANCE_ILLEGAL_TRANSITION'
  /** A request was processed before the subject's identity was verified. */
  | 'ERR_COMPLIANCE_IDENTITY_NOT_VERIFIED'
  /** The injected identity verifier failed (threw); retryable. */
  | 'ERR_COMPLIANCE_VERIFIER_FAILED'
  /** A data provider failed; recorded per provider and never reported as success. */
  | 'ERR_COMPLIANCE_PROVIDER_FAILED'
  /** No data provider is registered, so a request cannot be fanned out. */
  | 'ERR_COMPLIANCE_NO_PROVIDERS'
  /** A provider, check or control id is registered twice. */
  | 'ERR_COMPLIANCE_DUPLICATE_ID'
  /** A check or control id is unknown. */
  | 'ERR_COMPLIANCE_UNKNOWN_ID'
  /** The deadline cannot be extended (already extended, or already past). */
  | 'ERR_COMPLIANCE_EXTENSION_REFUSED'
  /** Someone else updated the record first (optimistic concurrency); retryable after a re-read. */
  | 'ERR_COMPLIANCE_CONFLICT'
  /** The injected encrypter failed to encrypt an export. */
  | 'ERR_COMPLIANCE_ENCRYPTION_FAILED'
  /** The store was closed. */
  | 'ERR_COMPLIANCE_STORE_CLOSED'
  /** A provider cannot apply a requested rectification: its component has no operation for that field. */
  | 'ERR_COMPLIANCE_UNSUPPORTED_CHANGE'
  /** The injected audit sink refused a data-subject request's event. */
  | 'ERR_COMPLIANCE_AUDIT_FAILED';

/**
 * The error class of `@provisioning/compliance`. Messages and `details` carry
 * ids and codes only: never a subject's personal data, evidence submitted for
 * identity verification, or exported content.
 *
 * @example
 * ```ts
 * try { await dsr.process(id); } catch (err) {
 *   if (err instanceof ComplianceError && err.code === 'ERR_COMPLIANCE_IDENTITY_NOT_VERIFIED') askForId();
 * }
 * ```
 */
export class ComplianceError extends SdkError<ComplianceErrorCode> {
  override readonly name = 'ComplianceError' as const;
}

/** @internal Shorthand for a client-fault {@link ComplianceError}. */
export function invalidInput(message: string, details?: Record<string, unknown>): ComplianceError {
  return new ComplianceError(message, {
    code: 'ERR_COMPLIANCE_INVALID_INPUT',
    fault: 'client',
    ...(details ? { details } : {}),
  });
}

/** @internal Shorthand for a factory's bad-options {@link ComplianceError}. */
export function invalidOptions(message: string): ComplianceError {
  return new ComplianceError(message, { code: 'ERR_COMPLIANCE_INVALID_OPTIONS', fault: 'client' });
}

/** @internal A provider's erasure that left something behind: a failure, retryable. */
export function remainedAfterErasure(what: string, count: number): ComplianceError {
  return new ComplianceError(`${count} ${what} remained after erasure`, {
    code: 'ERR_COMPLIANCE_PROVIDER_FAILED',
    fault: 'server',
    retryable: true,
    details: { remaining: count },
  });
}
