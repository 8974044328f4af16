import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { schemaToJson } from '@cedar-policy/cedar-wasm/nodejs';
import { describe, expect, it } from 'vitest';
import { AuthzError } from './errors.js';
import { compilePolicySet, readPolicyDirectory, type SchemaSource, validatePolicies } from './policy-set.js';
import { shippedPolicyDir } from './shipped.js';

const SCHEMA: SchemaSource = {
  format: 'cedar',
  file: 'mini.cedarschema',
  text: `namespace App {
  entity User = { level: Long };
  entity Doc = { owner: User };
  action read appliesTo { principal: [User], resource: [Doc], context: { mfa: Bool } };
}`,
};

describe('loading and validating the shipped set', () => {
  it('reads the schema and the three policy files and validates strictly with no issue', async () => {
    const dir = await readPolicyDirectory(shippedPolicyDir);
    expect(dir.files.map((f) => f.file.split('/').pop())).toEqual([
      'admin.cedar',
      'development.cedar',
      'production.cedar',
    ]);
    expect(dir.schema?.format).toBe('cedar');
    const report = validatePolicies(dir);
    expect(report).toEqual({ ok: true, issues: [] });
  });

  it('names policies after their @id annotations, including every platform id', async () => {
    const set = compilePolicySet(await readPolicyDirectory(shippedPolicyDir));
    const ids = [...set.policies.keys()];
    for (const id of [
      'prod-deploy-mfa',
      'prod-deploy-approval',
      'prod-deploy-hours',
      'prod-delete-mfa',
      'prod-delete-no-force',
      'prod-ip-restriction',
      'prod-ssh-restricted',
      'prod-cluster-admin-only',
      'admin-full-access',
      'emergency-access',
      'audit-access',
      'audit-no-modify',
    ]) {
      expect(ids).toContain(id);
    }
    expect(set.policies.get('prod-deploy-hours')?.file).toMatch(/production\.cedar$/);
    expect(set.version).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('emergency-access matches approval ids with like "EMERGENCY-*"', async () => {
    const text = await readFile(join(shippedPolicyDir, 'admin.cedar'), 'utf8');
    expect(text).toContain('context.approval_id like "EMERGENCY-*"');
  });

  it('accepts the same schema in the Cedar JSON format with the same result', async () => {
    const dir = await readPolicyDirectory(shippedPolicyDir);
    const answer = schemaToJson((dir.schema as { text: string }).text);
    if (answer.type !== 'success') throw new Error('schemaToJson failed');
    const tmp = await mkdtemp(join(tmpdir(), 'authz-json-'));
    await writeFile(join(tmp, 'schema.cedarschema.json'), JSON.stringify(answer.json));
    for (const f of dir.files) await writeFile(join(tmp, f.file.split('/').pop() as string), f.text);
    const jsonDir = await readPolicyDirectory(tmp);
    expect(jsonDir.schema?.format).toBe('json');
    const a = compilePolicySet(dir);
    const b = compilePolicySet(jsonDir);
    expect([...b.policies.keys()]).toEqual([...a.policies.keys()]);
  });
});

describe('validation issues', () => {
  it('returns every error with its file and line, not just the first', () => {
    const report = validatePolicies({
      schema: SCHEMA,
      files: [
        {
          file: 'a.cedar',
          text: '@id("ok")\npermit(principal, action == App::Action::"read", resource);\n\n@id("bad-attr")\npermit(principal, action == App::Action::"read", resource)\nwhen {\n  principal.nope == 1\n};\n',
        },
        {
          file: 'b.cedar',
          text: '// comment\n\n@id("bad-type")\npermit(principal, action, resource) when { context.mfa == 3 };\n',
        },
        { file: 'c.cedar', text: '@id("syntax")\npermit(principal, action, resource) when { ( };\n' },
      ],
    });
    expect(report.ok).toBe(false);
    const located = report.issues.map((i) => [i.file, i.line, i.kind, i.policyId]);
    expect(located).toContainEqual(['a.cedar', 7, 'validation', 'bad-attr']);
    expect(located).toContainEqual(['b.cedar', 4, 'validation', 'bad-type']);
    expect(report.issues.some((i) => i.file === 'c.cedar' && i.line === 2 && i.kind === 'parse')).toBe(true);
    expect(report.issues.filter((i) => i.severity === 'error').length).toBeGreaterThanOrEqual(3);
  });

  it('strict mode rejects what permissive mode would accept (unknown entity type)', () => {
    const report = validatePolicies({
      schema: SCHEMA,
      files: [{ file: 'x.cedar', text: 'permit(principal == App::Ghost::"g", action, resource);' }],
    });
    expect(report.ok).toBe(false);
    expect(report.issues[0]?.policyId).toBe('x.cedar#1');
  });

  it('reports duplicate ids with both places', () => {
    const report = validatePolicies({
      schema: SCHEMA,
      files: [
        { file: 'a.cedar', text: '@id("p")\npermit(principal, action, resource);' },
        { file: 'b.cedar', text: '\n\n@id("p")\nforbid(principal, action, resource);' },
      ],
    });
    expect(report.issues).toEqual([
      expect.objectContaining({
        kind: 'duplicate-id',
        file: 'b.cedar',
        line: 3,
        message: expect.stringContaining('a.cedar:1'),
      }),
    ]);
  });

  it('reports schema parse errors with their line', () => {
    const report = validatePolicies({
      schema: {
        format: 'cedar',
        file: 's.cedarschema',
        text: 'namespace App {\n  entity User;\n  entity Doc = { owner: };\n}',
      },
      files: [],
    });
    expect(report.ok).toBe(false);
    expect(report.issues[0]).toMatchObject({ file: 's.cedarschema', line: 3, kind: 'parse' });
  });

  it('compilePolicySet throws ERR_AUTHZ_DUPLICATE_POLICY_ID when ids collide', () => {
    expect(() =>
      compilePolicySet({
        schema: SCHEMA,
        files: [
          { file: 'a.cedar', text: '@id("p") permit(principal, action, resource);' },
          { file: 'b.cedar', text: '@id("p") forbid(principal, action, resource);' },
        ],
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_AUTHZ_DUPLICATE_POLICY_ID' }));
  });

  it('compilePolicySet throws ERR_AUTHZ_VALIDATION carrying every issue', () => {
    try {
      compilePolicySet({
        schema: SCHEMA,
        files: [{ file: 'a.cedar', text: 'permit(principal, action, resource) when { principal.x };' }],
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AuthzError);
      expect((error as AuthzError).code).toBe('ERR_AUTHZ_VALIDATION');
      expect((error as AuthzError).details.issues).toHaveLength(1);
    }
  });

  it('a version changes with any policy text and not with file order', () => {
    const files = [
      { file: 'a.cedar', text: '@id("a") permit(principal, action, resource);' },
      { file: 'b.cedar', text: '@id("b") forbid(principal, action, resource) when { context.mfa };' },
    ];
    const v1 = compilePolicySet({ schema: SCHEMA, files }).version;
    const v2 = compilePolicySet({ schema: SCHEMA, files: [...files].reverse() }).version;
    const v3 = compilePolicySet({
      schema: SCHEMA,
      files: [files[0] as never, { file: 'b.cedar', text: '@id("b") forbid(principal, action, resource);' }],
    }).version;
    expect(v2).toBe(v1);
    expect(v3).not.toBe(v1);
  });

  it('a missing directory is ERR_AUTHZ_LOAD', async () => {
    await expect(readPolicyDirectory('/nonexistent/authz')).rejects.toMatchObject({ code: 'ERR_AUTHZ_LOAD' });
  });

  it('two schemas in one directory are ERR_AUTHZ_LOAD', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'authz-two-'));
    await writeFile(join(tmp, 'a.cedarschema'), SCHEMA.format === 'cedar' ? SCHEMA.text : '');
    await writeFile(join(tmp, 'b.cedarschema.json'), '{}');
    await expect(readPolicyDirectory(tmp)).rejects.toMatchObject({ code: 'ERR_AUTHZ_LOAD' });
  });
});
