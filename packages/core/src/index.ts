export type { Clock, ManualClock } from './clock.js';
export { createManualClock, systemClock } from './clock.js';
export type { CoreErrorCode, ErrorFault, SdkErrorOptions } from './errors.js';
export { CoreError, isSdkError, SdkError } from './errors.js';
export type {
  CounterResult,
  GuardedClaimOptions,
  GuardedClaimResult,
  IncrementOptions,
  KeyValueStore,
  ListOptions,
  SetIfAbsentOptions,
  SetOptions,
} from './kv.js';
export {
  assertValidKey,
  assertValidValue,
  DEFAULT_MAX_VALUE_BYTES,
  MAX_GET_MANY,
  MAX_KEY_LENGTH,
  ttlToMs,
} from './kv.js';
export type { IpRange, ParseIpRangeOptions } from './net.js';
export { parseIpRange } from './net.js';
export type { RandomSource } from './random.js';
export { pooledRandom, randomToken, systemRandom, uuidv7 } from './random.js';
export type { RedactOptions } from './redact.js';
export { isSensitiveFieldName, REDACTED, redact, redactString, SENSITIVE_FIELD_NAMES } from './redact.js';
export type { MemoryStoreOptions } from './stores/memory.js';
export { memoryStore } from './stores/memory.js';
