import { memoryStore } from '@provisioning/core';
import { describe, expect, it, vi } from 'vitest';
import { sampleInput } from '../test/helpers.js';
import { ed25519Signer, generateCheckpointKeyPair } from './chain.js';
import { createAuditLog } from './log.js';
import {
  createPiiPolicy,
  generalizeValue,
  hmacPseudonymizer,
  maskValue,
  subjectKeyPseudonymizer,
  truncateIp,
} from './pii.js';
import { memoryAuditStore } from './sinks/memory.js';

const secret = Buffer.alloc(32, 7);
const signer = ed25519Signer({ privateKey: generateCheckpointKeyPair().privateKey });

describe('masking and generalising', () => {
  it('truncates IPv4 to /24 and IPv6 to /48 when masking', () => {
    expect(maskValue('192.0.2.123')).toBe('192.0.2.0');
    expect(maskValue('2001:db8:abcd:12:1:2:3:4')).toBe('2001:db8:abcd::');
    expect(maskValue('::ffff:192.0.2.1')).toBe('::');
    expect(truncateIp('2001:db8::1', 48)).toBe('2001:db8::');
    expect(truncateIp('10.20.30.40', 16)).toBe('10.20.0.0');
  });
  it('masks emails and other strings', () => {
    expect(maskValue('alice@example.com')).toBe('a***@example.com');
    expect(maskValue('Alice Liddell')).toBe('***');
  });
  it('generalises IPs, emails, user agents, times and numbers', () => {
    expect(generalizeValue('192.0.2.9')).toBe('192.0.0.0');
    expect(generalizeValue('2001:db8:1:2::9')).toBe('2001:db8::');
    expect(generalizeValue('bob@corp.example')).toBe('@corp.example');
    expect(generalizeValue('Mozilla/5.0 (X11) Gecko/20100101 Firefox/121.0')).toBe('Firefox');
    expect(generalizeValue('2026-01-01T10:11:12.000Z')).toBe('2026-01-01');
    expect(generalizeValue(4321)).toBe(1000);
  });
});

