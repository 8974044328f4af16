import { createManualClock, memoryStore } from '@provisioning/core';
import { describe, expect, it } from 'vitest';
import { createRevocationList, enc } from './revocation.js';

describe('revocation list', () => {
  it("builds the same store keys as before the fast path (encodeURIComponent plus !'()*)", () => {
    const reference = (part: string): string =>
      encodeURIComponent(part).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const samples = [
      '',
      'user-1',
      '0192f0c4-aaaa-7bbb-8ccc-0123456789ab',
      'A.b_c~d-e',
      'alice@example.com',
      "it's (really) *me*!",
      'ünïcode ✓',
      'a:b/c?d#e f',
      ...Array.from({ length: 128 }, (_, i) => `x${String.fromCharCode(i)}y`),
    ];
    for (const s of samples) expect(enc(s)).toBe(reference(s));
  });

  it('tells a revoked token, session and user cut-off apart in one read', async () => {
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const store = memoryStore({ clock });
    const list = createRevocationList({ store, clock });
    const token = { jti: 'j1', sid: 's1', sub: 'u1', issuedAtMs: clock.now() - 1000 };
    expect(await list.isRevoked(token)).toBe(false);
    await list.revokeUserBefore('u1', clock.now() - 2000, 60);
    expect(await list.isRevoked(token)).toBe(false); // issued after the cut-off
    await list.revokeUserBefore('u1', clock.now() - 1000, 60);
    expect(await list.isRevoked(token)).toBe('user'); // the cut-off is inclusive
    await list.revokeSession('s1', 60);
    expect(await list.isRevoked(token)).toBe('session');
    await list.revokeToken('j1', clock.now() + 60_000);
    expect(await list.isRevoked(token)).toBe('token');
    // Only the parts a token has are read: a token without a session is not covered by s1.
    expect(await list.isRevoked({ jti: 'j2', sub: 'u2' })).toBe(false);
    expect(await list.isRevoked({ sid: 's1' })).toBe('session');
    // No issue time: covered by a user cut-off (fail closed).
    expect(await list.isRevoked({ sub: 'u1' })).toBe('user');
  });
});
