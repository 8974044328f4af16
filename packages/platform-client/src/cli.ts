#!/usr/bin/env node
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SERVICE_NAMES, type ServiceName } from './api/common.js';
import {
  EXTENSION_SOURCES,
  EXTENSION_TYPES,
  type Extension,
  type ExtensionSource,
  type ExtensionType,
} from './api/extension-registry.js';
import {
  type AuditEvent,
  type AuditExportFormat,
  type AuditExportQuery,
  type AuditOutcome,
  DATA_SUBJECT_REQUEST_TYPES,
  type DataSubjectRequest,
  type DataSubjectRequestType,
  TASK_STATUSES,
  type TaskStatus,
  WORKFLOW_KINDS,
  type WorkflowKind,
  type WorkflowTask,
} from './api/orchestrator.js';
import { createPlatformClient, type PlatformClient } from './client.js';
import { isPlatformClientError, type PlatformClientErrorCode } from './errors.js';
import { createOciClient, type OciClient } from './oci/client.js';
import type { OciCredentials } from './oci/http.js';
import type { AuthOptions, SessionTokens } from './session.js';

/**
 * Exit codes of the `provisioning` command, stable for scripts.
 *
 * | code | meaning |
 * |---|---|
 * | 0 | success |
 * | 1 | unexpected error |
 * | 2 | usage error (unknown command, bad flag, bad input) |
 * | 3 | authentication needed or failed (including MFA required) |
 * | 4 | forbidden |
 * | 5 | not found |
 * | 6 | conflict or rejected request (400/409) |
 * | 7 | service unavailable: network, timeout, 5xx, rate limited |
 * | 8 | integrity: digest mismatch, truncated or malformed response |
 * | 9 | an operation failed, was cancelled, or did not finish in time |
 * | 10 | `health`/`status`: at least one service is unhealthy |
 */
export const EXIT_CODES: Readonly<{
  ok: 0;
  error: 1;
  usage: 2;
  auth: 3;
  forbidden: 4;
  notFound: 5;
  rejected: 6;
  unavailable: 7;
  integrity: 8;
  operation: 9;
  unhealthy: 10;
}> = Object.freeze({
  ok: 0,
  error: 1,
  usage: 2,
  auth: 3,
  forbidden: 4,
  notFound: 5,
  rejected: 6,
  unavailable: 7,
  integrity: 8,
  operation: 9,
  unhealthy: 10,
});

const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['success', 'failure', 'denied'];

const CODE_EXITS: Partial<Record<PlatformClientErrorCode, number>> = {
  ERR_CLIENT_INVALID_OPTIONS: EXIT_CODES.usage,
  ERR_CLIENT_UNAUTHENTICATED: EXIT_CODES.auth,
  ERR_CLIENT_NOT_AUTHENTICATED: EXIT_CODES.auth,
  ERR_CLIENT_MFA_REQUIRED: EXIT_CODES.auth,
  ERR_CLIENT_OCI_AUTH: EXIT_CODES.auth,
  ERR_CLIENT_FORBIDDEN: EXIT_CODES.forbidden,
  ERR_CLIENT_NOT_FOUND: EXIT_CODES.notFound,
  ERR_CLIENT_BAD_REQUEST: EXIT_CODES.rejected,
  ERR_CLIENT_CONFLICT: EXIT_CODES.rejected,
  ERR_CLIENT_HTTP: EXIT_CODES.rejected,
  ERR_CLIENT_NETWORK: EXIT_CODES.unavailable,
  ERR_CLIENT_TIMEOUT: EXIT_CODES.unavailable,
  ERR_CLIENT_RATE_LIMITED: EXIT_CODES.unavailable,
  ERR_CLIENT_SERVER_ERROR: EXIT_CODES.unavailable,
  ERR_CLIENT_ABORTED: EXIT_CODES.unavailable,
  ERR_CLIENT_DIGEST_MISMATCH: EXIT_CODES.integrity,
  ERR_CLIENT_TRUNCATED_RESPONSE: EXIT_CODES.integrity,
  ERR_CLIENT_MALFORMED_RESPONSE: EXIT_CODES.integrity,
  ERR_CLIENT_UNEXPECTED_CONTENT_TYPE: EXIT_CODES.integrity,
  ERR_CLIENT_OCI_PROTOCOL: EXIT_CODES.integrity,
  ERR_CLIENT_OPERATION_FAILED: EXIT_CODES.operation,
  ERR_CLIENT_OPERATION_CANCELLED: EXIT_CODES.operation,
  ERR_CLIENT_WAIT_TIMEOUT: EXIT_CODES.operation,
};

