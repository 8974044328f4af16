export type {
  AuthorizationDecision,
  AuthorizationRequest,
  Authorizer,
  AuthorizerEvents,
  AuthorizerOptions,
  DecisionError,
  EvaluationInfo,
  EvaluationPath,
  ReloadedEvent,
  ReloadFailedEvent,
  WatchOptions,
} from './authorizer.js';
export { createAuthorizer } from './authorizer.js';
export type { ContextBuilder, ContextBuilderOptions, ContextInput, TimeWindow } from './context.js';
export { createContextBuilder } from './context.js';
export type { CachedEntityProvider, CachedEntityProviderOptions, EntityProvider } from './entities.js';
export { cachedEntityProvider, staticEntityProvider } from './entities.js';
export { snapshotEntity } from './entity-snapshot.js';
export type { AuthzErrorCode } from './errors.js';
export { AuthzError } from './errors.js';
export type {
  CompiledPolicy,
  CompiledPolicySet,
  PolicyDirectory,
  PolicyFile,
  PolicySetInput,
  SchemaSource,
  ValidationIssue,
  ValidationIssueKind,
  ValidationReport,
} from './policy-set.js';
export { compilePolicySet, readPolicyDirectory, validatePolicies } from './policy-set.js';
export type {
  PolicyTestCase,
  PolicyTestGiven,
  PolicyTestReport,
  PolicyTestResult,
  PolicyTestSuite,
} from './policy-tests.js';
export { loadPolicyTestFile, parsePolicyTestSuite, runPolicyTests } from './policy-tests.js';
export { shippedPolicyDir } from './shipped.js';
export { DEFAULT_MAX_NESTING, MAX_ALLOWED_NESTING } from './source.js';
export type { CedarEntity, CedarValue, EntityInput, EntityRef } from './uid.js';
export { entityValue, formatEntityRef, parseEntityRef } from './uid.js';
