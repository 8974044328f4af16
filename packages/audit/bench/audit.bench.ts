// Audit log throughput and record() latency, side by side:
//   JSONL with hash chain, SQLite, PostgreSQL (this package)
//   pino writing the same events to a file (peer)
//   raw appends of the same bytes to a file (limit)
//   raw better-sqlite3 inserts of the same rows into the same schema (limit)
// Run: npm run bench -- audit
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  type AuditEventInput,
  type AuditLog,
  createAuditLog,
  ed25519Signer,
  generateCheckpointKeyPair,
  jsonlSink,
} from '@provisioning/audit';
import { postgresAuditStore } from '@provisioning/audit/postgres';
import { sqliteAuditStore } from '@provisioning/audit/sqlite';
import { pooledRandom, systemClock, uuidv7 } from '@provisioning/core';
import { startPostgres, tempDir } from '@provisioning/testing';
import Database from 'better-sqlite3';
import pg from 'pg';
import pino from 'pino';
import { Bench } from 'tinybench';

const loadAtStart = loadavg();
const CHUNK = 256;
const SAMPLE = 8;
let warmingUp = false;
const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 2000);
const signer = ed25519Signer({ privateKey: generateCheckpointKeyPair().privateKey });
const dir = tempDir('audit-bench-');

const input = (n: number): AuditEventInput => ({
  action: n % 5 === 0 ? 'auth.login.failed' : 'authz.allowed',
  outcome: n % 5 === 0 ? 'failure' : 'success',
  actor: {
    id: `user-${n % 1000}`,
    type: 'user',
    roles: ['operator'],
    ip: `198.51.100.${n % 250}`,
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0',
  },
  resource: { type: 'kms_key', id: `key-${n % 50}` },
  requestId: `req-${n}`,
  sessionId: `sess-${n % 300}`,
  policyVersion: 'v42',
  metadata: { route: '/v1/kms/encrypt', method: 'POST' },
});

interface Row {
  name: string;
  events: number;
  seconds: number;
  /** CPU time of this process (every thread: JavaScript, GC, libuv's pool), µs. */
  cpuMicros: number;
  /** CPU time of the database server's processes, µs (PostgreSQL only). */
  serverCpuMicros: number;
  batches: number;
  latencies: number[];
}
const rows: Row[] = [];

/** One benchmark: `call(n)` is measured per event; the run ends with `finish()` (flush), which counts in the rate. */
interface Subject {
  call(n: number): unknown;
  /** Hands everything to the OS (timed). */
  finish(): Promise<void>;
  /** Releases resources (not timed: a final fsync is not part of the rate). */
  dispose?(): Promise<void>;
  /** Group commits so far (an audit log). */
  batches?(): number;
  /** CPU time the subject's server has used so far, µs (an out-of-process database). */
  serverCpuMicros?(): Promise<number>;
}

const ONLY = process.env.BENCH_ONLY;

/**
 * `perTurn`: calls per turn of the event loop. Default: the whole chunk of 256, then one turn.
 * A server records a few events per turn (two per request), so its log sees small batches.
 */
function add(bench: Bench, name: string, open: () => Promise<Subject>, perTurn = CHUNK): void {
  if (ONLY !== undefined && !name.includes(ONLY)) return;
  let subject: Subject;
  const row: Row = { name, events: 0, seconds: 0, cpuMicros: 0, serverCpuMicros: 0, batches: 0, latencies: [] };
  let start = 0n;
  let cpuStart: NodeJS.CpuUsage | undefined;
  let serverStart = 0;
  bench.add(
    name,
    async () => {
      if (start === 0n) {
        serverStart = (await subject.serverCpuMicros?.()) ?? 0;
        cpuStart = process.cpuUsage();
        start = process.hrtime.bigint();
      }
      let last: unknown;
      for (let i = 0; i < CHUNK; i++) {
        // One call in SAMPLE, at random, is timed: two clock reads per call would add their own
        // cost to every rate, and a fixed stride would always time the same place in a chunk.
        if (Math.random() * SAMPLE >= 1) {
          last = subject.call(row.events++);
        } else {
          const t0 = process.hrtime.bigint();
          last = subject.call(row.events++);
          row.latencies.push(Number(process.hrtime.bigint() - t0) / 1000);
        }
        // A server's pattern: a few events, then the rest of the turn (the chunk's last turn is below).
        if (perTurn < CHUNK && (i + 1) % perTurn === 0 && i + 1 < CHUNK) await new Promise((r) => setImmediate(r));
      }
      // Backpressure: when the log's queue is full, record() returns pending promises,
      // admitted in order: waiting for the last one waits for room for all.
      if (last instanceof Promise) await last;
      // Let the writer run, as a server's event loop would between requests.
      await new Promise((r) => setImmediate(r));
    },
    {
      beforeAll: async () => {
        subject = await open();
      },
      afterAll: async () => {
        await subject.finish();
        if (warmingUp) {
          // Not counted: JIT compilation would weigh on whichever subject runs first.
          Object.assign(row, { events: 0, seconds: 0, cpuMicros: 0, serverCpuMicros: 0, batches: 0, latencies: [] });
          start = 0n;
          await subject.dispose?.();
          return;
        }
        row.batches += subject.batches?.() ?? 0;
        row.seconds += Number(process.hrtime.bigint() - start) / 1e9;
        const cpu = process.cpuUsage(cpuStart);
        row.cpuMicros += cpu.user + cpu.system;
        if (subject.serverCpuMicros !== undefined)
          row.serverCpuMicros += (await subject.serverCpuMicros()) - serverStart;
        start = 0n;
        if (!rows.includes(row)) rows.push(row);
        await subject.dispose?.();
      },
    },
  );
}