/** Where the CLI reads and writes. Injectable so tests run it in-process too. */
export interface CliIo {
  readonly stdout: { write(chunk: string | Uint8Array): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(chunk: string): unknown; readonly isTTY?: boolean };
  /** Reads all of standard input. */
  readStdin(): Promise<Uint8Array>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Overrides `fetch` (tests). */
  readonly fetch?: typeof fetch;
}

const USAGE = `Usage: provisioning <command> [options]

Commands:
  status                               health of every service and the login session
  health                               health of every service
  login --username <u> [--password-stdin] [--mfa-code <code>]
  logout [--all]
  workflow submit <servers|taskserv|cluster|batch> --infra <name> [--param k=v ...] [--params-file f.json]
  workflow status <id>
  workflow list [--status <Pending|Running|Completed|Failed|Cancelled>] [--limit <n>]
  kms encrypt [--context k=v ...] [--in <file>]     (stdin by default; prints the ciphertext)
  kms decrypt [--context k=v ...] [--in <file>] [--out <file>]
  audit query [filters] [--limit <n>]
  audit export --format <json|jsonl|csv|ecs|splunk> [filters] [--out <file>]
      filters: [--from <iso>] [--to <iso>] [--actor <a>] [--action <a>] [--outcome <success|failure|denied>]
               [--resource-type <t>] [--resource-id <id>]
  gdpr request <access|erasure|rectification|portability> --subject <user-id> [--change k=v ...] [--out <file>]
  gdpr status <id>
  gdpr verify <id> --reference <ticket> [--out <file>]   (an administrator's out-of-band identity check)
  gdpr extend <id> --reason <text>                 (once, by two months; the reason is told to the subject)
      an answer that completes an access or portability request holds the subject's data, which the
      server does not keep: request access|portability and verify need --out (written owner-only) or --json
  extension list [--type <provider|taskserv|cluster>] [--source <gitea|oci>] [--limit <n>]
  extension show <type> <name>                     (the latest version and every version)
  extension download <type> <name>[@<version>] [--source <gitea|oci>] [--out <file>]
  oci push <registry>/<repo>:<tag> <file>... [--artifact-type <type>] [--plain-http]
  oci pull <registry>/<repo>[:<tag>|@<digest>] [--output <dir>] [--plain-http]

Global options:
  --json                 machine-readable output on stdout
  --base-url <url>       one URL for every service (else per-service env vars, else --host)
  --host <host>          host of the services on their default ports (default 127.0.0.1)
  --timeout <ms>         per-request timeout
  -h, --help             this help

Environment:
  PROVISIONING_BASE_URL, PROVISIONING_HOST, PROVISIONING_<SERVICE>_URL (ORCHESTRATOR, CONTROL_CENTER, KMS,
  API_SERVER, EXTENSION_REGISTRY), PROVISIONING_API_KEY, PROVISIONING_TOKEN, PROVISIONING_PASSWORD,
  PROVISIONING_MFA_CODE, PROVISIONING_SESSION_FILE, PROVISIONING_OCI_USERNAME, PROVISIONING_OCI_PASSWORD,
  PROVISIONING_OCI_TOKEN

Exit codes: 0 ok, 1 error, 2 usage, 3 auth, 4 forbidden, 5 not found, 6 rejected, 7 unavailable,
  8 integrity, 9 operation failed, 10 unhealthy.
`;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

const ENV_NAMES: Record<ServiceName, string> = {
  orchestrator: 'PROVISIONING_ORCHESTRATOR_URL',
  controlCenter: 'PROVISIONING_CONTROL_CENTER_URL',
  kms: 'PROVISIONING_KMS_URL',
  apiServer: 'PROVISIONING_API_SERVER_URL',
  extensionRegistry: 'PROVISIONING_EXTENSION_REGISTRY_URL',
};

/** A plain text table with aligned columns. */
export function formatTable(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')}\n`;
}

