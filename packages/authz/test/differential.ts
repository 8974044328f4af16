// Differential testing of the compiled evaluation path against cedar-wasm:
// both decide the same request, and the comparable parts of their answers
// must be equal — failure or not, the decision, the determining policies and
// which policies errored.

import { preparsePolicySet, preparseSchema, statefulIsAuthorized } from '../src/cedar.js';
import { type CompiledEvaluator, compileEvaluator, type RawAnswer } from '../src/compiled/evaluator.js';
import type { CompiledPolicySet } from '../src/policy-set.js';
import type { CedarEntity, EntityRef } from '../src/uid.js';

/** What both paths must agree on. */
export interface Outcome {
  readonly type: 'failure' | 'success';
  readonly decision?: 'allow' | 'deny';
  readonly reason?: readonly string[];
  readonly errored?: readonly string[];
}

export interface Request {
  readonly principal: EntityRef;
  readonly action: EntityRef;
  readonly resource: EntityRef;
  readonly context: Record<string, unknown>;
  readonly entities: readonly unknown[];
}

export function outcome(answer: RawAnswer): Outcome {
  if (answer.type === 'failure') return { type: 'failure' };
  return {
    type: 'success',
    decision: answer.decision,
    reason: [...answer.reason].sort(),
    errored: [...new Set(answer.errors.map((e) => e.policyId))].sort(),
  };
}

/** Both paths over one policy set, preparsed into its own cedar-wasm slot. */
export interface Differential {
  readonly evaluator: CompiledEvaluator;
  /** The compiled path's answer, or `undefined` when it declined the request. */
  compiled(r: Request): RawAnswer | undefined;
  wasm(r: Request): Outcome;
}

let slots = 0;

/**
 * Sets up both paths for a set.
 *
 * @throws when the set does not take the compiled path.
 */
export function differential(set: CompiledPolicySet): Differential {
  const result = compileEvaluator(set);
  if (!('evaluator' in result)) throw new Error(`not compiled: ${result.unsupported}`);
  const slot = `differential-${++slots}`;
  const staticPolicies: Record<string, string> = {};
  for (const [id, p] of set.policies) staticPolicies[id] = p.text;
  const parsed = [preparsePolicySet(slot, { staticPolicies }), preparseSchema(slot, set.schema as never)];
  for (const a of parsed) if (a.type !== 'success') throw new Error(JSON.stringify(a.errors));
  return {
    evaluator: result.evaluator,
    compiled: (r) =>
      result.evaluator.decide(r.principal, r.action, r.resource, r.context, r.entities as readonly CedarEntity[]),
    wasm: (r) => {
      try {
        const a = statefulIsAuthorized({
          principal: r.principal,
          action: r.action,
          resource: r.resource,
          context: r.context as never,
          entities: r.entities as never,
          preparsedPolicySetId: slot,
          preparsedSchemaName: slot,
          validateRequest: true,
        });
        if (a.type === 'failure') return { type: 'failure' };
        const { decision, diagnostics } = a.response;
        return outcome({
          type: 'success',
          decision,
          reason: diagnostics.reason,
          errors: diagnostics.errors.map((e) => ({ policyId: e.policyId, message: e.error.message })),
        });
      } catch {
        return { type: 'failure' };
      }
    },
  };
}

/** Counts of one differential run, to show that the compiled path really decided. */
export interface Tally {
  decided: number;
  declined: number;
  failures: number;
  errored: number;
  allowed: number;
  /** A few of the declined requests, to see why when a count looks wrong. */
  declinedExamples: Request[];
  /** Why requests failed, with counts. */
  failureReasons: Map<string, number>;
}

export const tally = (): Tally => ({
  decided: 0,
  declined: 0,
  failures: 0,
  errored: 0,
  allowed: 0,
  declinedExamples: [],
  failureReasons: new Map(),
});

/**
 * Decides `r` on both paths and returns the two outcomes for an equality
 * assertion (the wasm one twice when the compiled path declined).
 */
export function both(d: Differential, r: Request, t: Tally): { compiled: Outcome; wasm: Outcome } {
  const wasm = d.wasm(r);
  const answer = d.compiled(r);
  if (answer === undefined) {
    t.declined++;
    if (t.declinedExamples.length < 5) t.declinedExamples.push(r);
    return { compiled: wasm, wasm };
  }
  t.decided++;
  const compiled = outcome(answer);
  if (answer.type === 'failure') {
    t.failures++;
    const why = answer.errors[0]?.message ?? '';
    t.failureReasons.set(why, (t.failureReasons.get(why) ?? 0) + 1);
  } else {
    if ((compiled.errored?.length ?? 0) > 0) t.errored++;
    if (compiled.decision === 'allow') t.allowed++;
  }
  return { compiled, wasm };
}
