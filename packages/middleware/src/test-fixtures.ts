// Shared fakes for the middleware tests (not exported from the package).
import { createManualClock, type ManualClock, memoryStore } from '@provisioning/core';
import type { SecurityChainOptions } from './chain.js';
import { createSecurityChain } from './chain.js';
import type { AuthorizationRequest, Principal, SecurityAuditEvent } from './types.js';

export interface Harness {
  clock: ManualClock;
  events: SecurityAuditEvent[];
  calls: string[];
  authorizations: AuthorizationRequest[];
  chain: ReturnType<typeof createSecurityChain>;
  /** Waits for queued audit events to be recorded. */
  settle(): Promise<void>;
}

export const TOKENS = {
  admin: 'tok-admin',
  viewer: 'tok-viewer',
  freshMfa: 'tok-fresh-mfa',
  emergency: 'tok-emergency',
  revoked: 'tok-revoked',
  apiKey: 'pk_live_abc.secretpart',
} as const;

export function harness(overrides: Partial<SecurityChainOptions> = {}): Harness {
  const clock = createManualClock(new Date('2026-03-02T10:00:00Z'));
  const events: SecurityAuditEvent[] = [];
  const calls: string[] = [];
  const authorizations: AuthorizationRequest[] = [];
  const principals: Record<string, Principal> = {
    [TOKENS.admin]: { id: 'u-admin', type: 'user', roles: ['Admin'], sessionId: 's-1', amr: ['pwd'] },
    [TOKENS.viewer]: { id: 'u-viewer', type: 'user', roles: ['Viewer'], sessionId: 's-2', amr: ['pwd'] },
    [TOKENS.freshMfa]: {
      id: 'u-ops',
      type: 'user',
      roles: ['Operator'],
      sessionId: 's-3',
      amr: ['pwd', 'otp'],
      mfaAt: new Date(clock.now() - 60_000),
    },
    [TOKENS.emergency]: {
      id: 'u-sre',
      type: 'user',
      roles: ['Operator'],
      sessionId: 's-4',
      amr: ['pwd', 'otp'],
      mfaAt: new Date(clock.now() - 60_000),
      emergency: {
        sessionId: 'EMERGENCY-42',
        approvers: ['a', 'b'],
        actions: ['read', 'rollback'],
        resources: ['srv-1'],
      },
    },
    [TOKENS.apiKey]: { id: 'key-1', type: 'api-key', roles: ['Viewer'], scopes: ['read'] },
  };
  const chain = createSecurityChain({
    clock,
    authenticator: {
      async authenticate(credential) {
        calls.push('authenticate');
        const value = credential.kind === 'bearer' ? credential.token : credential.key;
        const principal = principals[value];
        if (principal === undefined) throw Object.assign(new Error('refused'), { code: 'ERR_AUTH_TOKEN_REVOKED' });
        return principal;
      },
    },
    authorizer: {
      async authorize(request) {
        calls.push('authorize');
        authorizations.push(request);
        // Admin may do anything; everyone may read; nobody else may write.
        const allowed =
          request.principal.roles.includes('Admin') || request.action === 'read' || request.action === 'rollback';
        return { allowed, policyIds: [allowed ? 'allow-policy' : 'default-deny'], version: 'v1' };
      },
    },
    audit: { record: (event) => void events.push(event) },
    rateLimit: { store: memoryStore({ clock }), perIp: 5, perPrincipal: 3, windowSeconds: 60 },
    ...overrides,
  });
  return { clock, events, calls, authorizations, chain, settle: () => new Promise((r) => setImmediate(r)) };
}

export const get = (path: string, headers: Record<string, string> = {}, method = 'GET'): Request =>
  new Request(`http://api.local${path}`, { method, headers });