/** One line of a progress bar: `[#####.....]  50%  1.0 MiB/2.0 MiB`. */
export function progressBar(done: number, total: number | undefined, width = 30): string {
  const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (!total) return `${mib(done)}`;
  const ratio = Math.min(1, done / total);
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ${mib(done)}/${mib(total)}`;
}

function parsePairs(values: readonly string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const at = v.indexOf('=');
    if (at < 1) throw new UsageError(`${what} must be key=value`);
    out[v.slice(0, at)] = v.slice(at + 1);
  }
  return out;
}

function sessionFile(env: CliIo['env']): string {
  if (env.PROVISIONING_SESSION_FILE) return env.PROVISIONING_SESSION_FILE;
  const base = env.XDG_CONFIG_HOME ?? join(homedir(), '.config');
  return join(base, 'provisioning', 'session.json');
}

function loadSession(path: string): SessionTokens | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as SessionTokens;
    return typeof value.accessToken === 'string' && typeof value.refreshToken === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

// Owner-only (0600) for what is secret or personal: session tokens, decrypted plaintext, a
// data-subject export. `mode` applies only when the file is created, so an existing file is
// narrowed too: writing a secret into a world-readable file left by someone else would expose it.
function writeOwnerOnly(path: string, data: string | Uint8Array): void {
  writeFileSync(path, data, { mode: 0o600 });
  chmodSync(path, 0o600);
}

function saveSession(path: string, tokens: SessionTokens | undefined): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeOwnerOnly(path, tokens ? JSON.stringify(tokens) : '{}');
}

/** Splits `host:port/repo/name:tag` or `…@sha256:…` (optionally with a scheme). */
export function parseOciReference(
  ref: string,
  plainHttp: boolean,
): { registry: string; repository: string; reference: string } {
  let rest = ref;
  let scheme = plainHttp ? 'http' : 'https';
  const m = /^(https?):\/\//.exec(rest);
  if (m) {
    scheme = m[1] ?? scheme;
    rest = rest.slice(m[0].length);
  }
  const slash = rest.indexOf('/');
  if (slash < 1) throw new UsageError('an OCI reference looks like registry.example:5000/repo/name:tag');
  const host = rest.slice(0, slash);
  let path = rest.slice(slash + 1);
  let reference = 'latest';
  const at = path.indexOf('@');
  if (at >= 0) {
    reference = path.slice(at + 1);
    path = path.slice(0, at);
  } else {
    const colon = path.lastIndexOf(':');
    if (colon > path.lastIndexOf('/')) {
      reference = path.slice(colon + 1);
      path = path.slice(0, colon);
    }
  }
  return { registry: `${scheme}://${host}`, repository: path, reference };
}

