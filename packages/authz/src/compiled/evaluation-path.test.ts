import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureEntities, TUESDAY_10_UTC, user } from '../../test/helpers.js';
import { type AuthorizationDecision, type AuthorizationRequest, createAuthorizer } from '../authorizer.js';
import { createContextBuilder } from '../context.js';
import { staticEntityProvider } from '../entities.js';
import { shippedPolicyDir } from '../shipped.js';

const contexts = createContextBuilder();
const ctx = (over: Partial<Parameters<typeof contexts.build>[0]> = {}) =>
  contexts.build({ clientIp: '10.0.0.5', at: TUESDAY_10_UTC, mfaVerifiedAt: TUESDAY_10_UTC - 60_000, ...over });

const MINI_SCHEMA =
  'namespace App { entity User; entity Doc; action read appliesTo { principal: [User], resource: [Doc] }; }';
const miniRequest = { principal: 'App::User::"u"', action: 'read', resource: 'App::Doc::"d"' };

// What both paths must agree on (error messages are each path's own words).
const comparable = (d: AuthorizationDecision) => ({
  decision: d.decision,
  policyIds: d.policyIds,
  failedClosed: d.failedClosed,
  errored: d.errors.map((e) => e.policyId ?? 'request'),
});

// Loading the shipped set first pays cedar-wasm's lazy compilation: seconds on a loaded machine.
describe('evaluation paths', { timeout: 30_000 }, () => {
  it('takes the compiled path for the shipped policies by default, and the wasm path when asked', async () => {
    const compiled = await createAuthorizer({ policyDir: shippedPolicyDir });
    const wasm = await createAuthorizer({ policyDir: shippedPolicyDir, evaluation: 'wasm' });
    try {
      expect(compiled.evaluation).toEqual({ path: 'compiled' });
      expect(wasm.evaluation).toEqual({ path: 'wasm' });
    } finally {
      compiled.close();
      wasm.close();
    }
  });

  it('keeps a set that uses an unsupported construct on cedar-wasm as a whole, and says why', async () => {
    const a = await createAuthorizer({
      namespace: 'App',
      schema: { format: 'cedar', text: MINI_SCHEMA },
      policies: [
        {
          file: 'p.cedar',
          text: '@id("dated") permit (principal, action, resource) when { datetime("2024-01-01") < datetime("2025-01-01") };',
        },
      ],
    });
    try {
      expect(a.evaluation.path).toBe('wasm');
      expect(a.evaluation.fallbackReason).toMatch(/policy dated: the function datetime/);
      expect(a.authorizeSync(miniRequest).policyIds).toEqual(['dated']);
    } finally {
      a.close();
    }
  });

  it('keeps a set on cedar-wasm when its schema has entity tags, or when there is no schema', async () => {
    const tagged = await createAuthorizer({
      namespace: 'App',
      schema: {
        format: 'cedar',
        text: 'namespace App { entity User tags String; entity Doc; action read appliesTo { principal: [User], resource: [Doc] }; }',
      },
      policies: [{ file: 'p.cedar', text: '@id("all") permit (principal, action, resource);' }],
    });
    const schemaless = await createAuthorizer({
      requireSchema: false,
      policies: [{ file: 'p.cedar', text: '@id("all") permit (principal, action, resource);' }],
    });
    try {
      expect(tagged.evaluation).toEqual({ path: 'wasm', fallbackReason: 'schema: tags on User' });
      expect(tagged.authorizeSync(miniRequest).allowed).toBe(true);
      expect(schemaless.evaluation).toEqual({ path: 'wasm', fallbackReason: 'a policy set without a schema' });
      expect(schemaless.authorizeSync({ principal: 'X::"a"', action: 'Action::"b"', resource: 'Y::"c"' }).allowed).toBe(
        true,
      );
    } finally {
      tagged.close();
      schemaless.close();
    }
  });

  it('a reload switches the path with the set and reports it in the event', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'authz-path-'));
    try {
      await cp(shippedPolicyDir, dir, { recursive: true });
      const a = await createAuthorizer({ policyDir: dir });
      try {
        expect(a.evaluation.path).toBe('compiled');
        await writeFile(
          join(dir, 'dated.cedar'),
          '@id("dated")\nforbid (principal, action, resource) when { datetime("2024-01-01") > datetime("2025-01-01") };\n',
        );
        const event = await a.reload();
        expect(event.evaluation).toMatchObject({ path: 'wasm', fallbackReason: expect.stringContaining('dated') });
        expect(a.evaluation).toEqual(event.evaluation);
        await rm(join(dir, 'dated.cedar'));
        expect((await a.reload()).evaluation).toEqual({ path: 'compiled' });
      } finally {
        a.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects an unknown evaluation path at construction', async () => {
    await expect(createAuthorizer({ policyDir: shippedPolicyDir, evaluation: 'fast' as never })).rejects.toMatchObject({
      code: 'ERR_AUTHZ_INVALID_OPTIONS',
    });
  });

  it('hands requests in forms it does not pin down to cedar-wasm, which decides them as always', async () => {
    const compiled = await createAuthorizer({ policyDir: shippedPolicyDir });
    const wasm = await createAuthorizer({ policyDir: shippedPolicyDir, evaluation: 'wasm' });
    try {
      const base = {
        principal: user('sam'),
        action: 'deploy',
        resource: 'Provisioning::Server::"prod-web"',
        entities: fixtureEntities,
      };
      const requests: AuthorizationRequest[] = [
        // an IPv6 address with a single dot, and an action entity passed in: both declined
        { ...base, context: { ...ctx({ approvalId: 'CHG-1' }), client_ip: { __extn: { fn: 'ip', arg: '::1.2' } } } },
        {
          ...base,
          context: ctx({ approvalId: 'CHG-1' }),
          entities: [
            ...fixtureEntities,
            { uid: { type: 'Provisioning::Action', id: 'deploy' }, attrs: {}, parents: [] },
          ],
        },
        // an ip given as the bare string (cedar-wasm reads it as ip("…")): decided by the compiled path
        { ...base, context: { ...ctx({ approvalId: 'CHG-1' }), client_ip: '10.0.0.5' } },
      ];
      for (const r of requests)
        expect(comparable(compiled.authorizeSync(r))).toEqual(comparable(wasm.authorizeSync(r)));
      expect(compiled.authorizeSync(requests[2] as AuthorizationRequest).allowed).toBe(true);
    } finally {
      compiled.close();
      wasm.close();
    }
  });

  it('decides a mixed batch exactly as the wasm path, decision by decision', async () => {
    const entities = staticEntityProvider(fixtureEntities);
    const compiled = await createAuthorizer({ policyDir: shippedPolicyDir, entities });
    const wasm = await createAuthorizer({ policyDir: shippedPolicyDir, entities, evaluation: 'wasm' });
    try {
      const requests: AuthorizationRequest[] = [];
      for (const u of ['root', 'sam', 'dana', 'avery', 'sec', 'olivia', 'vic', 'aud', 'adam', 'devon', 'nobody']) {
        for (const action of ['read', 'deploy', 'delete', 'ssh', 'update', 'approve_break_glass', 'export']) {
          for (const resource of [
            'Provisioning::Server::"prod-web"',
            'Provisioning::Server::"stg-web"',
            'Provisioning::Cluster::"prod-k8s"',
            'Provisioning::BreakGlassSession::"bg-sam"',
            'Provisioning::AuditLog::"main"',
          ]) {
            requests.push({
              principal: user(u),
              action,
              resource,
              context: ctx({
                approvalId: requests.length % 3 ? 'CHG-1' : 'EMERGENCY-1',
                mfaVerifiedAt: requests.length % 4 ? TUESDAY_10_UTC - 60_000 : null,
                breakGlassSession: 'Provisioning::BreakGlassSession::"bg-sam"',
              }),
            });
          }
        }
      }
      const a = await compiled.authorizeBatch(requests);
      const b = await wasm.authorizeBatch(requests);
      expect(a.map(comparable)).toEqual(b.map(comparable));
      expect(new Set(a.map((d) => d.decision))).toEqual(new Set(['allow', 'deny']));
    } finally {
      compiled.close();
      wasm.close();
    }
  });
});
