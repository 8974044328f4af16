// The compiled evaluation path: a validated policy set translated into
// JavaScript closures, decided with Cedar's semantics (forbid overrides
// permit, deny by default, every policy that errors reported) without the
// JS↔wasm conversion that dominates a cedar-wasm call. See the README's
// "Evaluation paths" for why this is exact and how it is tested.

import type { PolicyJson } from '../cedar.js';
import { type CedarSteps, cedarCall, runLocal } from '../cedar-calls.js';
import type { CompiledPolicySet } from '../policy-set.js';
import type { CedarEntity, EntityRef } from '../uid.js';
import { type Compiled, compileExpr, type Env } from './expressions.js';
import { type Converted, checkRequest, EntityStore, RequestFailure, requestUid, toRecord, toStore } from './request.js';
import { type SchemaModel, schemaModelSteps } from './schema.js';
import { DECLINE, EntityUid, EvaluationError, Unsupported } from './values.js';

/** A decision before the authorizer's fail-closed rule, in the shape both paths produce. */
export type RawAnswer =
  | { readonly type: 'failure'; readonly errors: readonly { readonly message: string }[] }
  | {
      readonly type: 'success';
      readonly decision: 'allow' | 'deny';
      /** The satisfied forbids when there is one, otherwise the satisfied permits. */
      readonly reason: readonly string[];
      readonly errors: readonly { readonly policyId: string; readonly message: string }[];
    };

/** A policy set on the compiled path. */
export interface CompiledEvaluator {
  /**
   * Decides one request, or returns `undefined` to hand it to cedar-wasm (an
   * input in a form the compiled path does not pin down, see request.ts).
   */
  decide(
    principal: EntityRef,
    action: EntityRef,
    resource: EntityRef,
    context: Readonly<Record<string, unknown>>,
    entities: readonly CedarEntity[],
  ): RawAnswer | undefined;
}

interface Policy {
  readonly id: string;
  readonly forbid: boolean;
  /** Principal and resource scope, then the conditions, as one `&&` chain. */
  readonly test: (env: Env) => boolean;
}

type Scope = PolicyJson['principal'];

function uidOf(v: unknown): EntityUid {
  const e = (v as { __entity?: unknown })?.__entity ?? v;
  const { type, id } = (e ?? {}) as { type?: unknown; id?: unknown };
  if (typeof type !== 'string' || typeof id !== 'string') throw new Unsupported('a scope entity of this kind');
  return new EntityUid(type, id);
}

function compileScope(scope: Scope, variable: 'principal' | 'resource'): ((env: Env) => boolean) | undefined {
  const get = (env: Env) => env[variable];
  switch (scope.op) {
    case 'All':
      return undefined;
    case '==': {
      if (!('entity' in scope)) throw new Unsupported('a template slot');
      const uid = uidOf(scope.entity);
      return (env) => get(env).key === uid.key;
    }
    case 'in': {
      if (!('entity' in scope)) throw new Unsupported('a template slot');
      const uid = uidOf(scope.entity);
      return (env) => env.store.isIn(get(env), uid);
    }
    case 'is': {
      const type = scope.entity_type;
      if (scope.in === undefined) return (env) => get(env).type === type;
      if (!('entity' in scope.in)) throw new Unsupported('a template slot');
      const uid = uidOf(scope.in.entity);
      return (env) => get(env).type === type && env.store.isIn(get(env), uid);
    }
  }
  throw new Unsupported('a scope of this kind');
}

/** The action uids an action scope names, or `undefined` for `action` (all). */
function actionScope(scope: PolicyJson['action']): EntityUid[] | undefined {
  switch (scope.op) {
    case 'All':
      return undefined;
    case '==':
      if (!('entity' in scope)) throw new Unsupported('a template slot');
      return [uidOf(scope.entity)];
    case 'in':
      return 'entities' in scope ? scope.entities.map(uidOf) : [uidOf(scope.entity)];
  }
  throw new Unsupported('an action scope of this kind');
}

function compilePolicy(id: string, est: PolicyJson): { policy: Policy; actions: EntityUid[] | undefined } {
  const parts: ((env: Env) => boolean)[] = [];
  const principal = compileScope(est.principal, 'principal');
  if (principal) parts.push(principal);
  const resource = compileScope(est.resource, 'resource');
  if (resource) parts.push(resource);
  for (const clause of est.conditions) {
    const body: Compiled = compileExpr(clause.body);
    parts.push(clause.kind === 'when' ? (env) => truth(body(env)) : (env) => !truth(body(env)));
  }
  const test = (env: Env): boolean => {
    for (const p of parts) if (!p(env)) return false;
    return true;
  };
  return {
    policy: { id, forbid: est.effect === 'forbid', test },
    actions: actionScope(est.action),
  };
}

function truth(v: unknown): boolean {
  if (typeof v !== 'boolean') throw DECLINE;
  return v;
}

