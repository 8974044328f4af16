import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { freePort, MissingServerError, tempDir } from '@provisioning/testing';

/** A docker-registry started for a test. */
export interface TestRegistry {
  readonly url: string;
  readonly dir: string;
  /** The token server, in token mode. */
  readonly tokens?: TokenServer;
  stop(): Promise<void>;
}

/** Our own token endpoint (distribution token spec), issuing ES256 JWTs with an x5c chain. */
export interface TokenServer {
  readonly url: string;
  /** Token requests answered, by grant. */
  readonly requests: { grant: 'password' | 'refresh_token' | 'anonymous'; scopes: string[] }[];
  /** Lifetime of issued tokens in seconds. */
  expiresIn: number;
  /** Actions a user may get, per user; default everything. */
  readonly permissions: Map<string, readonly string[]>;
  close(): Promise<void>;
}

const REGISTRY = '/usr/bin/docker-registry';

function requireBinary(path: string, pkg: string): void {
  if (!existsSync(path)) {
    throw new MissingServerError(
      `${path} not found: install Debian's ${pkg} (flock /tmp/apt.lock apt-get install -y ${pkg})`,
    );
  }
}

/** A bcrypt htpasswd line (the registry accepts bcrypt only). */
function htpasswd(user: string, password: string): string {
  requireBinary('/usr/bin/htpasswd', 'apache2-utils');
  return execFileSync('/usr/bin/htpasswd', ['-Bbn', user, password], { encoding: 'utf8' }).trim();
}

const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

async function startTokenServer(
  dir: string,
  users: Record<string, string>,
): Promise<TokenServer & { certPath: string }> {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
      '-subj',
      '/CN=provisioning-test-token-issuer',
    ],
    { stdio: 'pipe' },
  );
  const key = createPrivateKey(readFileSync(keyPath));
  const der = new X509Certificate(readFileSync(certPath)).raw.toString('base64');
  const refreshTokens = new Map<string, string>();
  const port = await freePort();
  const state: TokenServer & { certPath: string } = {
    url: `http://127.0.0.1:${port}/token`,
    requests: [],
    expiresIn: 300,
    permissions: new Map(),
    certPath,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const issue = (user: string | undefined, scopes: string[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const allowed = user ? (state.permissions.get(user) ?? ['pull', 'push', 'delete', '*']) : [];
    const access = scopes
      .map((s) => s.split(':'))
      // `repository:<name>:<actions>` and `registry:catalog:*` (the catalog).
      .filter((p) => p.length >= 3 && (p[0] === 'repository' || p[0] === 'registry'))
      .map(([type, ...rest]) => {
        const actions = (rest.pop() ?? '').split(',');
        return { type, name: rest.join(':'), actions: actions.filter((a) => allowed.includes(a)) };
      });
    const header = { typ: 'JWT', alg: 'ES256', x5c: [der] };
    const claims = {
      iss: 'provisioning-test-issuer',
      sub: user ?? '',
      aud: 'provisioning-test-registry',
      exp: now + state.expiresIn,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${b64url(signature)}`;
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let user: string | undefined;
      let scopes = url.searchParams
        .getAll('scope')
        .flatMap((s) => s.split(' '))
        .filter(Boolean);
      let grant: TokenServer['requests'][number]['grant'] = 'anonymous';
      if (req.method === 'POST') {
        const form = new URLSearchParams(Buffer.concat(chunks).toString());
        user = refreshTokens.get(form.get('refresh_token') ?? '');
        scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        grant = 'refresh_token';
        if (!user) {
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
          return;
        }
      } else {
        const auth = req.headers.authorization;
        if (auth?.startsWith('Basic ')) {
          const [u, p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
          if (u === undefined || users[u] !== p) {
            res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
            return;
          }
          user = u;
          grant = 'password';
        }
      }
      state.requests.push({ grant, scopes });
      const token = issue(user, scopes);
      const body: Record<string, unknown> = {
        token,
        access_token: token,
        expires_in: state.expiresIn,
        issued_at: new Date().toISOString(),
      };
      if (user && (url.searchParams.get('offline_token') === 'true' || grant === 'refresh_token')) {
        const refresh = randomUUID();
        refreshTokens.set(refresh, user);
        body.refresh_token = refresh;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return state;
}

/**
 * Starts Debian's docker-registry 2.8.2 on 127.0.0.1 and a free port with its
 * own config: storage in a temp dir, deletes enabled, and htpasswd or token auth.
 */
export async function startRegistry(
  auth: { htpasswd: Record<string, string> } | { token: Record<string, string> } | 'none',
): Promise<TestRegistry> {
  requireBinary(REGISTRY, 'docker-registry');
  const dir = tempDir('provisioning-registry-');
  const port = await freePort();
  let tokens: (TokenServer & { certPath: string }) | undefined;
  let authConfig = '';
  if (auth !== 'none' && 'htpasswd' in auth) {
    const file = join(dir.path, 'htpasswd');
    writeFileSync(
      file,
      `${Object.entries(auth.htpasswd)
        .map(([u, p]) => htpasswd(u, p))
        .join('\n')}\n`,
    );
    authConfig = `auth:\n  htpasswd:\n    realm: provisioning-test\n    path: ${file}\n`;
  } else if (auth !== 'none') {
    tokens = await startTokenServer(dir.path, auth.token);
    authConfig = `auth:\n  token:\n    realm: ${tokens.url}\n    service: provisioning-test-registry\n    issuer: provisioning-test-issuer\n    rootcertbundle: ${tokens.certPath}\n`;
  }
  const config = join(dir.path, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir.path, 'data')}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: ${randomUUID()}
${authConfig}`,
  );
  const child: ChildProcess = spawn(REGISTRY, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr.slice(0, 2000)}`);
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${stderr.slice(0, 2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    dir: dir.path,
    ...(tokens ? { tokens } : {}),
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
      await tokens?.close();
      dir.remove();
    },
  };
}
