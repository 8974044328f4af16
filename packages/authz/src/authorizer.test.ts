import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureEntities, TUESDAY_10_UTC, user } from '../test/helpers.js';
import { type AuthorizationRequest, type Authorizer, createAuthorizer } from './authorizer.js';
import { createContextBuilder } from './context.js';
import { cachedEntityProvider, type EntityProvider, staticEntityProvider } from './entities.js';
import { shippedPolicyDir } from './shipped.js';
import type { CedarEntity } from './uid.js';

const contexts = createContextBuilder();
const ctx = (over: Parameters<typeof contexts.build>[0] extends infer T ? Partial<T> : never = {}) =>
  contexts.build({ clientIp: '10.0.0.5', at: TUESDAY_10_UTC, mfaVerifiedAt: TUESDAY_10_UTC - 60_000, ...over });

const inlineServer: CedarEntity = {
  uid: { type: 'Provisioning::Server', id: 'inline-srv' },
  attrs: {
    hostname: 'inline',
    provider: 'local',
    status: 'running',
    workspace: { __entity: { type: 'Provisioning::Workspace', id: 'ws-dev' } },
    environment: { __entity: { type: 'Provisioning::Environment', id: 'dev' } },
  },
  parents: [{ type: 'Provisioning::Workspace', id: 'ws-dev' }],
};

const withoutEnvironment = fixtureEntities.filter(
  (e) => !(e.uid.type === 'Provisioning::Environment' && e.uid.id === 'prod'),
);

