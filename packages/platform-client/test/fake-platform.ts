import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiError, fail, ok, type ServiceName } from '../src/api.js';

/** A request the fake platform saw. */
export interface FakeRequest {
  service: ServiceName;
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export interface FakePlatform {
  readonly urls: Record<ServiceName, string>;
  readonly env: Record<string, string>;
  readonly requests: FakeRequest[];
  /** Make a service unhealthy. */
  down: Set<ServiceName>;
  close(): Promise<void>;
}

const USER = { id: 'u1', username: 'ada', email: 'ada@example.com', roles: ['Admin'] };
const task = (id: string, status: string, progress: number | null = null) => ({
  id,
  name: `deploy ${id}`,
  command: 'servers create',
  args: ['--infra', 'prod'],
  dependencies: [],
  status,
  created_at: '2026-01-01T00:00:00Z',
  started_at: status === 'Pending' ? null : '2026-01-01T00:00:01Z',
  completed_at: null,
  output: null,
  error: null,
  progress,
});

/**
 * An in-process stand-in for the five services on real HTTP (one port each),
 * answering with the shared contract's shapes (`ok`, `fail`, `apiError`). It
 * checks bearer tokens, MFA at login and the KMS context like the real
 * services would. The client and the CLI are tested against the reference
 * servers themselves (`integration/reference-servers.test.ts`); this fixture
 * stays for what those cannot show in a unit run without a registry: a
 * service going down (`down`) and the CLI's usage errors.
 */
export async function startFakePlatform(): Promise<FakePlatform> {
  const requests: FakeRequest[] = [];
  const down = new Set<ServiceName>();
  const tasks = [
    task('11111111-1111-7111-8111-111111111111', 'Running', 40),
    task('22222222-2222-7222-8222-222222222222', 'Completed', 100),
  ];
  const validTokens = new Set<string>();
  let issued = 0;

  const send = (res: ServerResponse, status: number, body: unknown, type = 'application/json'): undefined => {
    const text = typeof body === 'string' && type !== 'application/json' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) }).end(text);
    return undefined;
  };
  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization ?? '';
    return validTokens.has(header.replace(/^Bearer /, '')) || req.headers['x-api-key'] === 'test-api-key';
  };

  const handle = (service: ServiceName, req: IncomingMessage, res: ServerResponse, body: unknown): undefined => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const route = `${req.method} ${path}`;
    if (down.has(service)) return send(res, 503, fail('maintenance', 'UNAVAILABLE'));
    const b = (body ?? {}) as Record<string, unknown>;
    switch (service) {
      case 'orchestrator': {
        if (route === 'GET /health') return send(res, 200, ok('Orchestrator is healthy'));
        if (!authorized(req)) return send(res, 401, fail('missing or invalid token', 'UNAUTHORIZED'));
        if (route === 'GET /tasks') {
          const status = url.searchParams.get('status');
          const limit = Number(url.searchParams.get('limit') ?? 50);
          const offset = Number(url.searchParams.get('offset') ?? 0);
          return send(res, 200, ok(tasks.filter((t) => !status || t.status === status).slice(offset, offset + limit)));
        }
        const one = /^\/tasks\/([^/]+)$/.exec(path);
        if (req.method === 'GET' && one) {
          const t = tasks.find((x) => x.id === decodeURIComponent(one[1] ?? ''));
          return t ? send(res, 200, ok(t)) : send(res, 404, fail('task not found', 'TASK_NOT_FOUND'));
        }
        if (route === 'POST /workflows/servers/create') {
          if (typeof b.infra !== 'string') return send(res, 400, fail('infra is required', 'VALIDATION_ERROR'));
          const id = `33333333-3333-7333-8333-${String(tasks.length).padStart(12, '0')}`;
          tasks.push(task(id, 'Pending'));
          return send(res, 200, ok(id));
        }
        if (route === 'GET /api/v1/audit/events') {
          return send(
            res,
            200,
            ok(
              [
                {
                  id: 'e1',
                  timestamp: '2026-01-01T00:00:00Z',
                  actor: 'ada',
                  action: 'auth.login',
                  resource: 'User::"ada"',
                  outcome: 'success',
                },
                {
                  id: 'e2',
                  timestamp: '2026-01-01T00:01:00Z',
                  actor: 'bob',
                  action: 'kms.decrypt',
                  resource: 'Key::"k1"',
                  outcome: 'denied',
                },
              ].filter((e) => !url.searchParams.get('actor') || e.actor === url.searchParams.get('actor')),
            ),
          );
        }
        if (route === 'GET /api/v1/audit/export') {
          return send(res, 200, 'id,actor,action,outcome\ne1,ada,auth.login,success\n', 'text/csv');
        }
        return send(res, 404, fail('no route', 'NOT_FOUND'));
      }
      case 'controlCenter': {
        if (route === 'GET /health') return send(res, 200, ok({ status: 'healthy' }));
        if (route === 'POST /auth/login') {
          if (b.username !== 'ada' || b.password !== 'correct horse')
            return send(res, 401, fail('invalid credentials', 'INVALID_CREDENTIALS'));
          if (b.mfa_code === undefined) return send(res, 401, fail('MFA code required', 'MFA_REQUIRED'));
          if (b.mfa_code !== '123456') return send(res, 401, fail('invalid MFA code', 'INVALID_MFA'));
          const token = `tok-${++issued}`;
          validTokens.add(token);
          return send(
            res,
            200,
            ok({
              access_token: token,
              refresh_token: `ref-${issued}`,
              token_type: 'Bearer',
              expires_in: 900,
              user: USER,
            }),
          );
        }
        if (route === 'POST /auth/logout') {
          validTokens.delete((req.headers.authorization ?? '').replace(/^Bearer /, ''));
          return send(res, 200, ok({ revoked: b.all_sessions ? 2 : 1 }));
        }
        return send(res, 404, fail('no route', 'NOT_FOUND'));
      }
      case 'kms': {
        if (route === 'GET /api/v1/kms/health') return send(res, 200, ok({ status: 'healthy', backend: 'age' }));
        if (!authorized(req)) return send(res, 401, fail('missing or invalid token', 'UNAUTHORIZED'));
        const context = JSON.stringify(b.context ?? {});
        if (route === 'POST /api/v1/kms/encrypt') {
          const ct = Buffer.from(JSON.stringify({ p: b.plaintext, c: context })).toString('base64url');
          return send(res, 200, ok({ ciphertext: `fake:${ct}`, key_id: 'k1' }));
        }
        if (route === 'POST /api/v1/kms/decrypt') {
          const raw = String(b.ciphertext ?? '').replace(/^fake:/, '');
          const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString()) as { p: string; c: string };
          if (parsed.c !== context) return send(res, 400, fail('decryption failed', 'DECRYPTION_FAILED'));
          return send(res, 200, ok({ plaintext: parsed.p, key_id: 'k1' }));
        }
        return send(res, 404, fail('no route', 'NOT_FOUND'));
      }
      case 'apiServer':
        if (route === 'GET /v1/health') return send(res, 200, { status: 'healthy' });
        return send(res, 404, apiError(404, 'NOT_FOUND', 'no route'));
      case 'extensionRegistry':
        if (route === 'GET /api/v1/health') return send(res, 200, ok({ status: 'healthy' }));
        return send(res, 404, fail('no route', 'NOT_FOUND'));
    }
  };

  const servers: Server[] = [];
  const urls = {} as Record<ServiceName, string>;
  for (const service of ['orchestrator', 'controlCenter', 'kms', 'apiServer', 'extensionRegistry'] as const) {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString();
        let body: unknown;
        try {
          body = raw ? JSON.parse(raw) : undefined;
        } catch {
          return send(res, 400, fail('bad json', 'BAD_JSON'));
        }
        const url = new URL(req.url ?? '/', 'http://x');
        requests.push({
          service,
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body,
        });
        handle(service, req, res, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    urls[service] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    servers.push(server);
  }
  return {
    urls,
    requests,
    down,
    env: {
      PROVISIONING_ORCHESTRATOR_URL: urls.orchestrator,
      PROVISIONING_CONTROL_CENTER_URL: urls.controlCenter,
      PROVISIONING_KMS_URL: urls.kms,
      PROVISIONING_API_SERVER_URL: urls.apiServer,
      PROVISIONING_EXTENSION_REGISTRY_URL: urls.extensionRegistry,
    },
    close: () => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))).then(() => undefined),
  };
}
