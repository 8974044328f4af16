import { cp, mkdtemp, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuthorizationRequest,
  type Authorizer,
  createAuthorizer,
  createContextBuilder,
  type ReloadedEvent,
  type ReloadFailedEvent,
  shippedPolicyDir,
} from '../src/index.js';
import { fixtureEntities, TUESDAY_10_UTC, user } from './helpers.js';

const context = createContextBuilder().build({
  clientIp: '10.0.0.5',
  at: TUESDAY_10_UTC,
  mfaVerifiedAt: TUESDAY_10_UTC,
});
const danaReadsDev: AuthorizationRequest = {
  principal: user('dana'),
  action: 'read',
  resource: 'Provisioning::Server::"dev-web"',
  context,
  entities: fixtureEntities,
};
const LOCKOUT = '\n@id("lock-out-dana")\nforbid (principal == Provisioning::User::"dana", action, resource);\n';

let open: Authorizer[] = [];
let stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops) s();
  for (const a of open) a.close();
  open = [];
  stops = [];
});

async function setup(): Promise<{ dir: string; authz: Authorizer }> {
  const dir = await mkdtemp(join(tmpdir(), 'authz-reload-'));
  await cp(shippedPolicyDir, dir, { recursive: true });
  const authz = await createAuthorizer({ policyDir: dir });
  open.push(authz);
  return { dir, authz };
}

