import { afterEach } from 'vitest';
import { createOrchestrator, type OrchestratorOptions } from '../src/orchestrator/index.js';
import { addUser, createTestPlatform, fromLoopback } from './platform-fixture.js';

/** An answer of the orchestrator, its body parsed when it is JSON. */
export interface OrchestratorAnswer {
  readonly status: number;
  readonly json: any;
  readonly text: string;
  readonly headers: Headers;
}

const disposers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const dispose of disposers.splice(0)) await dispose();
});

/**
 * The orchestrator over a fresh test platform, called in-process from a
 * loopback address; closed after each test. `user()` adds a user and issues
 * a token, stepped up by an MFA now unless `mfa` is false; `call()` sends a
 * JSON body (a string is sent as it is).
 */
export async function orchestratorHarness(
  options: {
    readonly orchestrator?: OrchestratorOptions;
    readonly platform?: Parameters<typeof createTestPlatform>[0];
  } = {},
) {
  const platform = await createTestPlatform(options.platform);
  const service = await createOrchestrator(platform, options.orchestrator);
  disposers.push(async () => {
    await service.close?.();
    await platform.dispose();
  });
  const app = fromLoopback(service.app);
  const user = async (name: string, roles: string[], mfa = true): Promise<{ id: string; token: string }> => {
    const id = await addUser(platform, name, 'a long enough password', roles);
    const { accessToken } = await platform.tokens.issue({
      subject: id,
      roles,
      ...(mfa ? { mfaAt: new Date(platform.clock.now()) } : {}),
    });
    return { id, token: accessToken };
  };
  const call = async (method: string, path: string, token: string, body?: unknown): Promise<OrchestratorAnswer> => {
    const res = await app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, headers: res.headers };
  };
  /** The path of a route with `{id}` filled in. */
  const at = (route: { readonly path: string }, id: string): string => route.path.replace('{id}', id);
  return { platform, service, app, user, call, at };
}
