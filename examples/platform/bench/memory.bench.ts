/**
 * Resident memory of the whole platform (five services, one process): idle
 * after start, and under load against a protected route (JWT verification,
 * a Cedar decision and two audit events per request).
 *
 *   node --import tsx examples/platform/bench/memory.bench.ts [start|source] …
 *
 * - `start`: what `npm start` runs (scripts/start.sh): the platform bundled
 *   from its sources by esbuild, run by plain node.
 * - `source`: the sources under tsx, as the tests run them (for comparison).
 *
 * Knobs: BENCH_SECONDS (20), BENCH_CONNECTIONS (10). RSS is read from
 * /proc/<pid>/status every 200 ms; heap and external memory from the
 * platform's own /metrics. Prints one line per mode for the README's table.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const PASSWORD = 'correct horse battery staple';

const rssMiB = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
};

async function metrics(url: string, token: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN) / 2 ** 20;
  return {
    heapUsed: value('nodejs_heap_size_used_bytes'),
    heapTotal: value('nodejs_heap_size_total_bytes'),
    external: value('nodejs_external_memory_bytes'),
  };
}

function command(mode: string): [string, string[]] {
  if (mode === 'source')
    return [process.execPath, ['--conditions=@provisioning/source', '--import', 'tsx', 'src/main.ts']];
  return ['sh', ['scripts/start.sh']];
}

async function run(mode: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'platform-memory-'));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE: process.execPath,
    PROVISIONING_DATA_DIR: join(dir, 'data'),
    PROVISIONING_RATE_LIMIT: '1000000',
    LOG_LEVEL: 'warn',
  };
  for (const s of ['ORCHESTRATOR', 'CONTROL_CENTER', 'KMS_SERVICE', 'API_SERVER', 'EXTENSION_REGISTRY']) {
    env[`PROVISIONING_${s}_PORT`] = '0';
  }
  const [exe, args] = command(mode);
  const child: ChildProcess = spawn(exe, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', () => out.includes('Press Ctrl-C') && resolve());
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const url = (name: string) => new RegExp(`${name}\\s+(http://\\S+)`).exec(out)?.[1] as string;
    const orchestrator = url('orchestrator');
    const cc = url('control-center');
    const readyMs = Number(/ready in (\d+) ms/.exec(out)?.[1]);
    const secret = /"secret":"([A-Za-z0-9_-]+)"/.exec(out)?.[1];
    const post = (path: string, body: unknown) =>
      fetch(`${cc}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await post('/auth/bootstrap', { secret, username: 'root', password: PASSWORD });
    const login = (await (await post('/auth/login', { username: 'root', password: PASSWORD })).json()) as {
      data: { access_token: string };
    };
    const pid = child.pid as number;
    await new Promise((r) => setTimeout(r, 5000));
    const idle = rssMiB(pid);
    const idleMetrics = await metrics(orchestrator, login.data.access_token);

    let peak = idle;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMiB(pid));
    }, 200);
    const result = await autocannon({
      url: `${orchestrator}/tasks`,
      connections: CONNECTIONS,
      duration: SECONDS,
      headers: { authorization: `Bearer ${login.data.access_token}` },
    });
    clearInterval(sampler);
    const after = rssMiB(pid);
    const afterMetrics = await metrics(orchestrator, login.data.access_token);
    const load = loadavg()[0]?.toFixed(1);
    console.log(
      `${mode}: ready ${readyMs} ms; idle RSS ${idle.toFixed(0)} MiB (heap used ${idleMetrics.heapUsed?.toFixed(0)} of ${idleMetrics.heapTotal?.toFixed(0)}, external ${idleMetrics.external?.toFixed(0)}); ` +
        `under load peak ${peak.toFixed(0)} MiB, after ${after.toFixed(0)} MiB (heap used ${afterMetrics.heapUsed?.toFixed(0)} of ${afterMetrics.heapTotal?.toFixed(0)}); ${result.requests.average.toFixed(0)} req/s, ` +
        `${result.non2xx} non-2xx, ${result.errors} errors; ${CONNECTIONS} connections, ${SECONDS} s; load average ${load}`,
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const modes = process.argv.slice(2).filter((a) => a === 'start' || a === 'source');
for (const mode of modes.length === 0 ? ['start'] : modes) await run(mode);