function next<E extends 'reloaded' | 'reload-failed'>(authz: Authorizer, event: E, timeoutMs = 3000) {
  return new Promise<E extends 'reloaded' ? ReloadedEvent : ReloadFailedEvent>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event within ${timeoutMs} ms`)), timeoutMs);
    authz.once(event, ((payload: never) => {
      clearTimeout(timer);
      resolve(payload);
    }) as never);
  });
}

async function until(check: () => boolean, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - start;
}

describe('hot reload', { timeout: 30_000 }, () => {
  beforeAll(async () => {
    // The first validations and preparses in a process pay cedar-wasm's lazy
    // JIT compilation (seconds on this shared machine, while other test files
    // start too); a running server is past that. Warm up with a few real
    // reloads so the timing tests below measure the steady state.
    const { dir, authz } = await setup();
    for (const n of [1, 2, 3]) {
      await writeFile(
        join(dir, 'warm-up.cedar'),
        `@id("warm-up-${n}")\nforbid (principal == Provisioning::User::"nobody", action, resource);\n`,
      );
      await authz.reload();
    }
  }, 60_000);

  for (const poll of [false, true]) {
    // Timing under a shared, heavily loaded machine (load average ~16 on 2
    // cores while this was written): retried, but every attempt must meet 1 s.
    it(`a policy change takes effect within 1 s (${poll ? 'polling' : 'fs.watch'})`, { retry: 2 }, async () => {
      const { dir, authz } = await setup();
      stops.push(authz.watch({ debounceMs: 50, poll, pollIntervalMs: 100 }));
      await new Promise((r) => setTimeout(r, 150)); // let the poller take its first snapshot
      // One watched change first (see beforeAll), then measure the next one.
      const warm = next(authz, 'reloaded', 15_000);
      await writeFile(
        join(dir, 'warm-up.cedar'),
        '@id("warm-up")\nforbid (principal == Provisioning::User::"nobody", action, resource);\n',
      );
      await warm;
      expect(authz.authorizeSync(danaReadsDev).decision).toBe('allow');
      const before = authz.version;
      const reloaded = next(authz, 'reloaded');
      reloaded.catch(() => undefined); // awaited below; avoid an unhandled rejection if `until` fails first
      await writeFile(
        join(dir, 'development.cedar'),
        (await readFile(join(dir, 'development.cedar'), 'utf8')) + LOCKOUT,
      );
      const elapsed = await until(() => authz.authorizeSync(danaReadsDev).decision === 'deny', 1000);
      expect(elapsed).toBeLessThan(1000);
      const event = await reloaded;
      expect(event).toMatchObject({ previousVersion: before, version: authz.version, changed: true });
      expect(authz.authorizeSync(danaReadsDev).policyIds).toEqual(['lock-out-dana']);
    });
  }

  it('a broken file keeps the last good set and reports reload-failed with file and line', async () => {
    const { dir, authz } = await setup();
    stops.push(authz.watch({ debounceMs: 50 }));
    const good = authz.version;
    const failed = next(authz, 'reload-failed');
    await writeFile(
      join(dir, 'broken.cedar'),
      '@id("ok")\npermit(principal, action, resource);\n\npermit(principal action resource);\n',
    );
    const event = await failed;
    expect(event.error.code).toBe('ERR_AUTHZ_VALIDATION');
    expect(event.version).toBe(good);
    expect(event.issues).toContainEqual(
      expect.objectContaining({ file: join(dir, 'broken.cedar'), line: 4, kind: 'parse' }),
    );
    expect(authz.version).toBe(good);
    expect(authz.authorizeSync(danaReadsDev)).toMatchObject({ decision: 'allow', policySetVersion: good });
    // fixing the file recovers
    const reloaded = next(authz, 'reloaded');
    await writeFile(join(dir, 'broken.cedar'), LOCKOUT);
    await reloaded;
    expect(authz.authorizeSync(danaReadsDev).decision).toBe('deny');
  });

  it('a set that only validates as a whole is never half-applied', async () => {
    // Step 1 adds a policy referencing an attribute the schema gets only in
    // step 2: the intermediate state fails validation and is not applied.
    const { dir, authz } = await setup();
    const good = authz.version;
    await writeFile(
      join(dir, 'extra.cedar'),
      '@id("vip-read")\npermit (principal, action == Provisioning::Action::"read", resource) when { principal.vip };\n',
    );
    await expect(authz.reload()).rejects.toMatchObject({ code: 'ERR_AUTHZ_VALIDATION' });
    expect(authz.version).toBe(good);
    const schemaPath = join(dir, 'schema.cedarschema');
    const schema = await readFile(schemaPath, 'utf8');
    await writeFile(
      schemaPath,
      schema.replace('    mfa_enabled: Bool,\n', '    mfa_enabled: Bool,\n    vip?: Bool,\n'),
    );
    await writeFile(
      join(dir, 'extra.cedar'),
      '@id("vip-read")\npermit (principal, action == Provisioning::Action::"read", resource) when { principal has vip && principal.vip };\n',
    );
    const event = await authz.reload();
    expect(event.changed).toBe(true);
    expect(authz.policyIds).toContain('vip-read');
  });

  it('decisions during a reload see either the old or the new set, never a mix', async () => {
    const { dir, authz } = await setup();
    const oldVersion = authz.version;
    let running = true;
    const seen: { version: string; decision: string }[] = [];
    const loop = (async () => {
      while (running) {
        const d = authz.authorizeSync(danaReadsDev);
        seen.push({ version: d.policySetVersion, decision: d.decision });
        await new Promise((r) => setImmediate(r));
      }
    })();
    await writeFile(join(dir, 'development.cedar'), (await readFile(join(dir, 'development.cedar'), 'utf8')) + LOCKOUT);
    const event = await authz.reload();
    await new Promise((r) => setTimeout(r, 20));
    running = false;
    await loop;
    const newVersion = event.version;
    expect(seen.length).toBeGreaterThan(1);
    for (const s of seen) {
      expect([oldVersion, newVersion]).toContain(s.version);
      expect(s.decision).toBe(s.version === oldVersion ? 'allow' : 'deny');
    }
    expect(seen.at(-1)?.version).toBe(newVersion);
  });

  it('follows a Kubernetes-style ConfigMap update (files are links into a swapped ..data directory)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'authz-cm-'));
    const v1 = join(dir, '..v1');
    await cp(shippedPolicyDir, v1, { recursive: true });
    await symlink('..v1', join(dir, '..data'));
    for (const f of ['schema.cedarschema', 'admin.cedar', 'development.cedar', 'production.cedar']) {
      await symlink(join('..data', f), join(dir, f));
    }
    const authz = await createAuthorizer({ policyDir: dir });
    open.push(authz);
    expect(authz.policyIds).toContain('admin-full-access');
    expect(authz.authorizeSync(danaReadsDev).decision).toBe('allow');
    // the kubelet writes a new version directory and atomically renames the ..data link
    const v2 = join(dir, '..v2');
    await cp(v1, v2, { recursive: true });
    await writeFile(join(v2, 'development.cedar'), (await readFile(join(v2, 'development.cedar'), 'utf8')) + LOCKOUT);
    await symlink('..v2', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await authz.reload();
    expect(authz.authorizeSync(danaReadsDev).decision).toBe('deny');
  });

  it('reloading an unchanged directory keeps the version and emits nothing', async () => {
    const { authz } = await setup();
    let events = 0;
    authz.on('reloaded', () => events++);
    const event = await authz.reload();
    expect(event.changed).toBe(false);
    expect(events).toBe(0);
  });

  it('stopping the watcher stops reloads', async () => {
    const { dir, authz } = await setup();
    const stop = authz.watch({ debounceMs: 20 });
    stop();
    await writeFile(join(dir, 'development.cedar'), (await readFile(join(dir, 'development.cedar'), 'utf8')) + LOCKOUT);
    await new Promise((r) => setTimeout(r, 300));
    expect(authz.authorizeSync(danaReadsDev).decision).toBe('allow');
  });
});