// The machine is shared: several short rounds, interleaved (A B C … A B C …), so
// every subject sees the same mix of background load.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const bench = new Bench({ time: TIME_MS / ROUNDS, warmup: false, iterations: 5 });

// Limit: the same bytes, appended in 256-line writes.
add(bench, 'raw append (limit)', async () => {
  const fd = openSync(join(dir.path, `raw-${Date.now()}-${Math.random()}.jsonl`), 'a');
  const line = `${JSON.stringify({ seq: 1, hash: 'f'.repeat(64), event: { v: 1, id: '0193', time: new Date().toISOString(), ...input(1) } })}\n`;
  let buf = '';
  return {
    call() {
      buf += line;
      if (buf.length > CHUNK * line.length - 1) {
        writeSync(fd, buf);
        buf = '';
      }
    },
    async finish() {
      writeSync(fd, buf);
      closeSync(fd);
    },
  };
});

add(bench, 'pino to a file (peer)', async () => {
  const dest = pino.destination({
    dest: join(dir.path, `pino-${Date.now()}-${Math.random()}.log`),
    sync: false,
    minLength: 4096,
  });
  const logger = pino({ base: null }, dest);
  return {
    call(n: number) {
      logger.info(input(n));
    },
    async finish() {
      await new Promise<void>((resolve) => dest.flush(() => resolve()));
    },
  };
});

const logBench = (log: AuditLog): Subject => ({
  call: (n: number) => log.record(input(n)),
  batches: () => log.stats().batches,
  finish: () => log.flush(),
  dispose: () => log.close(),
});

add(bench, 'audit JSONL + hash chain', async () =>
  logBench(
    await createAuditLog({
      sinks: [jsonlSink({ directory: join(dir.path, `jsonl-${Date.now()}-${Math.random()}`) })],
      signer,
    }),
  ),
);
// A server's pattern: two events (a decision and a completion) per turn of the event loop.
add(
  bench,
  'audit JSONL, 2 events a turn (a server)',
  async () =>
    logBench(
      await createAuditLog({
        sinks: [jsonlSink({ directory: join(dir.path, `jsonl2-${Date.now()}-${Math.random()}`) })],
        signer,
      }),
    ),
  2,
);
add(bench, 'audit SQLite', async () =>
  logBench(
    await createAuditLog({
      sinks: [await sqliteAuditStore({ filename: join(dir.path, `audit-${Date.now()}-${Math.random()}.db`) })],
      signer,
    }),
  ),
);

// Limit for SQLite: the same rows (the columns the store fills, the same key values) into the
// store's own schema (its seven indexes and append-only triggers, created by sqliteAuditStore),
// by one prepared better-sqlite3 statement in transactions of BATCH rows (about the log's group
// commits here), with the store's pragmas (WAL, synchronous NORMAL, 32 MiB cache). What SQLite
// and the driver cost before any of the log's work: no validation, canonical JSON, hash or chain.
const SQLITE_LIMIT_BATCH = 4096;
add(bench, 'raw better-sqlite3, same rows and indexes (limit)', async () => {
  const filename = join(dir.path, `limit-${Date.now()}-${Math.random()}.db`);
  await (await sqliteAuditStore({ filename })).close();
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -32768');
  const insert = db.prepare(
    'INSERT INTO audit_events (seq, id, ts, action, category, outcome, actor_id, actor_ip, resource_type, resource_id, session_id, request_id, retention, expires_at, hash, event) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const hash = 'f'.repeat(64);
  const random = pooledRandom(); // as the log's ids
  let pending: unknown[][] = [];
  const commit = db.transaction((batch: unknown[][]) => {
    for (const values of batch) insert.run(values);
  });
  return {
    call(n: number) {
      const e = input(n);
      const ts = Date.now();
      const id = uuidv7(systemClock, random);
      const event = JSON.stringify({ v: 1, id, time: new Date(ts).toISOString(), ...e });
      pending.push([
        n + 1,
        id,
        ts,
        e.action,
        e.action.split('.')[0],
        e.outcome,
        e.actor.id,
        e.actor.ip,
        e.resource?.type,
        e.resource?.id,
        e.sessionId,
        e.requestId,
        'standard',
        ts + 365 * 86_400_000,
        hash,
        event,
      ]);
      if (pending.length >= SQLITE_LIMIT_BATCH) {
        commit(pending);
        pending = [];
      }
    },
    async finish() {
      commit(pending);
      pending = [];
    },
    dispose: async () => {
      db.close();
    },
  };
});

const server = await startPostgres();
const pool = new pg.Pool({ connectionString: server.url, max: 4 });
pool.on('error', () => {});
// The server's CPU counts too: the postmaster and every process it forked, from /proc. Summing
// the processes pg_stat_activity lists missed what exited between two readings (a backend, an
// autovacuum worker: readings could even go backwards) and counted a whole life of work for a
// process that appeared in between. The postmaster's cutime/cstime hold the CPU of its children
// once they have exited (and been waited for); the live ones are read one by one.
const TICK_MICROS = 1e6 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100);
// Fields after the command name ("pid (comm) "): state is [0], ppid [1], utime [11], stime [12], cutime [13], cstime [14].
const statFields = (pid: number | string): string[] =>
  readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