const EST_CACHE_LIMIT = 4096;
const estCache = new Map<string, PolicyJson>();
const modelCache = new Map<string, SchemaModel>();

function* est(text: string): CedarSteps<PolicyJson> {
  const cached = estCache.get(text);
  if (cached) return cached;
  const answer = yield* cedarCall('policyToJson', text);
  if (answer.type !== 'success') throw new Unsupported('a policy cedar-wasm cannot convert to JSON');
  estCache.set(text, answer.json);
  if (estCache.size > EST_CACHE_LIMIT) estCache.delete(estCache.keys().next().value as string);
  return answer.json;
}

function* modelOf(schema: string | Record<string, unknown>): CedarSteps<SchemaModel> {
  const key = typeof schema === 'string' ? schema : JSON.stringify(schema);
  let model = modelCache.get(key);
  if (!model) {
    model = yield* schemaModelSteps(schema);
    modelCache.set(key, model);
    if (modelCache.size > 16) modelCache.delete(modelCache.keys().next().value as string);
  }
  return model;
}

/**
 * Compiles a validated policy set for the compiled path, or says why it
 * cannot take it (the set then stays on cedar-wasm).
 */
export function compileEvaluator(set: CompiledPolicySet): CompileEvaluatorResult {
  return runLocal(compileEvaluatorSteps(set));
}

/** What {@link compileEvaluator} answers. */
export type CompileEvaluatorResult = { readonly evaluator: CompiledEvaluator } | { readonly unsupported: string };

/** {@link compileEvaluator} as cedar-wasm calls (the JSON forms of the policies and the schema), then JavaScript. */
export function* compileEvaluatorSteps(set: CompiledPolicySet): CedarSteps<CompileEvaluatorResult> {
  try {
    if (set.schema === undefined) throw new Unsupported('a policy set without a schema');
    return { evaluator: yield* build(yield* modelOf(set.schema), set) };
  } catch (cause) {
    if (cause instanceof Unsupported) return { unsupported: cause.message };
    // Not expected; cedar-wasm still decides correctly, so the set stays there.
    return { unsupported: `the compiled path failed: ${cause instanceof Error ? cause.message : String(cause)}` };
  }
}

function* build(model: SchemaModel, set: CompiledPolicySet): CedarSteps<CompiledEvaluator> {
  const compiled: { policy: Policy; actions: EntityUid[] | undefined }[] = [];
  for (const [id, p] of set.policies) {
    try {
      compiled.push(compilePolicy(id, yield* est(p.text)));
    } catch (cause) {
      if (cause instanceof Unsupported) throw new Unsupported(`policy ${id}: ${cause.message}`);
      throw cause;
    }
  }
  // Per action, the policies whose action scope can hold it. Cedar evaluates
  // the scope before the conditions, so a policy whose action scope does not
  // match is neither satisfied nor errored: leaving it out is exact.
  const slices = new Map<string, readonly Policy[]>();
  for (const [key, action] of model.actions) {
    slices.set(
      key,
      compiled
        .filter(
          ({ actions }) => actions === undefined || actions.some((a) => a.key === key || action.ancestors.has(a.key)),
        )
        .map(({ policy }) => policy),
    );
  }

  // The converted and checked form of each entity snapshot (entities from the
  // entity cache), per snapshot object: see toStore. A reload compiles a new
  // evaluator, so nothing converted against an old schema is reused.
  const converted = new WeakMap<object, Converted>();

  return {
    decide(principalRef, actionRef, resourceRef, context, entities) {
      try {
        const principal = requestUid(principalRef);
        const action = requestUid(actionRef);
        const resource = requestUid(resourceRef);
        const spec = checkRequest(model, principal, action, resource);
        const ctx = toRecord(context, spec.appliesTo.context, 'context');
        const store = new EntityStore(toStore(model, entities, converted), model.actions);
        const env: Env = { principal, action, resource, context: ctx, store };
        const forbids: string[] = [];
        const permits: string[] = [];
        const errors: { policyId: string; message: string }[] = [];
        for (const p of slices.get(action.key) ?? []) {
          let satisfied: boolean;
          try {
            satisfied = p.test(env);
          } catch (e) {
            if (!(e instanceof EvaluationError)) throw e;
            errors.push({ policyId: p.id, message: e.message });
            continue;
          }
          if (satisfied) (p.forbid ? forbids : permits).push(p.id);
        }
        const decision = forbids.length === 0 && permits.length > 0 ? 'allow' : 'deny';
        return {
          type: 'success',
          decision,
          reason: forbids.length > 0 ? forbids : permits,
          errors,
        };
      } catch (e) {
        if (e instanceof RequestFailure) return { type: 'failure', errors: [{ message: e.message }] };
        // A decline, or anything unexpected: cedar-wasm decides this request.
        return undefined;
      }
    },
  };
}