/**
 * Runs the `provisioning` command with `argv` (without `node` and the script)
 * and resolves with its exit code (see {@link EXIT_CODES}).
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(['health', '--json']);
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let json = argv.includes('--json');
  const out = (text: string): void => void io.stdout.write(text);
  const err = (text: string): void => void io.stderr.write(text);
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        'base-url': { type: 'string' },
        host: { type: 'string' },
        timeout: { type: 'string' },
        username: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        'mfa-code': { type: 'string' },
        all: { type: 'boolean' },
        infra: { type: 'string' },
        param: { type: 'string', multiple: true },
        'params-file': { type: 'string' },
        status: { type: 'string' },
        limit: { type: 'string' },
        context: { type: 'string', multiple: true },
        in: { type: 'string' },
        out: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        actor: { type: 'string' },
        action: { type: 'string' },
        outcome: { type: 'string' },
        'resource-type': { type: 'string' },
        'resource-id': { type: 'string' },
        type: { type: 'string' },
        source: { type: 'string' },
        format: { type: 'string' },
        'artifact-type': { type: 'string' },
        output: { type: 'string' },
        'plain-http': { type: 'boolean' },
        subject: { type: 'string' },
        change: { type: 'string', multiple: true },
        reference: { type: 'string' },
        reason: { type: 'string' },
      },
    });
    json = values.json ?? false;
    const [command, sub, ...args] = positionals;
    if (values.help || command === undefined || command === 'help') {
      out(USAGE);
      return command === undefined && !values.help ? EXIT_CODES.usage : EXIT_CODES.ok;
    }
    const env = io.env;
    const timeoutMs = values.timeout !== undefined ? Number(values.timeout) : undefined;
    if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new UsageError('--timeout must be a positive number of ms');
    const print = (value: unknown, human: () => string): void =>
      out(json ? `${JSON.stringify(value, null, 2)}\n` : human());
    const limit = values.limit !== undefined ? Number(values.limit) : undefined;
    if (limit !== undefined && !(Number.isInteger(limit) && limit > 0))
      throw new UsageError('--limit must be a positive integer');

    const showProgress = !json && io.stderr.isTTY === true;
    const progress = (label: string) =>
      showProgress
        ? (done: number, total: number | undefined): void => err(`\r${label} ${progressBar(done, total)}`)
        : undefined;

    if (command === 'oci') {
      const ref = args[0] ?? '';
      if (sub !== 'push' && sub !== 'pull') throw new UsageError('oci needs push or pull');
      if (!ref) throw new UsageError(`oci ${sub} needs a reference`);
      const { registry, repository, reference } = parseOciReference(ref, values['plain-http'] ?? false);
      const credentials: OciCredentials | undefined = env.PROVISIONING_OCI_TOKEN
        ? { token: env.PROVISIONING_OCI_TOKEN }
        : env.PROVISIONING_OCI_USERNAME
          ? { username: env.PROVISIONING_OCI_USERNAME, password: env.PROVISIONING_OCI_PASSWORD ?? '' }
          : undefined;
      const oci: OciClient = createOciClient({
        registry,
        ...(credentials ? { credentials } : {}),
        ...(io.fetch ? { fetch: io.fetch } : {}),
        ...(timeoutMs ? { timeoutMs } : {}),
      });
      if (sub === 'push') {
        const files = args.slice(1);
        if (files.length === 0) throw new UsageError('oci push needs at least one file');
        const result = await oci.pushArtifact(repository, reference, {
          artifactType: values['artifact-type'] ?? 'application/vnd.provisioning.artifact.v1',
          files: files.map((path) => ({ name: basename(path), path })),
          ...(progress('push') ? { onProgress: progress('push') } : {}),
        });
        if (showProgress) err('\n');
        print({ digest: result.digest, size: result.size, layers: result.manifest.layers }, () =>
          formatTable(
            ['file', 'digest', 'size'],
            result.manifest.layers.map((l) => [l.annotations?.['org.opencontainers.image.title'], l.digest, l.size]),
          ).concat(`pushed ${repository}:${reference} ${result.digest}\n`),
        );
        return EXIT_CODES.ok;
      }
      const pulled = await oci.pullArtifact(repository, reference, {
        outputDir: values.output ?? '.',
        ...(progress('pull') ? { onProgress: progress('pull') } : {}),
      });
      if (showProgress) err('\n');
      print(
        {
          digest: pulled.digest,
          files: pulled.files.map(({ name, digest, size, path }) => ({ name, digest, size, path })),
        },
        () =>
          formatTable(
            ['file', 'digest', 'size'],
            pulled.files.map((f) => [f.path ?? f.name, f.digest, f.size]),
          ),
      );
      return EXIT_CODES.ok;
    }

    const baseUrls: Partial<Record<ServiceName, string>> = {};
    for (const name of SERVICE_NAMES) {
      const url = env[ENV_NAMES[name]];
      if (url) baseUrls[name] = url;
    }
    const path = sessionFile(env);
    const auth: AuthOptions = env.PROVISIONING_API_KEY
      ? { type: 'apiKey', apiKey: env.PROVISIONING_API_KEY }
      : env.PROVISIONING_TOKEN
        ? { type: 'bearer', token: env.PROVISIONING_TOKEN }
        : (() => {
            const tokens = loadSession(path);
            return {
              type: 'session',
              ...(tokens ? { tokens } : {}),
              onTokens: (t: SessionTokens | undefined) => saveSession(path, t),
            };
          })();
    const baseUrl = values['base-url'] ?? env.PROVISIONING_BASE_URL;
    const host = values.host ?? env.PROVISIONING_HOST;
    const client: PlatformClient = createPlatformClient({
      ...(baseUrl ? { baseUrl } : {}),
      ...(host ? { host } : {}),
      baseUrls,
      auth,
      ...(io.fetch ? { fetch: io.fetch } : {}),
      ...(timeoutMs ? { timeoutMs } : {}),
    });

    switch (command) {
      case 'health':
      case 'status': {
        const health = await client.health();
        const session = client.session();
        const rows = SERVICE_NAMES.map((s) => {
          const h = health.services[s];
          return [s, h.url, h.healthy ? 'healthy' : 'UNHEALTHY', `${h.latencyMs} ms`, h.error?.code ?? ''];
        });
        const value =
          command === 'status'
            ? {
                ...health,
                session: session
                  ? {
                      user: session.user?.username,
                      roles: session.user?.roles,
                      expiresAt: new Date(session.expiresAt).toISOString(),
                    }
                  : null,
              }
            : health;
        print(value, () => {
          let text = formatTable(['service', 'url', 'health', 'latency', 'error'], rows);
          if (command === 'status') {
            text += session
              ? `\nlogged in as ${session.user?.username ?? '?'} (${(session.user?.roles ?? []).join(', ')}), access token expires ${new Date(session.expiresAt).toISOString()}\n`
              : `\nnot logged in${auth.type !== 'session' ? ` (using ${auth.type})` : ''}\n`;
          }
          return text;
        });
        return health.healthy ? EXIT_CODES.ok : EXIT_CODES.unhealthy;
      }
      case 'login': {
        const username = values.username ?? env.PROVISIONING_USERNAME;
        if (!username) throw new UsageError('login needs --username');
        // Passwords never come from argv (visible in `ps` and shell history): stdin or the environment.
        const password = values['password-stdin']
          ? new TextDecoder().decode(await io.readStdin()).replace(/\r?\n$/, '')
          : env.PROVISIONING_PASSWORD;
        if (!password) throw new UsageError('login needs --password-stdin or PROVISIONING_PASSWORD');
        const mfaCode = values['mfa-code'] ?? env.PROVISIONING_MFA_CODE;
        const tokens = await client.login({ username, password, ...(mfaCode ? { mfaCode } : {}) });
        print({ user: tokens.user, expiresAt: new Date(tokens.expiresAt).toISOString() }, () => {
          return `logged in as ${tokens.user?.username ?? username}; session saved to ${path}\n`;
        });
        return EXIT_CODES.ok;
      }
      case 'logout': {
        const result = await client.logout({ allSessions: values.all ?? false });
        print({ revoked: result?.revoked ?? 0 }, () => `logged out (${result?.revoked ?? 0} session(s) revoked)\n`);
        return EXIT_CODES.ok;
      }
      case 'workflow': {
        if (sub === 'submit') {
          const kind = args[0] as WorkflowKind;
          if (!WORKFLOW_KINDS.includes(kind))
            throw new UsageError(`workflow kind must be one of ${WORKFLOW_KINDS.join(', ')}`);
          if (!values.infra) throw new UsageError('workflow submit needs --infra');
          let params: Record<string, unknown> = {};
          if (values['params-file']) {
            try {
              params = JSON.parse(readFileSync(values['params-file'], 'utf8')) as Record<string, unknown>;
            } catch {
              throw new UsageError('--params-file must be a readable JSON object');
            }
          }
          params = { ...params, ...parsePairs(values.param, '--param') };
          const id = await client.orchestrator.submitWorkflow(kind, { infra: values.infra, params });
          print({ workflow_id: id }, () => `${id}\n`);
          return EXIT_CODES.ok;
        }
        if (sub === 'status') {
          const id = args[0];
          if (!id) throw new UsageError('workflow status needs an id');
          let task: WorkflowTask;
          try {
            task = await client.orchestrator.getTask(id);
          } catch (error) {
            // `workflow submit` prints a workflow id, which names the workflow's tasks, not a task.
            if (!(isPlatformClientError(error) && error.code === 'ERR_CLIENT_NOT_FOUND')) throw error;
            const tasks = await workflowTasks(client, id);
            if (tasks.length === 0) throw error;
            const status = workflowStatus(tasks);
            print({ workflow_id: id, status, tasks }, () =>
              formatTable(
                ['task', 'name', 'status', 'progress', 'error'],
                tasks.map((t) => [t.id, t.name, t.status, t.progress === null ? '-' : `${t.progress}%`, t.error]),
              ).concat(`workflow ${id}: ${status}\n`),
            );
            return EXIT_CODES.ok;
          }
          print(task, () =>
            formatTable(
              ['field', 'value'],
              [
                ['id', task.id],
                ['name', task.name],
                ['status', task.status],
                ['progress', task.progress === null ? '-' : `${task.progress}%`],
                ['created', task.created_at],
                ['started', task.started_at],
                ['completed', task.completed_at],
                ['error', task.error],
              ],
            ),
          );
          return EXIT_CODES.ok;
        }
        if (sub === 'list') {
          const status = values.status as TaskStatus | undefined;
          if (status !== undefined && !TASK_STATUSES.includes(status)) {
            throw new UsageError(`--status must be one of ${TASK_STATUSES.join(', ')}`);
          }
          const tasks: WorkflowTask[] = [];
          for await (const t of client.orchestrator.tasks(status ? { status } : {}, { maxItems: limit ?? 100 }))
            tasks.push(t);
          print(tasks, () =>
            formatTable(
              ['id', 'name', 'status', 'progress', 'created'],
              tasks.map((t) => [t.id, t.name, t.status, t.progress === null ? '-' : `${t.progress}%`, t.created_at]),
            ),
          );
          return EXIT_CODES.ok;
        }
        throw new UsageError('workflow needs submit, status or list');
      }
      case 'kms': {
        const context = parsePairs(values.context, '--context');
        const input = values.in ? new Uint8Array(readFileSync(values.in)) : await io.readStdin();
        const ctx = Object.keys(context).length > 0 ? context : undefined;
        if (sub === 'encrypt') {
          const result = await client.kms.encrypt(input, ctx);
          print(result, () => `${result.ciphertext}\n`);
          return EXIT_CODES.ok;
        }
        if (sub === 'decrypt') {
          const ciphertext = new TextDecoder().decode(input).trim();
          const result = await client.kms.decrypt(ciphertext, ctx);
          if (values.out) {
            writeOwnerOnly(values.out, result.plaintext);
            print({ key_id: result.keyId, out: values.out }, () => `plaintext written to ${values.out}\n`);
          } else if (json) {
            out(
              `${JSON.stringify({ key_id: result.keyId, plaintext: Buffer.from(result.plaintext).toString('base64') }, null, 2)}\n`,
            );
          } else {
            io.stdout.write(result.plaintext);
          }
          return EXIT_CODES.ok;
        }
        throw new UsageError('kms needs encrypt or decrypt');
      }
      case 'audit': {
        // One set of filters for query and export (the export route takes the query's filters, unpaged).
        const outcome = values.outcome;
        if (outcome !== undefined && !(AUDIT_OUTCOMES as readonly string[]).includes(outcome)) {
          throw new UsageError(`--outcome is one of ${AUDIT_OUTCOMES.join(', ')}`);
        }
        const query: AuditExportQuery = {
          ...(values.from ? { from: values.from } : {}),
          ...(values.to ? { to: values.to } : {}),
          ...(values.actor ? { actor: values.actor } : {}),
          ...(values.action ? { action: values.action } : {}),
          ...(outcome ? { outcome: outcome as AuditOutcome } : {}),
          ...(values['resource-type'] ? { resource_type: values['resource-type'] } : {}),
          ...(values['resource-id'] ? { resource_id: values['resource-id'] } : {}),
        };
        if (sub === 'query') {
          const events: AuditEvent[] = [];
          for await (const e of client.orchestrator.audit.events(query, { maxItems: limit ?? 100 })) events.push(e);
          print(events, () =>
            formatTable(
              ['time', 'actor', 'action', 'resource', 'outcome'],
              events.map((e) => [e.timestamp, e.actor, e.action, e.resource, e.outcome]),
            ),
          );
          return EXIT_CODES.ok;
        }
        if (sub === 'export') {
          const format = values.format as AuditExportFormat | undefined;
          if (!format || !['json', 'jsonl', 'csv', 'ecs', 'splunk'].includes(format)) {
            throw new UsageError('audit export needs --format json|jsonl|csv|ecs|splunk');
          }
          const text = await client.orchestrator.audit.export(format, query);
          if (values.out) {
            writeFileSync(values.out, text);
            print({ out: values.out, bytes: Buffer.byteLength(text) }, () => `exported to ${values.out}\n`);
          } else {
            out(text);
          }
          return EXIT_CODES.ok;
        }
        throw new UsageError('audit needs query or export');
      }
      case 'gdpr': {
        const compliance = client.orchestrator.compliance;
        const id = args[0] ?? '';
        // The answer that completes an access or portability request is the only copy of the
        // subject's data (the server keeps none), so it goes to a file or to JSON output: a
        // human-readable run neither drops it nor spills personal data into a terminal.
        const needsOut = (): void => {
          if (!values.out && !json)
            throw new UsageError(`gdpr ${sub} may answer with the subject's data export: pass --out <file> or --json`);
        };
        const show = (request: DataSubjectRequest): number => {
          const { export: exported, ...rest } = request;
          let shown: unknown = request;
          if (exported !== undefined && values.out) {
            writeOwnerOnly(values.out, `${JSON.stringify(exported, null, 2)}\n`);
            shown = { ...rest, export_file: values.out };
          }
          print(shown, () => {
            let text = `request ${request.id}: ${request.type} for ${request.subject}, ${request.status}, due ${request.due_at}\n`;
            if (request.extension) text += `extended ${request.extension.at}: ${request.extension.reason}\n`;
            // Never dropped: an export the commands above did not expect (status, extend) is printed.
            if (exported !== undefined)
              text += values.out ? `export written to ${values.out}\n` : `${JSON.stringify(exported, null, 2)}\n`;
            return text;
          });
          return EXIT_CODES.ok;
        };
        if (sub === 'request') {
          const type = args[0] as DataSubjectRequestType;
          if (!DATA_SUBJECT_REQUEST_TYPES.includes(type))
            throw new UsageError(`gdpr request type must be one of ${DATA_SUBJECT_REQUEST_TYPES.join(', ')}`);
          if (!values.subject) throw new UsageError('gdpr request needs --subject <user-id>');
          const changes = parsePairs(values.change, '--change');
          const hasChanges = Object.keys(changes).length > 0;
          if (type === 'rectification' && !hasChanges)
            throw new UsageError('gdpr request rectification needs --change k=v');
          if (type !== 'rectification' && hasChanges) throw new UsageError('--change is for rectification only');
          if (type === 'access' || type === 'portability') needsOut();
          return show(
            await compliance.createDataSubjectRequest({
              type,
              subject: values.subject,
              ...(hasChanges ? { changes } : {}),
            }),
          );
        }
        if (sub === 'status' || sub === 'verify' || sub === 'extend') {
          if (!id) throw new UsageError(`gdpr ${sub} needs a request id`);
          if (sub === 'status') return show(await compliance.getDataSubjectRequest(id));
          if (sub === 'verify') {
            if (!values.reference) throw new UsageError('gdpr verify needs --reference <ticket>');
            needsOut();
            return show(await compliance.verifyDataSubjectRequest(id, values.reference));
          }
          if (!values.reason) throw new UsageError('gdpr extend needs --reason <text>');
          return show(await compliance.extendDataSubjectRequest(id, values.reason));
        }
        throw new UsageError('gdpr needs request, status, verify or extend');
      }
      case 'extension': {
        const registry = client.extensionRegistry;
        const source = values.source;
        if (source !== undefined && !(EXTENSION_SOURCES as readonly string[]).includes(source))
          throw new UsageError(`--source is one of ${EXTENSION_SOURCES.join(', ')}`);
        const sourceQuery = source === undefined ? {} : { source: source as ExtensionSource };
        const extensionType = (value: string | undefined, what: string): ExtensionType => {
          if (value === undefined || !(EXTENSION_TYPES as readonly string[]).includes(value))
            throw new UsageError(`${what}: the type is one of ${EXTENSION_TYPES.join(', ')}`);
          return value as ExtensionType;
        };
        const row = (e: Extension) => [e.type, e.name, e.version, e.source, e.published_at, e.description];
        const head = ['type', 'name', 'version', 'source', 'published', 'description'];
        if (sub === 'list') {
          const query = {
            ...(values.type === undefined ? {} : { type: extensionType(values.type, '--type') }),
            ...sourceQuery,
          };
          const items: Extension[] = [];
          for await (const e of registry.extensions(query, { maxItems: limit ?? 100 })) items.push(e);
          print(items, () => formatTable(head, items.map(row)));
          return EXIT_CODES.ok;
        }
        if (sub === 'show') {
          const type = extensionType(args[0], 'extension show <type> <name>');
          const name = args[1];
          if (!name) throw new UsageError('extension show needs <type> <name>');
          const [latest, versions] = await Promise.all([registry.get(type, name), registry.versions(type, name)]);
          print({ ...latest, versions }, () =>
            formatTable(
              ['field', 'value'],
              [
                ['name', `${latest.type}/${latest.name}`],
                ['latest', latest.version],
                ['description', latest.description],
                ['author', latest.author],
                ['repository', latest.repository],
                ['tags', latest.tags.join(', ')],
                ['checksum', latest.checksum],
              ],
            ).concat('\n', formatTable(head, versions.map(row))),
          );
          return EXIT_CODES.ok;
        }
        if (sub === 'download') {
          const type = extensionType(args[0], 'extension download <type> <name>[@<version>]');
          const [name, version] = (args[1] ?? '').split('@', 2) as [string, string | undefined];
          if (!name) throw new UsageError('extension download needs <type> <name>[@<version>]');
          const archive = await registry.download(type, name, {
            ...(version ? { version } : {}),
            ...sourceQuery,
          });
          // Only bytes whose SHA-256 matched the registry's checksum get here (the client checks).
          // The file name is ours, never the server's Content-Disposition: that could name any path.
          const path = values.out ?? `${name}-${archive.version}.tar.gz`.replace(/[^0-9A-Za-z.+_-]/g, '_');
          writeFileSync(path, archive.bytes);
          print(
            { out: path, version: archive.version, checksum: archive.checksum, bytes: archive.bytes.length },
            () => `downloaded ${type}/${name} ${archive.version} to ${path} (${archive.checksum})\n`,
          );
          return EXIT_CODES.ok;
        }
        throw new UsageError('extension needs list, show or download');
      }
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      err(
        json
          ? `${JSON.stringify({ error: { code: 'USAGE', message: error.message } })}\n`
          : `error: ${error.message}\n\n${USAGE}`,
      );
      return EXIT_CODES.usage;
    }
    if (isPlatformClientError(error)) {
      const body = {
        code: error.code,
        message: error.message,
        status: error.status,
        serverCode: error.serverCode,
        retryable: error.retryable,
      };
      err(json ? `${JSON.stringify({ error: body })}\n` : `error: ${error.message} (${error.code})\n`);
      return CODE_EXITS[error.code] ?? EXIT_CODES.error;
    }
    const message = error instanceof Error ? error.message : String(error);
    err(json ? `${JSON.stringify({ error: { code: 'ERROR', message } })}\n` : `error: ${message}\n`);
    return EXIT_CODES.error;
  }
}

/** Most tasks a workflow lookup reads (the orchestrator has no filter by workflow). */
const WORKFLOW_SCAN_LIMIT = 1000;

