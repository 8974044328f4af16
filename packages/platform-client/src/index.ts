/**
 * `@provisioning/platform-client`: the typed client of the Provisioning
 * platform services. The API contract is at `@provisioning/platform-client/api`,
 * the OCI distribution client at `@provisioning/platform-client/oci`.
 *
 * @example
 * ```ts
 * import { createPlatformClient } from '@provisioning/platform-client';
 * const client = createPlatformClient({ host: 'platform.internal' });
 * const health = await client.health();
 * ```
 * @packageDocumentation
 */
export type {
  ApiServerClient,
  ControlCenterClient,
  DataKey,
  DecryptResult,
  ExtensionRegistryClient,
  KmsClient,
  OrchestratorClient,
  PlatformClient,
  PlatformClientOptions,
  PlatformHealth,
  ServiceHealth,
} from './client.js';
export { createPlatformClient } from './client.js';
export type { PlatformClientErrorCode, PlatformClientErrorContext } from './errors.js';
export { isPlatformClientError, PlatformClientError } from './errors.js';
export type { EventStreamOptions, WebSocketConstructor, WebSocketLike } from './events.js';
export type { OperationHandle, WaitOptions } from './operation.js';
export type { PageOptions } from './paginate.js';
export { paginate } from './paginate.js';
export type { AuthOptions, LoginInput, LoginStep, MfaAnswer, SessionTokens } from './session.js';
export type { CallOptions, Logger, RetryOptions, Sleep } from './transport.js';
export { backoffDelay, DEFAULT_RETRY, defaultSleep, parseRetryAfter } from './transport.js';