const { rows: backend } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
const postmaster = Number(statFields(backend[0]?.pid as number)[1]);
function postgresCpuMicros(): Promise<number> {
  const own = statFields(postmaster);
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const fields = statFields(name);
      if (Number(fields[1]) === postmaster) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // A process that exited meanwhile: its time is in the postmaster's cutime from now on.
    }
  }
  return Promise.resolve(ticks * TICK_MICROS);
}
add(bench, 'audit PostgreSQL', async () => ({
  ...logBench(
    await createAuditLog({
      sinks: [await postgresAuditStore({ pool, tablePrefix: `b${rows.length}_${Math.floor(Math.random() * 1e9)}` })],
      signer,
    }),
  ),
  serverCpuMicros: postgresCpuMicros,
}));

// Durable: every record() waits for fdatasync; 64 callers at a time share each group commit.
add(bench, 'audit JSONL durable (64 in flight)', async () => {
  const log = await createAuditLog({
    sinks: [jsonlSink({ directory: join(dir.path, `durable-${Date.now()}-${Math.random()}`) })],
    signer,
    durable: true,
  });
  let inflight: Promise<unknown>[] = [];
  return {
    call(n: number) {
      inflight.push(log.record(input(n)));
      if (inflight.length >= 64) {
        const wait = Promise.all(inflight);
        inflight = [];
        return wait;
      }
      return undefined;
    },
    async finish() {
      await Promise.all(inflight);
    },
    batches: () => log.stats().batches,
    dispose: () => log.close(),
  };
});

try {
  // A warm-up round first (not counted), then the measured ones.
  for (let round = 0; round <= ROUNDS; round++) {
    warmingUp = round === 0;
    await bench.run();
  }
} finally {
  await pool.end();
  await server.stop();
  dir.remove();
}

const rate = (r: Row): number => r.events / r.seconds;
// Per core: events per second of CPU time, the client's and (PostgreSQL) the server's together.
const cpuRate = (r: Row): number => r.events / ((r.cpuMicros + r.serverCpuMicros) / 1e6);
const p = (values: number[], q: number): number => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};
const pinoRow = rows.find((r) => r.name.startsWith('pino'));
const rawRow = rows.find((r) => r.name.startsWith('raw'));
console.table(
  rows.map((r) => ({
    name: r.name,
    'events/s': Math.round(rate(r)).toLocaleString('en-US'),
    'events/CPU-s': Math.round(cpuRate(r)).toLocaleString('en-US'),
    'CPU µs/event': ((r.cpuMicros + r.serverCpuMicros) / r.events).toFixed(2),
    '…of it server': r.serverCpuMicros > 0 ? (r.serverCpuMicros / r.events).toFixed(2) : '-',
    'p50 µs': p(r.latencies, 0.5).toFixed(1),
    'p99 µs': p(r.latencies, 0.99).toFixed(1),
    'vs pino (CPU)': pinoRow ? (cpuRate(r) / cpuRate(pinoRow)).toFixed(2) : '-',
    'vs pino (wall)': pinoRow ? (rate(r) / rate(pinoRow)).toFixed(2) : '-',
    'vs raw (CPU)': rawRow ? (cpuRate(r) / cpuRate(rawRow)).toFixed(3) : '-',
    'events/batch': r.batches > 0 ? Math.round(r.events / r.batches) : '-',
    events: r.events,
  })),
);
console.log(
  "events/s (wall) and events/CPU-s (per core: CPU time of this process, every thread, plus the PostgreSQL server's) include the final flush;",
);
console.log('p50/p99: the time of one record() (or logger.info()) call, waits for backpressure included.');
const fmt = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
console.log(`load average (1, 5, 15 min): ${fmt(loadAtStart)} at the start, ${fmt(loadavg())} at the end`);
