// The one place that loads cedar-wasm. `/nodejs` is the entry that loads on
// Node 20 without --experimental-wasm-modules.
//
// It is loaded lazily, on the first call: importing it costs ~15 MiB, and
// every parse grows its WebAssembly memory, which is never returned. The
// authorizer runs validation and the compiled path's conversions in a
// short-lived child process (cedar-calls.ts), so a process whose policies are
// decided on the compiled path may never load it at all.

import { createRequire } from 'node:module';

export type {
  AuthorizationAnswer,
  CedarValueJson,
  DetailedError,
  EntityJson,
  PolicyJson,
  StatefulAuthorizationCall,
} from '@cedar-policy/cedar-wasm/nodejs';

type CedarModule = typeof import('@cedar-policy/cedar-wasm/nodejs');

const require = createRequire(import.meta.url);

/** The resolved path of cedar-wasm's `nodejs` entry (what the child process loads). */
export const cedarModulePath: string = require.resolve('@cedar-policy/cedar-wasm/nodejs');

let loaded: CedarModule | undefined;
/** cedar-wasm in this process, loaded on first use. */
export function localCedar(): CedarModule {
  loaded ??= require(cedarModulePath) as CedarModule;
  return loaded;
}

/** Whether this process has loaded cedar-wasm (for tests and memory diagnostics). */
export function cedarLoaded(): boolean {
  return loaded !== undefined;
}

export const checkParsePolicySet: CedarModule['checkParsePolicySet'] = (...a) => localCedar().checkParsePolicySet(...a);
export const checkParseSchema: CedarModule['checkParseSchema'] = (...a) => localCedar().checkParseSchema(...a);
export const policyToJson: CedarModule['policyToJson'] = (...a) => localCedar().policyToJson(...a);
export const preparsePolicySet: CedarModule['preparsePolicySet'] = (...a) => localCedar().preparsePolicySet(...a);
export const preparseSchema: CedarModule['preparseSchema'] = (...a) => localCedar().preparseSchema(...a);
export const schemaToJson: CedarModule['schemaToJson'] = (...a) => localCedar().schemaToJson(...a);
export const schemaToJsonWithResolvedTypes: CedarModule['schemaToJsonWithResolvedTypes'] = (...a) =>
  localCedar().schemaToJsonWithResolvedTypes(...a);
export const schemaToText: CedarModule['schemaToText'] = (...a) => localCedar().schemaToText(...a);
export const statefulIsAuthorized: CedarModule['statefulIsAuthorized'] = (...a) =>
  localCedar().statefulIsAuthorized(...a);
export const cedarValidate: CedarModule['validate'] = (...a) => localCedar().validate(...a);
