import type { AuditEventInput } from '../src/events.js';

/** @internal A valid event input for tests. */
export function sampleInput(n = 0, overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    action: 'auth.login.succeeded',
    outcome: 'success',
    actor: { id: `user-${n % 7}`, type: 'user', roles: ['admin'], ip: `192.0.2.${n % 250}`, userAgent: 'Mozilla/5.0' },
    resource: { type: 'session', id: `s-${n}` },
    requestId: `req-${n}`,
    sessionId: `sess-${n % 3}`,
    metadata: { n },
    ...overrides,
  };
}
