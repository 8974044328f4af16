import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cedarCall, cedarChildPid, runIsolated, runLocal } from './cedar-calls.js';
import { AuthzError } from './errors.js';
import {
  compilePolicySetSteps,
  readPolicyDirectory,
  validatePolicies,
  validatePoliciesIsolated,
} from './policy-set.js';
import { shippedPolicyDir } from './shipped.js';

const run = promisify(execFile);

describe('cedar-wasm in a child process', () => {
  it('validates exactly as in this process: the same set, version and issues', async () => {
    const dir = await readPolicyDirectory(shippedPolicyDir);
    // Isolated first: policy-set.ts memoizes validation results per policy in
    // this process, and the child must do the work here.
    const isolated = await runIsolated(compilePolicySetSteps(dir));
    const local = runLocal(compilePolicySetSteps(dir));
    expect(isolated.version).toBe(local.version);
    expect([...isolated.policies.keys()]).toEqual([...local.policies.keys()]);
    expect(isolated.schema).toEqual(local.schema);

    // Parse and strict-validation errors, each with its file and line.
    const broken = {
      files: [
        ...dir.files,
        { file: 'bad.cedar', text: 'permit(principal, action, resource) when { principal.nope == 1 };\nforbid(' },
      ],
      ...(dir.schema ? { schema: dir.schema } : {}),
    };
    const report = await validatePoliciesIsolated(broken);
    expect(report.ok).toBe(false);
    expect(report.issues.length).toBeGreaterThan(0);
    expect(report).toEqual(validatePolicies(broken));
  }, 60_000);

  it('throws into the steps what cedar-wasm throws, as in this process', async () => {
    function* steps() {
      try {
        // A malformed call object: cedar-wasm throws instead of answering.
        yield* cedarCall('validate', {} as never);
        return 'answered';
      } catch (e) {
        return `threw: ${e instanceof Error}`;
      }
    }
    expect(runLocal(steps())).toBe('threw: true');
    expect(await runIsolated(steps())).toBe('threw: true');
  });

  it('rejects with a retryable ERR_AUTHZ_ENGINE when the child dies during a run, and starts a new one after', async () => {
    function* steps() {
      yield* cedarCall('checkParsePolicySet', { staticPolicies: {} });
      process.kill(cedarChildPid() as number, 'SIGKILL');
      yield* cedarCall('checkParsePolicySet', { staticPolicies: {} });
      return 'finished';
    }
    const error = await runIsolated(steps()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthzError);
    expect(error).toMatchObject({ code: 'ERR_AUTHZ_ENGINE', retryable: true });
    function* again() {
      return (yield* cedarCall('checkParsePolicySet', { staticPolicies: {} })).type;
    }
    expect(await runIsolated(again())).toBe('success');
  });

  it('leaves cedar-wasm unloaded in a process whose policies take the compiled path, until a request needs it', async () => {
    // A fresh process: the test runner itself has loaded cedar-wasm already.
    const script = `
      const { createAuthorizer, shippedPolicyDir } = await import('@provisioning/authz');
      const { cedarLoaded } = await import(${JSON.stringify(new URL('./cedar.ts', import.meta.url).pathname)});
      const authz = await createAuthorizer({ policyDir: shippedPolicyDir });
      await authz.reload();
      const report = await authz.validate();
      const request = (name) => ({
        principal: 'Provisioning::User::"' + name + '"',
        action: 'read',
        resource: 'Provisioning::Environment::"staging"',
        context: { mfa: { present: false, age_seconds: 0 } },
        entities: [{ uid: { type: 'Provisioning::User', id: name }, attrs: {}, parents: [] }],
      });
      const compiled = authz.authorizeSync(request('ann'));
      const afterCompiled = cedarLoaded();
      // A lone surrogate: a form the compiled path hands to cedar-wasm.
      const declined = authz.authorizeSync(request('\\ud800'));
      console.log(JSON.stringify({ path: authz.evaluation.path, ok: report.ok, afterCompiled,
        afterDeclined: cedarLoaded(), compiled: compiled.errors.length > 0 || compiled.decision,
        declined: declined.errors.length > 0 || declined.decision }));
      authz.close();
    `;
    const { stdout } = await run(
      process.execPath,
      ['--conditions=@provisioning/source', '--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: new URL('..', import.meta.url).pathname, timeout: 60_000 },
    );
    const out = JSON.parse(stdout.trim().split('\n').pop() as string);
    expect(out).toMatchObject({ path: 'compiled', ok: true, afterCompiled: false, afterDeclined: true });
    // Both requests were decided the same way, one on each engine.
    expect(out.declined).toBe(out.compiled);
  }, 90_000);
});
