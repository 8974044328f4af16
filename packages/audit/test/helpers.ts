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

/**
 * @internal A small seeded PRNG (mulberry32) for randomised tests: the same values on every run.
 * Returns floats in [0, 1).
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
