import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuthorizer, shippedPolicyDir, validatePolicies } from '../src/index.js';
import { fixtureEntities, user } from './helpers.js';

// cedar-wasm 4.13 overflows its stack at ~125 nested brackets (and a few
// hundred chained member accesses, nested ifs or, when evaluating, binary
// operators in one chain) and stays broken for the whole process. These
// tests hand such text to every entry point and then check that the shared
// instance still decides (on the wasm path, which is what could break):
// without the guard, the later decisions would throw "memory access out of
// bounds".
const SCHEMA = {
  format: 'cedar' as const,
  text: 'namespace App { entity User; entity Doc; action read appliesTo { principal: [User], resource: [Doc], context: { a: Bool } }; }',
};
const deepPolicies = {
  parentheses: `permit(principal, action, resource) when { ${'('.repeat(200)}true${')'.repeat(200)} };`,
  sets: `permit(principal, action, resource) when { ${'['.repeat(200)}1${']'.repeat(200)} == [] };`,
  records: `permit(principal, action, resource) when { ${'{a:'.repeat(200)}1${'}'.repeat(200)} == {} };`,
  members: `permit(principal, action, resource) when { context${'.a'.repeat(500)} };`,
  ifs: `permit(principal, action, resource) when { ${'if true then '.repeat(500)}true${' else false'.repeat(500)} };`,
  unbalanced: `permit(principal, action, resource) when { ${'('.repeat(500)} };`,
  // parses and validates, but breaks the instance when evaluated
  operators: `permit(principal, action, resource) when { ${Array(400).fill('context.a == true').join(' || ')} };`,
};

async function instanceStillDecides(): Promise<void> {
  const a = await createAuthorizer({ policyDir: shippedPolicyDir, evaluation: 'wasm' });
  try {
    const d = a.authorizeSync({
      principal: user('dana'),
      action: 'read',
      resource: 'Provisioning::Environment::"dev"',
      context: {
        mfa: { present: false, age_seconds: 0 },
        client_ip: { __extn: { fn: 'ip', arg: '10.0.0.1' } },
        trusted_network: false,
        time: {
          epoch_seconds: 0,
          utc: { hour: 0, minute: 0, minute_of_day: 0, weekday: 0 },
          local: { hour: 0, minute: 0, minute_of_day: 0, weekday: 0 },
          zone: 'UTC',
        },
      },
      entities: fixtureEntities,
    });
    expect(d).toMatchObject({ decision: 'allow', errors: [] });
  } finally {
    a.close();
  }
}

describe('deep-nesting guard protects the shared wasm instance', { timeout: 20_000 }, () => {
  for (const [name, text] of Object.entries(deepPolicies)) {
    it(`rejects deeply nested ${name} at load with ERR_AUTHZ_TOO_DEEP and the engine keeps working`, async () => {
      await expect(
        createAuthorizer({
          schema: SCHEMA,
          policies: [{ file: 'evil.cedar', text: `@id("ok") permit(principal, action, resource);\n${text}` }],
        }),
      ).rejects.toMatchObject({
        code: 'ERR_AUTHZ_TOO_DEEP',
        details: { issues: [expect.objectContaining({ kind: 'too-deep', file: 'evil.cedar', line: 2 })] },
      });
      await instanceStillDecides();
    });
  }

  it('the validate API reports too-deep policies without sending them to Cedar', async () => {
    const report = validatePolicies({
      schema: SCHEMA,
      files: Object.entries(deepPolicies).map(([n, text]) => ({ file: `${n}.cedar`, text })),
    });
    expect(report.ok).toBe(false);
    expect(report.issues.filter((i) => i.kind === 'too-deep')).toHaveLength(Object.keys(deepPolicies).length);
    await instanceStillDecides();
  });

  it('a deeply nested schema is rejected too', async () => {
    const text = `namespace App { entity User = ${'{ a: '.repeat(150)}Long${' }'.repeat(150)}; }`;
    const report = validatePolicies({ schema: { format: 'cedar', text }, files: [] });
    expect(report.issues[0]).toMatchObject({ kind: 'too-deep' });
    let json: unknown = { type: 'Long' };
    for (let i = 0; i < 100; i++) json = { type: 'Record', attributes: { a: json } };
    const jsonReport = validatePolicies({
      schema: { format: 'json', json: { App: { entityTypes: { User: { shape: json } }, actions: {} } } },
      files: [],
    });
    expect(jsonReport.issues[0]).toMatchObject({ kind: 'too-deep' });
    await instanceStillDecides();
  });

  it('a hot reload with a too-deep policy keeps the last good set', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'authz-deep-'));
    await cp(shippedPolicyDir, dir, { recursive: true });
    const a = await createAuthorizer({ policyDir: dir });
    try {
      const good = a.version;
      const failed = new Promise((resolve) => a.once('reload-failed', resolve));
      await writeFile(join(dir, 'evil.cedar'), deepPolicies.parentheses);
      await expect(a.reload()).rejects.toMatchObject({ code: 'ERR_AUTHZ_TOO_DEEP' });
      await expect(failed).resolves.toMatchObject({ version: good });
      expect(a.version).toBe(good);
    } finally {
      a.close();
    }
    await instanceStillDecides();
  });

  for (const evaluation of ['compiled', 'wasm'] as const) {
    it(`text at the configured limit is accepted and evaluates safely (${evaluation} path)`, async () => {
      const n = 63; // + the `when { }` braces = 64, the largest limit allowed
      // 64 brackets around 128 operators: both at their limit.
      const chain = Array(64).fill('context.a').join(' && ');
      const policy = (depth: number, operators = chain) =>
        `@id("deep-but-allowed") permit(principal, action, resource) when { ${'('.repeat(depth)}${operators} || context.a && ${operators}${')'.repeat(depth)} };`;
      const a = await createAuthorizer({
        schema: SCHEMA,
        policies: [{ file: 'ok.cedar', text: policy(n) }],
        maxNesting: 64,
        namespace: 'App',
        evaluation,
      });
      try {
        expect(a.evaluation.path).toBe(evaluation);
        const d = a.authorizeSync({
          principal: 'App::User::"u"',
          action: 'read',
          resource: 'App::Doc::"d"',
          context: { a: true },
        });
        expect(d.errors).toEqual([]);
        expect(d.policyIds).toEqual(['deep-but-allowed']);
      } finally {
        a.close();
      }
      // and one more level, or one more operator, is refused
      for (const text of [policy(n + 1), policy(n, `${chain} && context.a`)]) {
        await expect(
          createAuthorizer({
            schema: SCHEMA,
            policies: [{ file: 'ok.cedar', text }],
            maxNesting: 64,
            namespace: 'App',
            evaluation,
          }),
        ).rejects.toMatchObject({ code: 'ERR_AUTHZ_TOO_DEEP' });
      }
      await instanceStillDecides();
    });
  }
});
