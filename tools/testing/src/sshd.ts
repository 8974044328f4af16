import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, MissingServerError, tempDir } from './servers.js';

const SSHD = '/usr/sbin/sshd';

/** A throwaway sshd on 127.0.0.1 for the tests. */
export interface TestSshd {
  readonly port: number;
  readonly dir: string;
  /** The file sshd reads as `TrustedUserCAKeys` (re-read at every login). */
  readonly trustedCaFile: string;
  /** The file sshd reads as `AuthorizedKeysFile` (for every user, unless `authorizedKeysFile` was given). */
  readonly authorizedKeysFile: string;
  /** sshd's log so far (stderr, `-e`). */
  log(): string;
  /**
   * Logs in as `user` by spawning the real `ssh` client with `privateKey`
   * (and `certificate` if given) and runs `command`. Resolves the exit code
   * and output.
   */
  login(options: {
    user: string;
    privateKey: string;
    certificate?: string;
    command?: string;
    /** A known_hosts file to check the host against strictly (default: no host checking). */
    knownHosts?: string;
  }): Promise<{ code: number | null; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

function requireProgram(path: string, pkg: string): void {
  if (!existsSync(path)) {
    throw new MissingServerError(`${path} not found: install Debian's ${pkg} (apt-get install -y ${pkg})`);
  }
}

/**
 * Starts `/usr/sbin/sshd -D -e -f <config>` with its own host key, trusting
 * the CA keys in `trustedCaFile`, with one authorized_keys file for all
 * users, `StrictModes no` and `UsePAM no`. Fails (never skips) if OpenSSH is
 * missing.
 */
export async function startSshd(
  options: {
    /** Signs the generated host public key: sshd then presents this host certificate (`HostCertificate`). */
    hostCertificate?: (hostPublicKey: string) => string;
    /** sshd's `AuthorizedKeysFile` (its `%u` tokens allowed) instead of one empty file for every user. */
    authorizedKeysFile?: string;
  } = {},
): Promise<TestSshd> {
  requireProgram(SSHD, 'openssh-server');
  requireProgram('/usr/bin/ssh', 'openssh-client');
  requireProgram('/usr/bin/ssh-keygen', 'openssh-client');
  // sshd's privilege separation directory; missing in fresh containers.
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const tmp = tempDir('provisioning-sshd-');
  const dir = tmp.path;
  const port = await freePort();
  const hostKey = join(dir, 'host_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const hostCertLines: string[] = [];
  if (options.hostCertificate !== undefined) {
    const certFile = `${hostKey}-cert.pub`;
    writeFileSync(certFile, `${options.hostCertificate(readFileSync(`${hostKey}.pub`, 'utf8').trim())}\n`);
    hostCertLines.push(`HostCertificate ${certFile}`);
  }
  const trustedCaFile = join(dir, 'trusted_ca.pub');
  const authorizedKeysFile = options.authorizedKeysFile ?? join(dir, 'authorized_keys');
  writeFileSync(trustedCaFile, '');
  if (options.authorizedKeysFile === undefined) writeFileSync(authorizedKeysFile, '', { mode: 0o600 });
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      ...hostCertLines,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `TrustedUserCAKeys ${trustedCaFile}`,
      `AuthorizedKeysFile ${authorizedKeysFile}`,
      'AuthorizedPrincipalsFile none',
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  let log = '';
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    log += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start:\n${log}`)), 10_000);
    const check = (): void => {
      if (/Server listening on 127\.0\.0\.1/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited with ${code}:\n${log}`));
    });
  });

  let n = 0;
  return {
    port,
    dir,
    trustedCaFile,
    authorizedKeysFile,
    log: () => log,
    async login({ user, privateKey, certificate, command = 'id -un', knownHosts }) {
      const id = n++;
      const keyFile = join(dir, `client_${id}`);
      writeFileSync(keyFile, privateKey, { mode: 0o600 });
      const args = [
        '-F',
        '/dev/null',
        '-i',
        keyFile,
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'IdentityAgent=none',
        '-o',
        'BatchMode=yes',
        '-o',
        knownHosts === undefined ? 'StrictHostKeyChecking=no' : 'StrictHostKeyChecking=yes',
        '-o',
        `UserKnownHostsFile=${knownHosts ?? '/dev/null'}`,
        '-o',
        'ConnectTimeout=10',
        '-o',
        'LogLevel=ERROR',
        '-p',
        String(port),
      ];
      if (certificate !== undefined) {
        const certFile = join(dir, `client_${id}-cert.pub`);
        writeFileSync(certFile, `${certificate}\n`);
        args.push('-o', `CertificateFile=${certFile}`);
      }
      args.push(`${user}@127.0.0.1`, command);
      return new Promise((resolve, reject) => {
        const ssh = spawn('/usr/bin/ssh', args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        ssh.stdout.setEncoding('utf8').on('data', (c: string) => {
          stdout += c;
        });
        ssh.stderr.setEncoding('utf8').on('data', (c: string) => {
          stderr += c;
        });
        ssh.once('error', reject);
        ssh.once('close', (code) => resolve({ code, stdout, stderr }));
      });
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      tmp.remove();
    },
  };
}
