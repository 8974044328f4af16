// Verifications per second: TOTP with replay protection (and the attempt
// counter) through the MFA service on the memory and SQLite stores, beside
// otplib's raw verify; and WebAuthn assertion verification, ours (challenge
// consumed, counter compare-and-set) beside @simplewebauthn/server's raw verify.
// One awaited verification at a time, as a request handler sees it.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base32 } from '@otplib/plugin-base32-scure';
import { crypto as nodeCrypto } from '@otplib/plugin-crypto-node';
import { verifySync as totpVerifySync } from '@otplib/totp';
import { createManualClock, memoryStore } from '@provisioning/core';
import { sqliteDatabase, sqliteStore } from '@provisioning/core/sqlite';
import { verifyAuthenticationResponse } from '@simplewebauthn/server';
import { verifySync } from 'otplib';
import { Bench } from 'tinybench';
import { localAesGcmEncrypter } from '../src/encrypter.js';
import type { MfaService } from '../src/service.js';
import { createMfaService } from '../src/service.js';
import { sqlMfaStore } from '../src/sql.js';
import { memoryMfaStore } from '../src/stores/memory.js';
import { createSoftwareAuthenticator } from '../src/testing.js';
import { decodeBase32, generateTotp, matchTotp } from '../src/totp.js';

const dir = mkdtempSync(join(tmpdir(), 'mfa-bench-'));
const rp = { id: 'example.com', name: 'Bench', origins: ['https://cc.example.com'] };
const encrypter = localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] });
const T0 = Date.UTC(2026, 0, 1);
const STEPS = 400_000;

interface Row {
  name: string;
  hz: number;
  p99: number;
}
const rows: Row[] = [];
const record = (bench: Bench): void => {
  for (const t of bench.tasks) {
    const r = t.result as { throughput?: { mean: number }; latency?: { p99?: number } } | undefined;
    rows.push({ name: t.name, hz: r?.throughput?.mean ?? 0, p99: r?.latency?.p99 ?? 0 });
  }
};

// --- TOTP ---------------------------------------------------------------
async function totpService(kind: 'memory' | 'sqlite') {
  const clock = createManualClock(T0);
  let store = memoryMfaStore();
  let kv = memoryStore({ clock });
  if (kind === 'sqlite') {
    const database = sqliteDatabase({ filename: join(dir, 'bench.db') });
    store = await sqlMfaStore({ database });
    kv = await sqliteStore({ database, clock });
  }
  const mfa = createMfaService({ store, kv, encrypter, rp, clock });
  const e = await mfa.beginTotpEnrollment('bench-user', { accountName: 'bench' });
  const secret = decodeBase32(e.secret);
  await mfa.confirmTotpEnrollment('bench-user', e.deviceId, generateTotp({ secret, atMs: clock.now() }));
  // Every verification uses a fresh step (a new, valid, never-used code):
  // codes are computed before the timer so only verification is measured.
  const codes = Array.from({ length: STEPS }, (_, i) => generateTotp({ secret, atMs: T0 + (i + 1) * 30_000 }));
  let i = 0;
  return {
    mfa,
    secret,
    run: async (m: MfaService) => {
      i += 1;
      clock.set(T0 + i * 30_000);
      await m.verifyTotp('bench-user', codes[i - 1] as string);
    },
  };
}

const mem = await totpService('memory');
const sq = await totpService('sqlite');
const rawSecret = mem.secret;
const rawCodes = Array.from({ length: 1000 }, (_, i) => generateTotp({ secret: rawSecret, atMs: T0 + i * 30_000 }));
let r = 0;
const totp = new Bench({ time: 2000, warmupTime: 300 });
totp
  .add('otplib verifySync (raw, ±1 step, no replay protection)', () => {
    const i = r++ % 1000;
    const res = verifySync({
      secret: rawSecret,
      token: rawCodes[i] as string,
      epoch: (T0 + i * 30_000) / 1000,
      epochTolerance: 30,
      crypto: nodeCrypto,
    });
    if (!res.valid) throw new Error('bench code invalid');
  })
  .add('@otplib/totp verifySync (raw, ±1 step)', () => {
    const i = r++ % 1000;
    const res = totpVerifySync({
      secret: rawSecret,
      token: rawCodes[i] as string,
      epoch: (T0 + i * 30_000) / 1000,
      epochTolerance: 30,
      crypto: nodeCrypto,
      base32,
    });
    if (!res.valid) throw new Error('bench code invalid');
  })
  .add('matchTotp (ours, pure, no store)', () => {
    const i = r++ % 1000;
    if (matchTotp({ secret: rawSecret, code: rawCodes[i] as string, atMs: T0 + i * 30_000 }) === undefined) {
      throw new Error('bench code invalid');
    }
  })
  .add('mfa.verifyTotp, memory stores (decrypt + replay + attempts)', () => mem.run(mem.mfa))
  .add('mfa.verifyTotp, SQLite stores (decrypt + replay + attempts)', () => sq.run(sq.mfa));
