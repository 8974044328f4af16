import { SdkError } from '@provisioning/core';

/** The codes of {@link AuthzError}. */
export type AuthzErrorCode =
  /** Options passed to a factory are invalid (thrown at construction). */
  | 'ERR_AUTHZ_INVALID_OPTIONS'
  /** A policy directory or file cannot be read. */
  | 'ERR_AUTHZ_LOAD'
  /** A policy or schema does not parse, or the set fails strict validation; `details.issues` lists every issue. */
  | 'ERR_AUTHZ_VALIDATION'
  /** A policy or schema is nested deeper than the safe limit and was rejected before reaching the Cedar engine. */
  | 'ERR_AUTHZ_TOO_DEEP'
  /** Two policies share an id (from `@id` annotations). */
  | 'ERR_AUTHZ_DUPLICATE_POLICY_ID'
  /** An authorization request is malformed (bad entity uid, unsafe integer, value nested too deep …). */
  | 'ERR_AUTHZ_INVALID_REQUEST'
  /** A context input is invalid (bad IP address, bad time, bad window). */
  | 'ERR_AUTHZ_INVALID_CONTEXT'
  /** The entity provider failed to load entities. */
  | 'ERR_AUTHZ_ENTITY_PROVIDER'
  /** A policy test file is malformed. */
  | 'ERR_AUTHZ_POLICY_TEST'
  /** The Cedar engine failed in an unexpected way. */
  | 'ERR_AUTHZ_ENGINE'
  /** The authorizer was closed. */
  | 'ERR_AUTHZ_CLOSED';

/**
 * The error class of `@provisioning/authz`. Messages and `details` name
 * files, lines, policy ids and limits, never request data such as tokens.
 *
 * @example
 * ```ts
 * try { await createAuthorizer({ policyDir }); } catch (err) {
 *   if (err instanceof AuthzError && err.code === 'ERR_AUTHZ_VALIDATION') console.error(err.details.issues);
 * }
 * ```
 */
export class AuthzError extends SdkError<AuthzErrorCode> {
  override readonly name = 'AuthzError' as const;
}
