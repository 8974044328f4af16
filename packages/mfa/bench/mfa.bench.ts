// Verifications per second: TOTP through the MFA service's public
// verifyTotp (device lookup, decryption, code match, one atomic guardedClaim:
// attempt check, replay marker and attempt reset, lastUsedAt) on the memory
// and SQLite stores, without and with cachingSecretEncrypter, beside otplib's
// raw verify; and WebAuthn assertion
// verification, ours (challenge consumed, counter compare-and-set) beside
// @simplewebauthn/server's raw verify. One awaited verification at a time, as
// a request handler sees it; then CPU time per verification in alternating
// rounds (throughput per core, robust to a shared machine's load).

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base32 } from '@otplib/plugin-base32-scure';
import { crypto as nodeCrypto } from '@otplib/plugin-crypto-node';
import { verifySync as totpVerifySync } from '@otplib/totp';
import { createManualClock, memoryStore } from '@provisioning/core';
import { sqliteDatabase, sqliteStore } from '@provisioning/core/sqlite';
import { benchFigures, cpuMicrosPerCall, formatOps, machineLine } from '@provisioning/testing';
import { verifyAuthenticationResponse } from '@simplewebauthn/server';
import { verifySync } from 'otplib';
import { Bench } from 'tinybench';
import { cachingSecretEncrypter } from '../src/caching-encrypter.js';
import { localAesGcmEncrypter } from '../src/encrypter.js';
import { createMfaService } from '../src/service.js';
import { sqlMfaStore } from '../src/sql.js';
import { memoryMfaStore } from '../src/stores/memory.js';
import { createSoftwareAuthenticator } from '../src/testing.js';
import { decodeBase32, generateTotp, matchTotp } from '../src/totp.js';

const dir = mkdtempSync(join(tmpdir(), 'mfa-bench-'));
const rp = { id: 'example.com', name: 'Bench', origins: ['https://cc.example.com'] };
const encrypter = localAesGcmEncrypter({ keys: [{ id: 'k1', key: randomBytes(32) }] });
const T0 = Date.UTC(2026, 0, 1);
const USERS = 1000;
const ROUNDS = 400;

const figures: ReturnType<typeof benchFigures> = [];

// --- TOTP ---------------------------------------------------------------
// USERS users with one TOTP device each verify in turn; after each round the
// clock moves one minute on, so every verification is a fresh, valid code and,
// as for a real user who signs in now and then, also refreshes lastUsedAt
// (written at most once a minute). Codes are computed before the timer.
// With `cached`, the encrypter is wrapped in cachingSecretEncrypter (30 s,
// on the real clock while the service's clock jumps a minute per round): every
// device is verified again within the cache's age, so these rows show the
// best case of the cache, a hit on every verification but the first.
async function totpService(kind: 'memory' | 'sqlite', cached = false) {
  const clock = createManualClock(T0);
  let store = memoryMfaStore();
  let kv = memoryStore({ clock });
  if (kind === 'sqlite') {
    const database = sqliteDatabase({ filename: join(dir, `bench-${cached ? 'cached' : 'plain'}.db`) });
    store = await sqlMfaStore({ database });
    kv = await sqliteStore({ database, clock });
  }
  const mfa = createMfaService({
    store,
    kv,
    encrypter: cached ? cachingSecretEncrypter(encrypter, { maxAgeMs: 30_000 }) : encrypter,
    rp,
    clock,
  });
  const secrets: Uint8Array[] = [];
  for (let u = 0; u < USERS; u++) {
    const e = await mfa.beginTotpEnrollment(`user-${u}`, { accountName: 'bench' });
    const secret = decodeBase32(e.secret);
    await mfa.confirmTotpEnrollment(`user-${u}`, e.deviceId, generateTotp({ secret, atMs: clock.now() }));
    secrets.push(secret);
  }
  const codes = Array.from({ length: ROUNDS }, (_, r) =>
    secrets.map((secret) => generateTotp({ secret, atMs: T0 + (r + 1) * 60_000 })),
  );
  let i = 0;
  return {
    secret: secrets[0] as Uint8Array,
    verify: async (): Promise<void> => {
      const round = Math.floor(i / USERS) + 1;
      if (round > ROUNDS) throw new Error(`the bench ran out of precomputed codes (${ROUNDS * USERS})`);
      const u = i % USERS;
      i += 1;
      clock.set(T0 + round * 60_000);
      await mfa.verifyTotp(`user-${u}`, codes[round - 1]?.[u] as string);
    },
  };
}

const mem = await totpService('memory');
const sq = await totpService('sqlite');
const memCached = await totpService('memory', true);
const sqCached = await totpService('sqlite', true);
const rawSecret = mem.secret;
const rawCodes = Array.from({ length: 1000 }, (_, i) => generateTotp({ secret: rawSecret, atMs: T0 + i * 30_000 }));
let r = 0;
const otplibVerify = (): void => {
  const i = r++ % 1000;
  const res = verifySync({
    secret: rawSecret,
    token: rawCodes[i] as string,
    epoch: (T0 + i * 30_000) / 1000,
    epochTolerance: 30,
    crypto: nodeCrypto,
  });
  if (!res.valid) throw new Error('bench code invalid');
};
const totp = new Bench({ time: 2000, warmupTime: 300 });
totp
  .add('otplib verifySync (raw, ±1 step, no replay protection)', otplibVerify)
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
  .add('mfa.verifyTotp, memory stores (target >= 50,000)', mem.verify)
  .add('mfa.verifyTotp, SQLite stores (target >= 10,000)', sq.verify)
  .add('mfa.verifyTotp, memory stores, cachingSecretEncrypter', memCached.verify)
  .add('mfa.verifyTotp, SQLite stores, cachingSecretEncrypter', sqCached.verify);
await totp.run();
figures.push(...benchFigures(totp));

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
figures.push(...benchFigures(webauthn));

const base = (name: string): number => figures.find((x) => x.name.startsWith(name))?.opsPerSecond ?? Number.NaN;
const otplibHz = base('otplib verifySync');
const rawWaHz = base('@simplewebauthn');
console.log(machineLine());
console.log('verifications per second, one at a time (higher is better); p99 in microseconds');
console.table(
  figures.map((x) => ({
    task: x.name,
    'ops/s': formatOps(x),
    'p99 µs': Math.round(x.p99Us).toLocaleString('en-US'),
    'vs peer': `${(x.opsPerSecond / (x.name.includes('WebAuthn') || x.name.includes('simplewebauthn') ? rawWaHz : otplibHz)).toFixed(2)}x`,
  })),
);

// Per core: CPU time per verification, the three taking turns.
const cpu = await cpuMicrosPerCall(
  {
    otplib: async () => otplibVerify(),
    memory: mem.verify,
    sqlite: sq.verify,
    'memory, cached decryption': memCached.verify,
    'sqlite, cached decryption': sqCached.verify,
  },
  { rounds: 9, perRound: 2000 },
);
console.log('CPU time per verification (median of alternating rounds), and what it means per core');
console.table(
  Object.fromEntries(
    Object.entries(cpu).map(([name, us]) => [
      name === 'otplib' ? 'otplib verifySync (raw peer)' : `mfa.verifyTotp, ${name}`,
      { 'CPU µs': us.toFixed(1), 'per core /s': Math.round(1e6 / us).toLocaleString('en-US') },
    ]),
  ),
);
rmSync(dir, { recursive: true, force: true });
