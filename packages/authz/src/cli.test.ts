import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { shippedPolicyDir } from './shipped.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe('provisioning-authz CLI', { timeout: 20_000 }, () => {
  it('validate: exit 0 on the shipped set', async () => {
    const c = capture();
    expect(await runCli(['validate', shippedPolicyDir], c.io)).toBe(0);
    expect(c.out.at(-1)).toBe('policies are valid');
  });

  it('validate: exit 1 and file:line for each error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'authz-cli-'));
    await writeFile(
      join(dir, 'schema.cedarschema'),
      'namespace App { entity User; action read appliesTo { principal: [User], resource: [User] }; }',
    );
    await writeFile(
      join(dir, 'p.cedar'),
      '\n@id("bad")\npermit(principal, action, resource) when { principal.nope };\n',
    );
    const c = capture();
    expect(await runCli(['validate', dir], c.io)).toBe(1);
    expect(c.out[0]).toMatch(new RegExp(`^${join(dir, 'p.cedar')}:3:\\d+: error \\[validation\\] bad:`));
  });

  it('test: runs a policy test file and fails on a wrong expectation', async () => {
    const c = capture();
    expect(
      await runCli(['test', shippedPolicyDir, join(import.meta.dirname, '..', 'test', 'shipped-policies.yaml')], c.io),
    ).toBe(0);
    expect(c.out.at(-1)).toMatch(/: (\d+)\/\1 passed$/);
    const dir = await mkdtemp(join(tmpdir(), 'authz-cli-'));
    const file = join(dir, 'wrong.json');
    await writeFile(
      file,
      JSON.stringify({
        tests: [
          {
            name: 'nobody deploys',
            principal: 'Provisioning::User::"x"',
            action: 'deploy',
            resource: 'Provisioning::Server::"s"',
            expect: 'allow',
          },
        ],
      }),
    );
    const d = capture();
    expect(await runCli(['test', shippedPolicyDir, file], d.io)).toBe(1);
    expect(d.out[0]).toMatch(/^FAIL nobody deploys — expected allow, got deny/);
  });

  it('usage errors exit 2', async () => {
    const c = capture();
    expect(await runCli(['frobnicate'], c.io)).toBe(2);
    expect(c.err[0]).toMatch(/^usage:/);
  });
});