describe('pseudonymisation', () => {
  it('keyed-hash pseudonyms are stable, secret-dependent, and lookup finds a known value (audit-hash)', () => {
    const p = hmacPseudonymizer({ secret });
    const other = hmacPseudonymizer({ secret: Buffer.alloc(32, 8) });
    expect(p.pseudonymize('alice')).toBe(p.pseudonymize('alice'));
    expect(p.pseudonymize('alice')).not.toBe(p.pseudonymize('bob'));
    expect(p.pseudonymize('alice')).not.toBe(other.pseudonymize('alice'));
    expect(p.lookup('alice')).toBe(p.pseudonymize('alice'));
    expect(p.pseudonymize('alice')).toMatch(/^psn:[A-Za-z0-9_-]{43}$/);
    expect(() => hmacPseudonymizer({ secret: Buffer.alloc(16) })).toThrow(
      expect.objectContaining({ code: 'ERR_AUDIT_INVALID_OPTIONS' }),
    );
  });

  it('applies field policies at write: the stored events hold no raw personal data and the chain verifies', async () => {
    const store = memoryAuditStore();
    const pseudonyms = hmacPseudonymizer({ secret });
    const policy = createPiiPolicy({
      fields: {
        'actor.id': 'pseudonymize',
        'actor.ip': 'mask',
        'actor.userAgent': 'generalize',
        'metadata.email': 'mask',
        'metadata.phone': 'drop',
      },
      pseudonymizer: pseudonyms,
    });
    const log = await createAuditLog({ sinks: [store], transform: policy.apply, signer });
    await log.record(
      sampleInput(1, {
        actor: { id: 'alice', type: 'user', ip: '203.0.113.77', userAgent: 'Mozilla/5.0 Chrome/120.0' },
        metadata: { email: 'alice@example.com', phone: '+44 1234', plan: 'gold' },
      }),
    );
    await log.flush();
    const stored = store.entries[0]?.event;
    expect(stored?.actor).toEqual({
      id: pseudonyms.lookup('alice'),
      type: 'user',
      ip: '203.0.113.0',
      userAgent: 'Chrome',
    });
    expect(stored?.metadata).toEqual({ email: 'a***@example.com', plan: 'gold' });
    expect(JSON.stringify(store.entries)).not.toMatch(/alice@|\+44|203\.0\.113\.77/);
    // An investigator with the key finds alice's events by her pseudonym.
    expect((await log.query({ actorId: pseudonyms.lookup('alice') })).records).toHaveLength(1);
    expect(await log.verify()).toMatchObject({ ok: true });
    await log.close();
  });

  it('applies field policies at export, leaving the stored events as they are', async () => {
    const store = memoryAuditStore();
    const log = await createAuditLog({ sinks: [store] });
    await log.record(sampleInput(1, { actor: { id: 'alice', type: 'user', ip: '198.51.100.20' } }));
    await log.flush();
    const policy = createPiiPolicy({ fields: { 'actor.ip': 'mask', 'actor.id': 'drop' } });
    let out = '';
    for await (const chunk of log.export({ format: 'jsonl', transform: policy.apply })) out += chunk;
    expect(JSON.parse(out).event.actor).toEqual({ id: '[dropped]', type: 'user', ip: '198.51.100.0' });
    expect(store.entries[0]?.event.actor.ip).toBe('198.51.100.20');
    await log.close();
  });

  it('erasure of a data subject destroys its key: its events become unlinkable and verify() still passes', async () => {
    const keys = memoryStore();
    const subjects = subjectKeyPseudonymizer({ store: keys, secret });
    const store = memoryAuditStore();
    const policy = createPiiPolicy({ fields: { 'actor.id': 'pseudonymize' }, pseudonymizer: subjects });
    const log = await createAuditLog({ sinks: [store], transform: policy.apply, signer });
    for (let i = 0; i < 3; i++) await log.record(sampleInput(i, { actor: { id: 'alice', type: 'user' } }));
    await log.record(sampleInput(9, { actor: { id: 'bob', type: 'user' } }));
    await log.flush();
    const alice = await subjects.lookup('alice');
    expect(alice).toMatch(/^psn:/);
    expect((await log.query({ actorId: alice as string })).records).toHaveLength(3);
    // The key store never holds the raw identifier.
    expect(JSON.stringify(await keys.list('audit:subject:'))).not.toContain('alice');

    expect(await subjects.erase('alice')).toBe(true);
    expect(await subjects.lookup('alice')).toBeUndefined();
    // A fresh pseudonymizer (another instance, no cache) cannot link alice either.
    expect(await subjectKeyPseudonymizer({ store: keys, secret }).lookup('alice')).toBeUndefined();
    expect(await subjects.lookup('bob')).toBe(store.entries[3]?.event.actor.id);
    await log.checkpoint();
    expect(await log.verify()).toMatchObject({ ok: true, count: 4 });
    // New events for the same person get a new, unlinkable pseudonym.
    await log.record(sampleInput(10, { actor: { id: 'alice', type: 'user' } }));
    await log.flush();
    expect(store.entries[4]?.event.actor.id).not.toBe(alice);
    await log.close();
  });

  it('if pseudonymisation fails (key store down), nothing is stored in the clear: ERR_AUDIT_TRANSFORM, signalled', async () => {
    const keys = memoryStore();
    const broken = { ...keys, get: async () => Promise.reject(new Error('connection refused')) } as typeof keys;
    const subjects = subjectKeyPseudonymizer({ store: broken, secret });
    const store = memoryAuditStore();
    const onError = vi.fn();
    const policy = createPiiPolicy({ fields: { 'actor.id': 'pseudonymize' }, pseudonymizer: subjects });
    const log = await createAuditLog({ sinks: [store], transform: policy.apply, onError });
    await expect(
      log.record(sampleInput(1, { actor: { id: 'alice', type: 'user' } }), { durable: true }),
    ).rejects.toMatchObject({
      code: 'ERR_AUDIT_TRANSFORM',
    });
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: 'ERR_AUDIT_TRANSFORM' }));
    expect(store.entries).toHaveLength(0);
    expect(log.stats().lost).toBe(1);
    await log.close();
  });

  it('rejects unknown fields and pseudonymize without a pseudonymizer', () => {
    expect(() => createPiiPolicy({ fields: { 'actor.password': 'mask' } })).toThrow(
      expect.objectContaining({ code: 'ERR_AUDIT_INVALID_OPTIONS' }),
    );
    expect(() => createPiiPolicy({ fields: { 'actor.id': 'pseudonymize' } })).toThrow(
      expect.objectContaining({ code: 'ERR_AUDIT_INVALID_OPTIONS' }),
    );
  });
});
