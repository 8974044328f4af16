import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, postgresBinDir, tempDir } from '@provisioning/testing';

/**
 * A PostgreSQL server that checks passwords (SCRAM-SHA-256 over TCP; the
 * admin connects through the Unix socket with trust). The shared integration
 * server trusts every TCP login, which would hide a wrong password and
 * ignore VALID UNTIL (it only applies to password authentication).
 */
export async function startScramPostgres(): Promise<{
  adminSocketDir: string;
  port: number;
  logFile: string;
  stop(): void;
}> {
  const bin = postgresBinDir();
  const port = await freePort();
  const dir = tempDir('provisioning-pg-scram-');
  const data = join(dir.path, 'data');
  const root = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]): void => {
    const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args];
    execFileSync(file as string, argv as string[], { stdio: 'pipe' });
  };
  if (root) {
    const out = execFileSync('id', ['postgres'], { encoding: 'utf8' });
    chownSync(dir.path, Number(/uid=(\d+)/.exec(out)?.[1]), Number(/gid=(\d+)/.exec(out)?.[1]));
    chmodSync(dir.path, 0o700);
  }
  run('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '--no-sync',
    '-E',
    'UTF8',
    '--locale=C',
  ]);
  const hba = ['local all all trust', 'host all all 127.0.0.1/32 scram-sha-256', ''].join('\n');
  writeFileSync(join(data, 'pg_hba.conf'), hba);
  run('pg_ctl', [
    '-D',
    data,
    '-o',
    `-p ${port} -k ${dir.path} -c listen_addresses=127.0.0.1 -c fsync=off -c log_statement=all`,
    '-l',
    join(dir.path, 'log'),
    '-w',
    'start',
  ]);
  return {
    adminSocketDir: dir.path,
    logFile: join(dir.path, 'log'),
    port,
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        dir.remove();
      }
    },
  };
}
