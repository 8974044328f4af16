// SSH certificates issued per second, each one a fresh Ed25519 key pair, a
// CA signature and a persisted lease (what a platform does per login), one
// awaited issuance at a time. Ours on the memory and SQLite lease stores
// (node:crypto and @noble/ed25519 engines) against what a shell-script
// platform does: spawning `ssh-keygen` to make the key pair and
// `ssh-keygen -s` to sign, per certificate. Then CPU time per issuance in
// alternating rounds (throughput per core), beside the floor: OpenSSL's key
// generation and signature alone, which every issuance needs.

import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sqliteDatabase } from '@provisioning/core/sqlite';
import { announceTasks, benchFigures, cpuMicrosPerCall, formatOps, machineLine, tempDir } from '@provisioning/testing';
import { Bench } from 'tinybench';
import { createLeaseManager, type LeaseStore, memoryLeaseStore } from '../src/index.js';
import { sqlLeaseStore } from '../src/sql.js';
import { createSshCertificateAuthority, generateSshKeyPair, nobleEd25519, sshCertificateProvider } from '../src/ssh.js';

const dir = tempDir('secrets-bench-');
const caPair = generateSshKeyPair({ comment: 'bench-ca' });
const ca = createSshCertificateAuthority({ privateKey: caPair.privateKey });
const caFile = join(dir.path, 'ca');
execFileSync('sh', ['-c', `umask 077; cat > ${caFile}`], { input: caPair.privateKey });

function issuer(store: LeaseStore, engine?: typeof nobleEd25519) {
  const certs = sshCertificateProvider({
    ca: engine ? createSshCertificateAuthority({ privateKey: caPair, engine }) : ca,
    ...(engine ? { engine } : {}),
  });
  const leases = createLeaseManager({ store, providers: [certs] });
  return async () => {
    const { secret } = await leases.issue(certs, { principals: ['deploy'] }, { owner: 'bench', ttlSeconds: 900 });
    // The caller needs the private key in OpenSSH format: include its formatting.
    if (secret.keyPair?.privateKey.length === 0) throw new Error('no key');
  };
}

let n = 0;
const sqlite = await sqlLeaseStore({
  database: sqliteDatabase({ filename: join(dir.path, 'leases.db') }),
  closeDatabase: true,
});
const memory = issuer(memoryLeaseStore());
const onSqlite = issuer(sqlite);
const bench = new Bench({ time: 3000, warmupTime: 300 });
bench
  .add('ours, memory lease store', memory)
  .add('ours, SQLite lease store', onSqlite)
  .add('ours, memory, @noble/ed25519 engine', issuer(memoryLeaseStore(), nobleEd25519))
  .add('ssh-keygen (key pair) + ssh-keygen -s, spawned', () => {
    const key = join(dir.path, `k${n++}`);
    // stdin closed: ssh-keygen never waits for an answer (it asks before overwriting a file).
    const a = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', key], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10_000,
    });
    const b = spawnSync(
      'ssh-keygen',
      ['-q', '-s', caFile, '-I', `id${n}`, '-n', 'deploy', '-V', '-1m:+15m', `${key}.pub`],
      { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 },
    );
    if (a.status !== 0 || b.status !== 0) throw new Error(`ssh-keygen failed: ${a.stderr}${b.stderr}`);
    readFileSync(`${key}-cert.pub`, 'utf8');
  });
await announceTasks(bench).run();

const figures = benchFigures(bench);
const peer = figures.find((f) => f.name.startsWith('ssh-keygen'))?.opsPerSecond ?? Number.NaN;
const targets: Record<string, number> = { 'ours, memory lease store': 5000, 'ours, SQLite lease store': 2000 };
console.log(machineLine());
console.log('SSH certificates issued per second (key pair + signature + lease persisted), one at a time');
console.table(
  Object.fromEntries(
    figures.map((f) => [
      f.name,
      {
        'certs/s': formatOps(f),
        'p99 ms': (f.p99Us / 1000).toFixed(3),
        'x ssh-keygen': (f.opsPerSecond / peer).toFixed(1),
        target: targets[f.name] ? `>= ${targets[f.name]}` : '',
      },
    ]),
  ),
);

// Per core. The floor is the cryptography an issuance cannot skip: a fresh
// key pair (exported, as ours does) and one Ed25519 signature of a
// certificate-sized message.
const caKey = generateKeyPairSync('ed25519').privateKey;
const message = Buffer.alloc(300, 7);
const cpu = await cpuMicrosPerCall(
  {
    floor: async () => {
      // Both keys encoded by the keygen job, as ours does (exporting afterwards can deadlock Node 20).
      generateKeyPairSync('ed25519', {
        privateKeyEncoding: { format: 'jwk' },
        publicKeyEncoding: { format: 'jwk' },
      } as never);
      sign(null, message, caKey);
    },
    memory,
    sqlite: onSqlite,
  },
  { rounds: 9, perRound: 1000 },
);
console.log('CPU time per certificate (median of alternating rounds), and what it means per core');
console.table({
  'OpenSSL key pair + signature alone (floor)': row(cpu.floor as number),
  'ours, memory lease store (target >= 5,000/s)': row(cpu.memory as number),
  'ours, SQLite lease store (target >= 2,000/s)': row(cpu.sqlite as number),
});
await sqlite.close();
dir.remove();

function row(us: number) {
  return {
    'CPU µs': us.toFixed(1),
    'per core /s': Math.round(1e6 / us).toLocaleString('en-US'),
    'x floor': (us / (cpu.floor as number)).toFixed(2),
  };
}
