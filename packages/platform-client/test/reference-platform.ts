import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@provisioning/testing';
import type { ServiceName } from '../src/api.js';

const MAIN = fileURLToPath(new URL('../../../examples/platform/src/main.ts', import.meta.url));
// tsx resolves from the working directory: the repository root (it has no `config/`, so no stray TOML is read).
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** The reference servers of `examples/platform`, running in a child process. */
export interface ReferencePlatform {
  readonly urls: Readonly<Record<ServiceName, string>>;
  /** The one-time secret for `POST /auth/bootstrap` that the platform printed on its first start. */
  readonly bootstrapSecret: string;
  /** The environment that points the CLI at these servers. */
  readonly cliEnv: Readonly<Record<string, string>>;
  /** Everything the process wrote (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

// The names `main.ts` prints before each URL.
const PRINTED: Readonly<Record<string, ServiceName>> = {
  orchestrator: 'orchestrator',
  'control-center': 'controlCenter',
  'kms-service': 'kms',
  'api-server': 'apiServer',
  'extension-registry': 'extensionRegistry',
};

/**
 * Starts the five reference servers exactly as `npm start` does (`main.ts`,
 * from source), on free loopback ports (port 0) with a temporary data
 * directory, and waits for the ready lines. `env` adds configuration (e.g. the OCI registry).
 */
export async function startReferencePlatform(env: Record<string, string> = {}): Promise<ReferencePlatform> {
  const dir = tempDir('provisioning-platform-');
  const child: ChildProcess = spawn(process.execPath, ['--conditions=@provisioning/source', '--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir.path,
      PROVISIONING_DATA_DIR: `${dir.path}/data`,
      PROVISIONING_ORCHESTRATOR_PORT: '0',
      PROVISIONING_CONTROL_CENTER_PORT: '0',
      PROVISIONING_KMS_SERVICE_PORT: '0',
      PROVISIONING_API_SERVER_PORT: '0',
      PROVISIONING_EXTENSION_REGISTRY_PORT: '0',
      LOG_LEVEL: 'silent',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    dir.remove();
  };
  try {
    const deadline = Date.now() + 60_000;
    while (!/Press Ctrl-C to stop\./.test(output)) {
      if (child.exitCode !== null) throw new Error(`the platform exited with ${child.exitCode}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`the platform did not start in 60 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const urls = {} as Record<ServiceName, string>;
    for (const [, printed, url] of output.matchAll(/^ {2}([a-z-]+)\s+(http:\/\/127\.0\.0\.1:\d+)$/gm)) {
      const service = PRINTED[printed as string];
      if (service !== undefined) urls[service] = url as string;
    }
    const secret = /"secret":"([^"]+)"/.exec(output)?.[1];
    if (Object.keys(urls).length !== 5 || secret === undefined) {
      throw new Error(`unexpected start-up output:\n${output}`);
    }
    return {
      urls,
      bootstrapSecret: secret,
      cliEnv: {
        PROVISIONING_ORCHESTRATOR_URL: urls.orchestrator,
        PROVISIONING_CONTROL_CENTER_URL: urls.controlCenter,
        PROVISIONING_KMS_URL: urls.kms,
        PROVISIONING_API_SERVER_URL: urls.apiServer,
        PROVISIONING_EXTENSION_REGISTRY_URL: urls.extensionRegistry,
      },
      output: () => output,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