// The narrow measure: the HMAC check plus the atomic replay marker, nothing else.
const replayKvs = { memory: memoryStore(), sqlite: await sqliteStore({ filename: join(dir, 'replay.db') }) };
for (const [name, kv] of Object.entries(replayKvs)) {
  let k = 0;
  totp.add(`matchTotp + kv.setIfAbsent replay marker only, ${name}`, async () => {
    const i = k++;
    const at = T0 + (i % 1000) * 30_000;
    const step = matchTotp({ secret: rawSecret, code: rawCodes[i % 1000] as string, atMs: at });
    if (step === undefined || !(await kv.setIfAbsent(`used:${i}:${step}`, '1', { ttlSeconds: 120 }))) {
      throw new Error('bench replay check failed');
    }
  });
}
// The store writes of one verification alone (attempt reserve, replay marker,
// attempt reset) on the same SQLite driver: the floor the service sits on.
const floorKv = await sqliteStore({ filename: join(dir, 'floor.db') });
let f = 0;
totp.add('reference: SQLite kv increment + setIfAbsent + delete only', async () => {
  f += 1;
  await floorKv.increment('attempts:u', { ttlSeconds: 300 });
  await floorKv.setIfAbsent(`used:${f}`, '1', { ttlSeconds: 120 });
  await floorKv.delete('attempts:u');
});
await totp.run();
record(totp);

// --- WebAuthn -----------------------------------------------------------
const wa = createMfaService({ store: memoryMfaStore(), kv: memoryStore(), encrypter, rp });
const key = createSoftwareAuthenticator({ origin: rp.origins[0] as string });
const reg = await wa.beginWebAuthnRegistration('wa-user', { userName: 'bench' });
await wa.finishWebAuthnRegistration('wa-user', key.register(reg));
// Precomputed sign-ins (challenge issued and signed before the timer).
const N = 6000;
const pending: unknown[] = [];
for (let i = 0; i < N; i++) {
  pending.push(key.authenticate(await wa.beginWebAuthnAuthentication({ userId: 'wa-user' })));
}
// The raw peer: one fixed assertion verified again and again against a credential at counter 0.
const raw = await (async () => {
  const s = memoryMfaStore();
  const svc = createMfaService({ store: s, kv: memoryStore(), encrypter, rp });
  const k = createSoftwareAuthenticator({ origin: rp.origins[0] as string });
  await svc.finishWebAuthnRegistration('x', k.register(await svc.beginWebAuthnRegistration('x', { userName: 'x' })));
  const options = await svc.beginWebAuthnAuthentication({ userId: 'x' });
  const cred = (await s.listDevices('x'))[0]?.webauthn;
  return {
    response: k.authenticate(options),
    challenge: options.challenge,
    id: cred?.credentialId as string,
    publicKey: new Uint8Array(Buffer.from(cred?.publicKey as string, 'base64url')),
  };
})();
let w = 0;
const webauthn = new Bench({ time: 0, iterations: N - 500, warmupIterations: 200 });
webauthn
  .add('@simplewebauthn/server verifyAuthenticationResponse (raw)', async () => {
    const res = await verifyAuthenticationResponse({
      response: raw.response,
      expectedChallenge: raw.challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      credential: { id: raw.id, publicKey: raw.publicKey, counter: 0 },
      requireUserVerification: false,
    });
    if (!res.verified) throw new Error('bench assertion invalid');
  })
  .add('mfa.finishWebAuthnAuthentication (challenge consume + counter CAS), memory', async () => {
    await wa.finishWebAuthnAuthentication(pending[w++], { userId: 'wa-user' });
  });
await webauthn.run();
record(webauthn);

const base = (name: string): number => rows.find((x) => x.name.startsWith(name))?.hz ?? 1;
const otplibHz = base('otplib verifySync');
const rawWaHz = base('@simplewebauthn');
console.log('verifications per second, one at a time (higher is better); p99 in microseconds');
console.table(
  rows.map((x) => ({
    task: x.name,
    'ops/s': Math.round(x.hz).toLocaleString('en-US'),
    'p99 µs': Math.round(x.p99 * 1000).toLocaleString('en-US'),
    'vs peer': `${(x.hz / (x.name.includes('WebAuthn') || x.name.includes('simplewebauthn') ? rawWaHz : otplibHz)).toFixed(2)}x`,
  })),
);
rmSync(dir, { recursive: true, force: true });
