export type {
  AccessMatrixCheckOptions,
  AccessMatrixReaders,
  ComputedMatrix,
  ComputeMatrixOptions,
  DecideFunction,
  DeclaredMatrix,
  MatrixCell,
  MatrixComparison,
  SodRule,
  SodViolation,
} from './access-matrix.js';
export { accessMatrixChecks, compareAccessMatrix, computeAccessMatrix, sodViolations } from './access-matrix.js';
export type { AssessmentOptions, AssessmentResult, CheckRegistry, CheckResult, ControlResult } from './assessment.js';
export { createCheckRegistry, runAssessment } from './assessment.js';
export type {
  CedarAuthorizationRequest,
  CedarAuthorizer,
  CedarDecideOptions,
  CedarEntityJson,
  CedarMatrixAction,
  CedarUid,
} from './cedar-matrix.js';
export { cedarDecide } from './cedar-matrix.js';
export type {
  AuditChainVerifier,
  AuditLogFacts,
  BreakGlassApproval,
  BreakGlassFacts,
  CheckContext,
  CheckLimits,
  CheckOutcome,
  CheckStatus,
  ComplianceCheck,
  ComplianceReaders,
  FactReader,
  KeyFacts,
  LeaseFacts,
  ListReader,
  MfaPolicyFacts,
  OverdueReader,
  PasswordHashingFacts,
  PolicyFacts,
  TokenLifetimeFacts,
} from './checks.js';
export { builtinChecks } from './checks.js';
export type { ClassificationLevel, ClassificationReaders, DataAsset, HandlingRule } from './classification.js';
export {
  CLASSIFICATION_LEVELS,
  classificationCheck,
  DEFAULT_HANDLING_RULES,
  handlingViolations,
} from './classification.js';
export {
  addCalendarMonths,
  BREACH_NOTIFICATION_WINDOW_MS,
  dsrDeadline,
  GDPR_EXTENSION_MONTHS,
  GDPR_RESPONSE_MONTHS,
} from './deadline.js';
export type {
  DsrProcessResult,
  DsrService,
  DsrServiceOptions,
  DsrSubmission,
  IdentityVerifier,
  SubjectDirectory,
} from './dsr.js';
export { createDsrService } from './dsr.js';
export type { DsrAuditAction, DsrAuditEvent, DsrAuditSink } from './dsr-audit.js';
export { DSR_AUDIT_ACTIONS } from './dsr-audit.js';
export type { DsrHistoryEntry, DsrRecord, DsrStatus, DsrType, ProviderResult } from './dsr-model.js';
export { assertDsrTransition, DSR_STATUSES, DSR_TRANSITIONS, DSR_TYPES, isFinalDsrStatus } from './dsr-model.js';
export type { DsrListFilter, DsrStore } from './dsr-store.js';
export { memoryDsrStore } from './dsr-store.js';
export type { ComplianceErrorCode } from './errors.js';
export { ComplianceError } from './errors.js';
export type {
  EncryptedExport,
  ExportBundle,
  ExportEncrypter,
  ExportManifest,
  ExportManifestSection,
} from './export-bundle.js';
export { canonicalJson, encryptExportBundle, sha256Hex, verifyExportBundle } from './export-bundle.js';
export type {
  BreachNotificationStatus,
  Incident,
  IncidentEvidence,
  IncidentOptions,
  IncidentReaders,
  IncidentSeverity,
  IncidentState,
  IncidentTimelineEntry,
  NistPhase,
  PersonalDataBreach,
} from './incident.js';
export {
  breachNotificationStatus,
  INCIDENT_PHASE,
  INCIDENT_STATES,
  INCIDENT_TRANSITIONS,
  incidentChecks,
  markPersonalDataBreach,
  openIncident,
  recordBreachNotification,
  transitionIncident,
  updateIncident,
} from './incident.js';
export type { Iso27001Control, Iso27001LegacyFamily, Iso27001Theme } from './iso27001.js';
export { ISO27001_2013_FAMILIES, ISO27001_2022_CONTROLS, ISO27001_THEMES } from './iso27001.js';
export type { OscalAssessmentResults, OscalOptions, OscalResult } from './oscal.js';
export { OSCAL_VERSION, oscalControlId, toOscalAssessmentResults } from './oscal.js';
export type {
  AuditActorQuery,
  AuditEventView,
  AuditPseudonymsProviderOptions,
  ErasableSubjects,
} from './platform-audit.js';
export { auditPseudonymsProvider } from './platform-audit.js';
export type {
  ApiKeysProviderOptions,
  AuthApiKey,
  AuthApiKeySource,
  AuthSession,
  AuthSessionSource,
  AuthUser,
  AuthUserStore,
  BreakGlassLimitSource,
  PasswordHashSource,
  SessionsProviderOptions,
  TokenLifetimeSource,
  UsersProviderOptions,
} from './platform-auth.js';
export {
  apiKeysProvider,
  breakGlassLimitsReader,
  passwordHashingReader,
  sessionsProvider,
  tokenLifetimesReader,
  usersProvider,
} from './platform-auth.js';
export type { KeyMetadataSource, RotatedKey } from './platform-kms.js';
export { keyRotationReader } from './platform-kms.js';
export type {
  MfaDeviceInfo,
  MfaDeviceSource,
  MfaDevicesProviderOptions,
  MfaEnrollmentReaderOptions,
  RoleHolder,
} from './platform-mfa.js';
export { mfaDevicesProvider, mfaEnrollmentReader } from './platform-mfa.js';
export type { LeaseLister, LeaseRevoker, LeasesProviderOptions, SecretLease } from './platform-secrets.js';
export { leasesProvider, leasesReader } from './platform-secrets.js';
export type {
  DataProvider,
  ErasureMethod,
  ProviderExport,
  ProviderOutcome,
  ProviderRegistry,
  ProviderSubject,
} from './providers.js';
export { createProviderRegistry } from './providers.js';
export type { ComplianceReport, ReportInput } from './report.js';
export { buildReport, escapeHtml, renderHtmlReport, renderJsonReport, renderMarkdownReport } from './report.js';
export type { Soc2Criterion } from './soc2.js';
export { SOC2_CRITERIA } from './soc2.js';
