export type { SecretsErrorCode } from './errors.js';
export { SecretsError } from './errors.js';
export type { Lease, LeaseFilter, LeaseState, LeaseStore } from './lease.js';
export type {
  IssueOptions,
  IssueResult,
  LeaseEvent,
  LeaseManager,
  LeaseManagerOptions,
  RevokeSummary,
} from './manager.js';
export { createLeaseManager } from './manager.js';
export type {
  ProviderCreateContext,
  ProviderCreateResult,
  ProviderRenewContext,
  ProviderRenewResult,
  ProviderRevokeContext,
  SecretProvider,
} from './provider.js';
export { memoryLeaseStore } from './stores/memory.js';
export type { Timers, TtlManager, TtlManagerOptions } from './ttl.js';
export { createTtlManager } from './ttl.js';
