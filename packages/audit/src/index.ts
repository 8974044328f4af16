export { canonicalJson } from './canonical.js';
export type {
  ChainedRecord,
  ChainHead,
  CheckpointSigner,
  Ed25519SignerOptions,
  PurgeRange,
  PurgeRecord,
  SignedCheckpoint,
  StoredEntry,
  VerifyChainInput,
  VerifyProblem,
  VerifyResult,
} from './chain.js';
export {
  chainHash,
  checkpointMessage,
  ed25519Signer,
  GENESIS_HASH,
  generateCheckpointKeyPair,
  purgeMessage,
  verifyChain,
} from './chain.js';
export type { AuditErrorCode } from './errors.js';
export { AuditError } from './errors.js';
export type {
  ActorType,
  AuditAction,
  AuditActionInfo,
  AuditActor,
  AuditCategory,
  AuditEvent,
  AuditEventInput,
  AuditOutcome,
  AuditResource,
  AuditSink,
  EventLimits,
  JsonValue,
  NormalizeContext,
} from './events.js';
export {
  AUDIT_ACTION_NAMES,
  AUDIT_ACTIONS,
  AUDIT_CATEGORIES,
  AUDIT_OUTCOMES,
  AUDIT_SCHEMA_VERSION,
  actionsOf,
  DEFAULT_MAX_EVENT_BYTES,
  defaultRetentionClass,
  isAuditAction,
  normalizeEvent,
} from './events.js';
export type { ExportFormat, ExportOptions, OcsfClass, OcsfClassKey } from './exports.js';
export {
  CSV_COLUMNS,
  csvCell,
  ECS_VERSION,
  exportRecords,
  OCSF_CLASSES,
  OCSF_VERSION,
  ocsfClassOf,
  toEcs,
  toOcsf,
  toReadableStream,
  toSplunkHec,
} from './exports.js';
export type {
  AuditLog,
  AuditLogOptions,
  AuditLogStats,
  AuditReceipt,
  CheckpointOptions,
  EventTransform,
  LogExportOptions,
  OverflowPolicy,
  QueueOptions,
  RecordOptions,
  RetryOptions,
  VerifyOptions,
} from './log.js';
export { createAuditLog } from './log.js';
export type {
  ErasablePseudonymizer,
  HmacPseudonymizer,
  PiiAction,
  PiiField,
  PiiPolicy,
  PiiPolicyOptions,
  Pseudonymizer,
  SubjectKeyPseudonymizerOptions,
} from './pii.js';
export {
  createPiiPolicy,
  generalizeValue,
  hmacPseudonymizer,
  maskValue,
  subjectKeyPseudonymizer,
  truncateIp,
} from './pii.js';
export type { PurgeableLog, RetentionJobOptions } from './retention.js';
export { DEFAULT_RETENTION_DAYS, startRetentionJob } from './retention.js';
export type { JsonlAuditStore, JsonlSinkOptions } from './sinks/jsonl.js';
export { jsonlSink } from './sinks/jsonl.js';
export type { MemoryAuditStore } from './sinks/memory.js';
export { memoryAuditStore } from './sinks/memory.js';
export type { SplunkHecSinkOptions } from './sinks/splunk.js';
export { splunkHecSink } from './sinks/splunk.js';
export type { StdoutSinkOptions } from './sinks/stdout.js';
export { stdoutSink } from './sinks/stdout.js';
export type {
  AuditQuery,
  AuditStore,
  CountBy,
  CountRow,
  EventSink,
  PurgeOutcome,
  PurgePlan,
  QueryPage,
  QueryResult,
  SinkDurability,
  SinkState,
  StoredRecord,
  WriteOptions,
} from './store.js';
export { isAuditStore } from './store.js';
