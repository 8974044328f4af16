// The one place that imports cedar-wasm. `/nodejs` is the entry that loads
// on Node 20 without --experimental-wasm-modules.

export type {
  AuthorizationAnswer,
  CedarValueJson,
  DetailedError,
  EntityJson,
  PolicyJson,
  StatefulAuthorizationCall,
} from '@cedar-policy/cedar-wasm/nodejs';
export {
  checkParsePolicySet,
  checkParseSchema,
  policyToJson,
  preparsePolicySet,
  preparseSchema,
  schemaToJson,
  schemaToJsonWithResolvedTypes,
  schemaToText,
  statefulIsAuthorized,
  validate as cedarValidate,
} from '@cedar-policy/cedar-wasm/nodejs';
