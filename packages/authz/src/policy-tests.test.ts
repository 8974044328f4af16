import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Authorizer, createAuthorizer } from './authorizer.js';
import { loadPolicyTestFile, parsePolicyTestSuite, runPolicyTests } from './policy-tests.js';
import type { CedarEntity } from './uid.js';

const SCHEMA = {
  format: 'cedar' as const,
  text: `namespace App {
  entity Group;
  entity User in [Group];
  entity Doc = { secret: Bool };
  action read appliesTo { principal: [User], resource: [Doc], context: { mfa: { present: Bool, age_seconds: Long } } };
}`,
};
const POLICIES = [
  {
    file: 'p.cedar',
    text: `@id("staff-read") permit(principal in App::Group::"staff", action == App::Action::"read", resource);
@id("secret-mfa") forbid(principal, action, resource) when { resource.secret } unless { context.mfa.present };`,
  },
];
const entities: CedarEntity[] = [
  { uid: { type: 'App::Group', id: 'staff' }, attrs: {}, parents: [] },
  { uid: { type: 'App::User', id: 'ann' }, attrs: {}, parents: [{ type: 'App::Group', id: 'staff' }] },
  { uid: { type: 'App::Doc', id: 'plan' }, attrs: { secret: true }, parents: [] },
];

describe('policy tests for users', () => {
  let authz: Authorizer;
  beforeAll(async () => {
    authz = await createAuthorizer({ schema: SCHEMA, policies: POLICIES, namespace: 'App' });
  });
  afterAll(() => authz.close());

  const mfa = (present: boolean) => ({ mfa: { present, age_seconds: 0 } });

  it('passes matching expectations and reports mismatches with the reason', () => {
    const report = runPolicyTests(authz, {
      entities,
      tests: [
        {
          name: 'with mfa',
          principal: 'App::User::"ann"',
          action: 'read',
          resource: 'App::Doc::"plan"',
          rawContext: true,
          context: mfa(true),
          expect: 'allow',
          reasons: ['staff-read'],
        },
        {
          name: 'without mfa',
          principal: 'App::User::"ann"',
          action: 'read',
          resource: 'App::Doc::"plan"',
          rawContext: true,
          context: mfa(false),
          expect: 'deny',
          reasons: ['secret-mfa'],
        },
        {
          name: 'wrong expectation',
          principal: 'App::User::"ann"',
          action: 'read',
          resource: 'App::Doc::"plan"',
          rawContext: true,
          context: mfa(false),
          expect: 'allow',
        },
        {
          name: 'wrong reasons',
          principal: 'App::User::"ann"',
          action: 'read',
          resource: 'App::Doc::"plan"',
          rawContext: true,
          context: mfa(true),
          expect: 'allow',
          reasons: ['other'],
        },
      ],
    });
    expect(report).toMatchObject({ total: 4, passed: 2, failed: 2 });
    expect(report.results[2]).toMatchObject({ passed: false, failure: 'expected allow, got deny' });
    expect(report.results[3]?.failure).toMatch(/expected reasons \[other\], got \[staff-read\]/);
  });

  it('loads YAML and JSON suites from files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'authz-tests-'));
    await writeFile(join(dir, 'entities.json'), JSON.stringify(entities));
    await writeFile(
      join(dir, 'suite.yaml'),
      `entitiesFile: entities.json
tests:
  - name: staff reads with MFA
    principal: App::User::"ann"
    action: read
    resource: App::Doc::"plan"
    rawContext: true
    context: { mfa: { present: true, age_seconds: 5 } }
    expect: allow
`,
    );
    const yaml = await loadPolicyTestFile(join(dir, 'suite.yaml'));
    expect(runPolicyTests(authz, yaml)).toMatchObject({ total: 1, passed: 1 });
    await writeFile(join(dir, 'suite.json'), JSON.stringify({ ...yaml, entitiesFile: undefined }));
    const json = await loadPolicyTestFile(join(dir, 'suite.json'));
    expect(runPolicyTests(authz, json)).toMatchObject({ total: 1, passed: 1 });
  });

  it('rejects malformed suites with ERR_AUTHZ_POLICY_TEST naming the field', async () => {
    expect(() => parsePolicyTestSuite({ tests: [] })).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHZ_POLICY_TEST' }),
    );
    expect(() =>
      parsePolicyTestSuite({ tests: [{ name: 'x', principal: 'a', action: 'b', resource: 'c', expect: 'maybe' }] }),
    ).toThrow(/tests\[0\]\.expect/);
    expect(() => parsePolicyTestSuite({ tests: [{ name: 'x', action: 'b', resource: 'c', expect: 'allow' }] })).toThrow(
      /tests\[0\]\.principal/,
    );
    const dir = await mkdtemp(join(tmpdir(), 'authz-tests-'));
    await writeFile(join(dir, 'bad.yaml'), 'tests: [ { name: x');
    await expect(loadPolicyTestFile(join(dir, 'bad.yaml'))).rejects.toMatchObject({ code: 'ERR_AUTHZ_POLICY_TEST' });
    await expect(loadPolicyTestFile(join(dir, 'missing.json'))).rejects.toMatchObject({
      code: 'ERR_AUTHZ_POLICY_TEST',
    });
  });
});
