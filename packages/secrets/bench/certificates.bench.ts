// SSH certificates issued per second, each one a fresh Ed25519 key pair, a
// CA signature and a persisted lease (what a platform does per login), one
// awaited issuance at a time. Ours on the memory and SQLite lease stores
// (node:crypto and @noble/ed25519 engines) against what a shell-script
// platform does: spawning `ssh-keygen` to make the key pair and
// `ssh-keygen -s` to sign, per certificate.

import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sqliteDatabase } from '@provisioning/core/sqlite';
import { tempDir } from '@provisioning/testing';
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
const bench = new Bench({ time: 3000, warmupTime: 300 });
bench
  .add('ours, memory lease store', issuer(memoryLeaseStore()))
  .add('ours, SQLite lease store', issuer(sqlite))
  .add('ours, memory, @noble/ed25519 engine', issuer(memoryLeaseStore(), nobleEd25519))
  .add('ssh-keygen (key pair) + ssh-keygen -s, spawned', () => {
    const key = join(dir.path, `k${n++}`);
    const a = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', key]);
    const b = spawnSync('ssh-keygen', [
      '-q',
      '-s',
      caFile,
      '-I',
      `id${n}`,
      '-n',
      'deploy',
      '-V',
      '-1m:+15m',
      `${key}.pub`,
    ]);
    if (a.status !== 0 || b.status !== 0) throw new Error(`ssh-keygen failed: ${b.stderr}`);
    readFileSync(`${key}-cert.pub`, 'utf8');
  });
await bench.run();

const hz = (name: string): number => {
  const t = bench.tasks.find((x) => x.name === name);
  return t?.result && 'throughput' in t.result ? (t.result.throughput as { mean: number }).mean : 0;
};
const p99 = (name: string): number => {
  const t = bench.tasks.find((x) => x.name === name);
  return t?.result && 'latency' in t.result ? ((t.result.latency as { p99?: number }).p99 ?? 0) : 0;
};
const peer = hz('ssh-keygen (key pair) + ssh-keygen -s, spawned');
const targets: Record<string, number> = { 'ours, memory lease store': 5000, 'ours, SQLite lease store': 2000 };
console.log('SSH certificates issued per second (key pair + signature + lease persisted), one at a time');
console.table(
  Object.fromEntries(
    bench.tasks.map((t) => [
      t.name,
      {
        'certs/s': Math.round(hz(t.name)).toLocaleString('en-US'),
        'p99 ms': p99(t.name).toFixed(3),
        'x ssh-keygen': (hz(t.name) / peer).toFixed(1),
        target: targets[t.name]
          ? `>= ${targets[t.name]}: ${hz(t.name) >= (targets[t.name] as number) ? 'met' : 'MISSED'}`
          : '',
      },
    ]),
  ),
);
await sqlite.close();
dir.remove();