/**
 * The tasks of a workflow, in their order. The contract's task list has no
 * workflow filter; servers that name a task's workflow (`workflow_id`, as the
 * reference orchestrator does) are scanned, newest first, up to
 * {@link WORKFLOW_SCAN_LIMIT} tasks.
 */
async function workflowTasks(client: PlatformClient, workflowId: string): Promise<WorkflowTask[]> {
  const found: WorkflowTask[] = [];
  for await (const task of client.orchestrator.tasks({}, { pageSize: 200, maxItems: WORKFLOW_SCAN_LIMIT })) {
    if ((task as { workflow_id?: unknown }).workflow_id === workflowId) found.push(task);
  }
  return found.reverse();
}

/** One status for a workflow: the worst of its tasks, Completed only when all are. */
function workflowStatus(tasks: readonly WorkflowTask[]): TaskStatus {
  for (const status of ['Failed', 'Cancelled', 'Running', 'Pending'] as const) {
    if (tasks.some((t) => t.status === status)) {
      // Pending tasks next to completed ones mean the workflow is under way.
      return status === 'Pending' && tasks.some((t) => t.status === 'Completed') ? 'Running' : status;
    }
  }
  return 'Completed';
}

function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    },
  };
}

function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = EXIT_CODES.error;
    },
  );
}
