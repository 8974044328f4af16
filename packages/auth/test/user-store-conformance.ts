import type { ManualClock } from '@provisioning/core';
import { createManualClock } from '@provisioning/core';
import { beforeEach, describe, expect, it } from 'vitest';
import type { UserStore } from '../src/users.js';
import { expectAuthError, T0 } from './helpers.js';

/** A user store driver under test. */
export interface UserStoreDriver {
  readonly name: string;
  /** Opens an empty store. */
  open(clock: ManualClock): Promise<UserStore>;
}

/** The conformance suite every {@link UserStore} implementation runs. */
export function describeUserStore(driver: UserStoreDriver): void {
  describe(`UserStore conformance: ${driver.name}`, () => {
    let clock: ManualClock;
    let users: UserStore;
    beforeEach(async () => {
      clock = createManualClock(T0);
      users = await driver.open(clock);
    });

    it('creates, finds by id and by normalised username, round-tripping every field', async () => {
      const created = await users.create({
        id: 'u1',
        username: '  Ada@Example.COM ',
        email: 'ada@example.com',
        passwordHash: '$argon2id$x',
        roles: ['Admin', 'Viewer'],
        teams: ['sre'],
        mfaEnabled: true,
      });
      expect(created.username).toBe('ada@example.com');
      const byId = await users.findById('u1');
      expect(byId).toEqual(created);
      expect(byId?.createdAt).toEqual(T0);
      expect(await users.findByUsername('ADA@example.com')).toEqual(created);
      expect(await users.findByUsername('nobody')).toBeUndefined();
      expect(await users.findById('nope')).toBeUndefined();
    });

    it('refuses a duplicate username or id', async () => {
      await users.create({ id: 'u1', username: 'ada' });
      await expectAuthError(users.create({ id: 'u2', username: 'ADA' }), 'ERR_AUTH_USER_EXISTS');
      await expectAuthError(users.create({ id: 'u1', username: 'bob' }), 'ERR_AUTH_USER_EXISTS');
      await expectAuthError(users.create({ username: 'has space' }), 'ERR_AUTH_INVALID_INPUT');
    });

    it('defaults: generated id, no roles, enabled, no MFA', async () => {
      const u = await users.create({ username: 'bob' });
      expect(u).toMatchObject({
        roles: [],
        teams: [],
        disabled: false,
        mfaEnabled: false,
        email: undefined,
        passwordHash: undefined,
      });
      expect(u.id).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('updates fields and the update time, and clears nullable fields', async () => {
      await users.create({ id: 'u1', username: 'ada', email: 'a@x', passwordHash: 'h1' });
      clock.advance(5000);
      const next = await users.update('u1', { passwordHash: 'h2', roles: ['Operator'], disabled: true, email: null });
      expect(next).toMatchObject({ passwordHash: 'h2', roles: ['Operator'], disabled: true, email: undefined });
      expect(next.updatedAt.getTime()).toBe(T0.getTime() + 5000);
      expect(await users.findById('u1')).toEqual(next);
      await expectAuthError(users.update('missing', { disabled: true }), 'ERR_AUTH_USER_NOT_FOUND');
    });

    it('deletes and lists in id order with pagination', async () => {
      for (const id of ['c', 'a', 'b', 'd']) await users.create({ id, username: `user-${id}` });
      expect((await users.list()).map((u) => u.id)).toEqual(['a', 'b', 'c', 'd']);
      expect((await users.list({ limit: 2, after: 'a' })).map((u) => u.id)).toEqual(['b', 'c']);
      expect(await users.delete('b')).toBe(true);
      expect(await users.delete('b')).toBe(false);
      expect(await users.findByUsername('user-b')).toBeUndefined();
      // The username is free again.
      await users.create({ id: 'b2', username: 'user-b' });
    });
  });
}
