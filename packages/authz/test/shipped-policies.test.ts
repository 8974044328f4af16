import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Authorizer,
  createAuthorizer,
  loadPolicyTestFile,
  runPolicyTests,
  shippedPolicyDir,
} from '../src/index.js';

// The scenarios live in shipped-policies.yaml, in the policy-test format users
// get; every case becomes its own test here.
const suite = await loadPolicyTestFile(join(import.meta.dirname, 'shipped-policies.yaml'));

describe.each(['compiled', 'wasm'] as const)('shipped policies, %s path', (evaluation) => {
  let authz: Authorizer;
  beforeAll(async () => {
    authz = await createAuthorizer({ policyDir: shippedPolicyDir, evaluation });
    expect(authz.evaluation.path).toBe(evaluation);
  });
  afterAll(() => authz.close());

  it('holds at least 40 scenarios', () => {
    expect(suite.tests.length).toBeGreaterThanOrEqual(40);
  });

  for (const test of suite.tests) {
    it(test.name, () => {
      const report = runPolicyTests(authz, { ...suite, tests: [test] });
      const result = report.results[0];
      expect(result?.failure).toBeUndefined();
      expect(result?.decision.errors).toEqual([]);
      expect(result?.passed).toBe(true);
    });
  }
});