// Every test runs on both evaluation paths.
describe.each(['compiled', 'wasm'] as const)('%s path', (evaluation) => {
  describe('authorizer over the shipped policies', () => {
    let authz: Authorizer;
    beforeAll(async () => {
      authz = await createAuthorizer({
        evaluation,
        policyDir: shippedPolicyDir,
        entities: staticEntityProvider(fixtureEntities),
      });
    });
    afterAll(() => authz.close());

    it('a decision names the determining policies and the policy-set version', async () => {
      const d = await authz.authorize({
        principal: user('sam'),
        action: 'deploy',
        resource: 'Provisioning::Server::"prod-web"',
        context: ctx({ approvalId: 'CHG-1' }),
      });
      expect(d).toEqual({
        decision: 'allow',
        allowed: true,
        policyIds: ['prod-sre-deploy'],
        errors: [],
        failedClosed: false,
        policySetVersion: authz.version,
      });
      expect(authz.version).toMatch(/^sha256:/);
    });

    it('deny by default: no permit means deny with no determining policy', async () => {
      const d = await authz.authorize({
        principal: user('nobody'),
        action: 'read',
        resource: 'Provisioning::Server::"dev-web"',
        context: ctx(),
      });
      expect(d).toMatchObject({ decision: 'deny', allowed: false, policyIds: [], failedClosed: false });
    });

    it('loads principal, resource, their ancestors and referenced entities from the provider', async () => {
      const asked: string[] = [];
      const inner = staticEntityProvider(fixtureEntities);
      const spy: EntityProvider = {
        id: 'spy',
        load: (uids) => {
          asked.push(...uids.map((u) => `${u.type}::${u.id}`));
          return inner.load(uids);
        },
      };
      const a = await createAuthorizer({ evaluation, policyDir: shippedPolicyDir, entities: spy });
      try {
        const d = await a.authorize({
          principal: user('sam'),
          action: 'delete',
          resource: 'Provisioning::Server::"prod-web"',
          context: ctx({ approvalId: 'EMERGENCY-1', breakGlassSession: 'Provisioning::BreakGlassSession::"bg-sam"' }),
        });
        expect(d.policyIds).toEqual(['emergency-access']);
        expect(asked).toEqual(
          expect.arrayContaining([
            'Provisioning::User::sam',
            'Provisioning::Team::sre',
            'Provisioning::Server::prod-web',
            'Provisioning::Environment::prod',
            'Provisioning::BreakGlassSession::bg-sam',
          ]),
        );
        expect(asked).not.toContain('Provisioning::User::dana');
      } finally {
        a.close();
      }
    });
  });

  describe('fail closed', () => {
    it('denies when a guarding forbid errors (Cedar alone would allow)', async () => {
      // The production Environment entity is missing: prod-delete-mfa cannot
      // evaluate `resource.environment.tier`, Cedar skips it, and the admin
      // permit alone would allow a production delete without MFA.
      const request: AuthorizationRequest = {
        principal: user('root'),
        action: 'delete',
        resource: 'Provisioning::Server::"prod-web"',
        context: ctx({ mfaVerifiedAt: null }),
        entities: withoutEnvironment,
      };
      const closed = await createAuthorizer({ evaluation, policyDir: shippedPolicyDir });
      const open = await createAuthorizer({ evaluation, policyDir: shippedPolicyDir, failClosed: false });
      try {
        const d = closed.authorizeSync(request);
        expect(d.decision).toBe('deny');
        expect(d.failedClosed).toBe(true);
        expect(d.policyIds).toEqual([]);
        expect(d.errors.map((e) => e.policyId)).toContain('prod-delete-mfa');
        // The same request through Cedar's own semantics: allowed. This is the hole fail-closed plugs.
        const o = open.authorizeSync(request);
        expect(o.decision).toBe('allow');
        expect(o.errors.map((e) => e.policyId)).toContain('prod-delete-mfa');
      } finally {
        closed.close();
        open.close();
      }
    });

    it('denies a request whose context does not match the schema', async () => {
      const a = await createAuthorizer({ evaluation, policyDir: shippedPolicyDir });
      try {
        const { mfa: _mfa, ...noMfa } = ctx();
        const d = a.authorizeSync({
          principal: user('root'),
          action: 'read',
          resource: 'Provisioning::Server::"dev-web"',
          context: noMfa,
          entities: fixtureEntities,
        });
        expect(d).toMatchObject({ decision: 'deny', failedClosed: true });
        expect(d.errors.length).toBeGreaterThan(0);
      } finally {
        a.close();
      }
    });

    it('denies an unknown action or entity type instead of throwing', async () => {
      const a = await createAuthorizer({ evaluation, policyDir: shippedPolicyDir });
      try {
        const base = {
          principal: user('root'),
          resource: 'Provisioning::Server::"dev-web"',
          context: ctx(),
          entities: fixtureEntities,
        };
        expect(a.authorizeSync({ ...base, action: 'teleport' }).decision).toBe('deny');
        expect(a.authorizeSync({ ...base, action: 'read', principal: 'Provisioning::Robot::"r2"' }).decision).toBe(
          'deny',
        );
      } finally {
        a.close();
      }
    });

    it('rejects integers beyond 2^53 and malformed uids before Cedar sees them', async () => {
      const a = await createAuthorizer({ evaluation, policyDir: shippedPolicyDir });
      try {
        const base = {
          principal: user('root'),
          action: 'read',
          resource: 'Provisioning::Server::"dev-web"',
          entities: fixtureEntities,
        };
        expect(() => a.authorizeSync({ ...base, context: { ...ctx(), big: 2 ** 53 + 2 } })).toThrow(
          expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_REQUEST' }),
        );
        expect(() => a.authorizeSync({ ...base, context: { ...ctx(), f: 1.5 } })).toThrow(
          expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_REQUEST' }),
        );
        expect(() => a.authorizeSync({ ...base, principal: 'alice' })).toThrow(
          expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_REQUEST' }),
        );
        let deep: unknown = true;
        for (let i = 0; i < 40; i++) deep = [deep];
        expect(() => a.authorizeSync({ ...base, context: { ...ctx(), deep: deep as never } })).toThrow(
          expect.objectContaining({ code: 'ERR_AUTHZ_INVALID_REQUEST' }),
        );
      } finally {
        a.close();
      }
    });

    it('an entity provider failure rejects (never allows)', async () => {
      const broken: EntityProvider = { id: 'broken', load: () => Promise.reject(new Error('db down')) };
      const a = await createAuthorizer({ evaluation, policyDir: shippedPolicyDir, entities: broken });
      try {
        await expect(
          a.authorize({
            principal: user('root'),
            action: 'read',
            resource: 'Provisioning::Server::"dev-web"',
            context: ctx(),
          }),
        ).rejects.toMatchObject({
          code: 'ERR_AUTHZ_ENTITY_PROVIDER',
          retryable: true,
        });
      } finally {
        a.close();
      }
    });

    it('decides at the call when every entity is at hand, and refuses when closed during a load that waits', async () => {
      const inMemory = await createAuthorizer({
        evaluation,
        policyDir: shippedPolicyDir,
        entities: cachedEntityProvider(staticEntityProvider(fixtureEntities)),
      });
      const request = {
        principal: user('root'),
        action: 'read',
        resource: 'Provisioning::Server::"dev-web"',
        context: ctx(),
      };
      const expected = await inMemory.authorize(request);
      // Decided synchronously, so closing right after the call does not undo it.
      const decided = inMemory.authorize(request);
      inMemory.close();
      expect(await decided).toEqual(expected);
      expect(expected.allowed).toBe(true);

      const slow: EntityProvider = {
        id: 'slow',
        load: (uids) =>
          new Promise((resolve) => setTimeout(() => resolve(staticEntityProvider(fixtureEntities).load(uids)), 1)),
      };
      const waiting = await createAuthorizer({ evaluation, policyDir: shippedPolicyDir, entities: slow });
      const pending = waiting.authorize(request);
      waiting.close();
      await expect(pending).rejects.toMatchObject({ code: 'ERR_AUTHZ_CLOSED' });
    });

    it('a closed authorizer refuses to decide', async () => {
      const a = await createAuthorizer({ evaluation, policyDir: shippedPolicyDir });
      a.close();
      expect(() =>
        a.authorizeSync({ principal: user('root'), action: 'read', resource: 'Provisioning::Server::"dev-web"' }),
      ).toThrow(expect.objectContaining({ code: 'ERR_AUTHZ_CLOSED' }));
    });
  });

  describe('batch authorization', () => {
    it('returns exactly the single decisions, in order, for a mixed batch', async () => {
      const provider = cachedEntityProvider(staticEntityProvider(fixtureEntities), { ttlSeconds: 60 });
      const a = await createAuthorizer({ evaluation, policyDir: shippedPolicyDir, entities: provider });
      try {
        const users = ['root', 'sam', 'dana', 'avery', 'sec', 'olivia', 'vic', 'aud', 'adam', 'devon', 'nobody'];
        const actions = ['read', 'deploy', 'delete', 'ssh', 'update'];
        const resources = [
          'Provisioning::Server::"prod-web"',
          'Provisioning::Server::"stg-web"',
          'Provisioning::Server::"dev-web"',
        ];
        const requests: AuthorizationRequest[] = [];
        for (const u of users)
          for (const action of actions)
            for (const resource of resources)
              requests.push({
                principal: user(u),
                action,
                resource,
                context: ctx({ approvalId: requests.length % 2 ? 'CHG-1' : (undefined as never) }),
              });
        // plus an inline-entity request and a fail-closed one (the session entity
        // exists nowhere, so break-glass-no-self-approval errors)
        requests.push({
          principal: user('dana'),
          action: 'read',
          resource: 'Provisioning::Server::"inline-srv"',
          context: ctx(),
          entities: [inlineServer],
        });
        requests.push({
          principal: user('root'),
          action: 'approve_break_glass',
          resource: 'Provisioning::BreakGlassSession::"bg-ghost"',
          context: ctx(),
        });
        const batch = await a.authorizeBatch(requests);
        const single = await Promise.all(requests.map((r) => a.authorize(r)));
        for (let i = 0; i < batch.length; i++) expect({ i, d: batch[i] }).toEqual({ i, d: single[i] });
        expect(new Set(batch.map((d) => d.decision))).toEqual(new Set(['allow', 'deny']));
        expect(batch.at(-2)).toMatchObject({ decision: 'allow', policyIds: ['dev-full-access', 'read-only-baseline'] });
        expect(batch.at(-1)).toMatchObject({ decision: 'deny', failedClosed: true });
      } finally {
        a.close();
      }
    });
  });

  describe('in-memory policies', () => {
    it('works with policies and a schema passed in memory, and bare action names in a custom namespace', async () => {
      const a = await createAuthorizer({
        evaluation,
        namespace: 'App',
        schema: {
          format: 'cedar',
          text: 'namespace App { entity User; entity Doc; action read appliesTo { principal: [User], resource: [Doc] }; }',
        },
        policies: [
          { file: 'p.cedar', text: '@id("all-read") permit(principal, action == App::Action::"read", resource);' },
        ],
      });
      try {
        expect(a.policyIds).toEqual(['all-read']);
        const d = a.authorizeSync({
          principal: { type: 'App::User', id: 'u' },
          action: 'read',
          resource: 'App::Doc::"d"',
        });
        expect(d.policyIds).toEqual(['all-read']);
        await expect(a.reload()).rejects.toMatchObject({ code: 'ERR_AUTHZ_INVALID_OPTIONS' });
      } finally {
        a.close();
      }
    });

    it('requires a schema unless told otherwise', async () => {
      const policies = [{ file: 'p.cedar', text: 'permit(principal, action, resource);' }];
      await expect(createAuthorizer({ evaluation, policies })).rejects.toMatchObject({ code: 'ERR_AUTHZ_VALIDATION' });
      const a = await createAuthorizer({ evaluation, policies, requireSchema: false });
      try {
        expect(a.authorizeSync({ principal: 'X::"a"', action: 'Action::"b"', resource: 'Y::"c"' }).decision).toBe(
          'allow',
        );
      } finally {
        a.close();
      }
    });

    it('closed authorizers return their engine slots, and a reused slot never keeps an old set or schema', async () => {
      const mini = {
        namespace: 'App',
        schema: {
          format: 'cedar' as const,
          text: 'namespace App { entity User; entity Doc; action read appliesTo { principal: [User], resource: [Doc] }; }',
        },
        policies: [
          { file: 'p.cedar', text: '@id("mini-read") permit(principal, action == App::Action::"read", resource);' },
        ],
      };
      const request = { principal: 'App::User::"u"', action: 'read', resource: 'App::Doc::"d"' };
      for (let round = 0; round < 3; round++) {
        const shipped = await createAuthorizer({ evaluation, policyDir: shippedPolicyDir });
        // the shipped set knows nothing of App::*: deny
        expect(shipped.authorizeSync({ ...request, action: 'App::Action::"read"' }).decision).toBe('deny');
        shipped.close();
        const small = await createAuthorizer({ ...mini, evaluation }); // reuses the shipped authorizer's slots
        expect(small.authorizeSync(request).policyIds).toEqual(['mini-read']);
        small.close();
      }
    });

    it('rejects bad options at construction', async () => {
      await expect(createAuthorizer({ evaluation } as never)).rejects.toMatchObject({
        code: 'ERR_AUTHZ_INVALID_OPTIONS',
      });
      await expect(
        createAuthorizer({ evaluation, policyDir: shippedPolicyDir, maxNesting: 500 }),
      ).rejects.toMatchObject({
        code: 'ERR_AUTHZ_INVALID_OPTIONS',
      });
    });
  });
});
