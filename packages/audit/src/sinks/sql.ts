import type { SqlDatabase } from '@provisioning/core/sql';
import { migrate } from '@provisioning/core/sql';
import type { Kysely } from 'kysely';
import { CompiledQuery, sql } from 'kysely';
import type { ChainedRecord, ChainHead, PurgeRecord, SignedCheckpoint, StoredEntry } from '../chain.js';
import { AuditError } from '../errors.js';
import type { AuditEvent } from '../events.js';
import { AUDIT_CATEGORIES, actionsOf } from '../events.js';
import type {
  AuditQuery,
  AuditStore,
  CountBy,
  CountRow,
  PurgePlan,
  QueryPage,
  QueryResult,
  SinkState,
  StoredRecord,
  WriteOptions,
} from '../store.js';
import { compileQuery, decodeCursor, encodeCursor, pageLimit, retentionMs, toRanges } from '../store.js';
import { pgArrayLiteral } from './pg-array.js';

/** Options shared by the SQLite and PostgreSQL audit stores. */
export interface SqlAuditStoreOptions {
  /** Prefix of the tables (`<prefix>_events`, `_checkpoints`, `_purges`, `_tombstones`). Lowercase identifier. Default `audit`. */
  readonly tablePrefix?: string;
  /** Days each retention class is kept, used to compute `expires_at` when writing. Default standard 365, break_glass 2,555. */
  readonly retentionDays?: Readonly<Record<string, number>>;
  /** @internal SQLite: switch `synchronous` to FULL for durable batches and NORMAL for the others. */
  readonly synchronousPerBatch?: boolean;
}

const PREFIX = /^[a-z][a-z0-9_]{0,30}$/;
const COLUMNS = [
  'seq',
  'id',
  'ts',
  'action',
  'category',
  'outcome',
  'actor_id',
  'actor_ip',
  'resource_type',
  'resource_id',
  'session_id',
  'request_id',
  'retention',
  'expires_at',
  'hash',
  'event',
] as const;
const INSERT_CHUNK = 400;
// The types of the columns before `event` (COLUMNS order), as PostgreSQL arrays.
const PG_ARRAY_TYPES: readonly string[] = COLUMNS.slice(0, -1).map((c) =>
  c === 'seq' || c === 'ts' || c === 'expires_at' ? 'bigint' : 'text',
);
// 16 values a row: 500 rows stay far below SQLite's limit of 32,766 parameters a statement.
const SQLITE_ROWS_PER_INSERT = 500;
const PAGE = 1000;

// biome-ignore lint/suspicious/noExplicitAny: the audit tables are not part of the caller's Kysely table map
type AnyDb = Kysely<any>;

interface EventRow {
  seq: number | string | bigint;
  hash: string;
  event: string;
  ts?: number | string | bigint;
  action?: string;
  actor_id?: string;
  outcome?: string;
}

/** @internal The one SQL implementation of {@link AuditStore} for SQLite and PostgreSQL. */
export async function sqlAuditStore(
  database: SqlDatabase,
  options: SqlAuditStoreOptions,
  ownsDatabase: boolean,
): Promise<AuditStore> {
  const prefix = options.tablePrefix ?? 'audit';
  if (!PREFIX.test(prefix)) {
    throw new AuditError('tablePrefix must be a short lowercase SQL identifier', {
      code: 'ERR_AUDIT_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const retentionDays = { standard: 365, break_glass: 2555, ...options.retentionDays };
  const pg = database.dialect === 'postgres';
  const t = {
    events: `${prefix}_events`,
    checkpoints: `${prefix}_checkpoints`,
    purges: `${prefix}_purges`,
    tombstones: `${prefix}_tombstones`,
  };
  const id = `${database.dialect}:${t.events}`;
  const T = (name: string) => sql.table(name);
  const raw = (text: string) => sql.raw(text);

  await migrate(database, `audit-${prefix.replace(/_/g, '-')}`, [
    {
      id: '0001-create',
      async up(k) {
        const big = raw(pg ? 'BIGINT' : 'INTEGER');
        await sql`CREATE TABLE ${T(t.events)} (
          seq ${big} PRIMARY KEY, id TEXT NOT NULL, ts ${big} NOT NULL, action TEXT NOT NULL, category TEXT NOT NULL,
          outcome TEXT NOT NULL, actor_id TEXT NOT NULL, actor_ip TEXT, resource_type TEXT, resource_id TEXT,
          session_id TEXT, request_id TEXT, retention TEXT NOT NULL, expires_at ${big} NOT NULL, hash TEXT NOT NULL, event TEXT NOT NULL)`.execute(
          k,
        );
        // Every index costs each append a B-tree insert, so only selective ones: a category
        // filter becomes an action list (action index), outcome is combined with others, the
        // purge selects by retention and time (ts index). Event ids are unique by construction (UUIDv7).
        for (const [name, cols] of [
          ['ts', 'ts'],
          ['actor', 'actor_id, seq'],
          ['action', 'action, seq'],
          ['resource', 'resource_type, resource_id'],
          ['ip', 'actor_ip'],
          ['session', 'session_id'],
          ['request', 'request_id'],
        ] as const) {
          await sql`CREATE INDEX ${raw(`${t.events}_${name}_idx`)} ON ${T(t.events)} (${raw(cols)})`.execute(k);
        }
        await sql`CREATE TABLE ${T(t.checkpoints)} (seq ${big} PRIMARY KEY, body TEXT NOT NULL)`.execute(k);
        await sql`CREATE TABLE ${T(t.purges)} (id TEXT PRIMARY KEY, body TEXT NOT NULL)`.execute(k);
        await sql`CREATE TABLE ${T(t.tombstones)} (seq ${big} PRIMARY KEY, hash TEXT NOT NULL, purge_id TEXT NOT NULL)`.execute(
          k,
        );
        // Append-only at the database level: UPDATE and DELETE are refused by
        // triggers, so a bug or a stolen application credential cannot rewrite
        // history quietly. The one exception is the retention purge: a row may
        // be deleted only once it has expired by the database's own clock AND a
        // tombstone with its hash (part of a signed purge record) exists.
        if (pg) {
          await sql`CREATE FUNCTION ${raw(`${prefix}_append_only`)}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'audit tables are append-only' USING ERRCODE = '42501'; END $$`.execute(k);
          await sql`CREATE FUNCTION ${raw(`${prefix}_events_guard`)}() RETURNS trigger LANGUAGE plpgsql AS ${raw(`$$
            BEGIN
              IF TG_OP = 'DELETE' AND OLD.expires_at <= (extract(epoch from clock_timestamp()) * 1000)::bigint
                 AND EXISTS (SELECT 1 FROM ${t.tombstones} tb WHERE tb.seq = OLD.seq AND tb.hash = OLD.hash) THEN
                RETURN OLD;
              END IF;
              RAISE EXCEPTION 'audit events are append-only; only expired, tombstoned events may be purged' USING ERRCODE = '42501';
            END $$`)}`.execute(k);
          await sql`CREATE TRIGGER ${raw(`${t.events}_guard`)} BEFORE UPDATE OR DELETE ON ${T(t.events)} FOR EACH ROW EXECUTE FUNCTION ${raw(`${prefix}_events_guard`)}()`.execute(
            k,
          );
          for (const table of [t.events, t.checkpoints, t.purges, t.tombstones]) {
            if (table !== t.events) {
              await sql`CREATE TRIGGER ${raw(`${table}_no_change`)} BEFORE UPDATE OR DELETE ON ${T(table)} FOR EACH ROW EXECUTE FUNCTION ${raw(`${prefix}_append_only`)}()`.execute(
                k,
              );
            }
            await sql`CREATE TRIGGER ${raw(`${table}_no_truncate`)} BEFORE TRUNCATE ON ${T(table)} FOR EACH STATEMENT EXECUTE FUNCTION ${raw(`${prefix}_append_only`)}()`.execute(
              k,
            );
          }
        } else {
          await sql`CREATE TRIGGER ${raw(`${t.events}_no_update`)} BEFORE UPDATE ON ${T(t.events)}
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END`.execute(k);
          await sql`CREATE TRIGGER ${raw(`${t.events}_guard_delete`)} BEFORE DELETE ON ${T(t.events)}
            WHEN OLD.expires_at > CAST(strftime('%s', 'now') AS INTEGER) * 1000
              OR NOT EXISTS (SELECT 1 FROM ${T(t.tombstones)} tb WHERE tb.seq = OLD.seq AND tb.hash = OLD.hash)
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only; only expired, tombstoned events may be purged'); END`.execute(
            k,
          );
          for (const table of [t.checkpoints, t.purges, t.tombstones]) {
            await sql`CREATE TRIGGER ${raw(`${table}_no_update`)} BEFORE UPDATE ON ${T(table)}
              BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END`.execute(k);
            await sql`CREATE TRIGGER ${raw(`${table}_no_delete`)} BEFORE DELETE ON ${T(table)}
              BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END`.execute(k);
          }
        }
      },
    },
    {
      // Partial indexes on the columns an event may leave empty (client IP, session, request,
      // resource): a row without the value costs that index nothing, and a query that filters on
      // the column (`col = ?` implies `col IS NOT NULL`) still uses it, in SQLite and PostgreSQL.
      // Only indexes are rebuilt: no row is touched (the append-only triggers stay as they are).
      id: '0002-partial-indexes',
      async up(k) {
        for (const [name, cols, where] of [
          ['resource', 'resource_type, resource_id', 'resource_type'],
          ['ip', 'actor_ip', 'actor_ip'],
          ['session', 'session_id', 'session_id'],
          ['request', 'request_id', 'request_id'],
        ] as const) {
          const index = raw(`${t.events}_${name}_idx`);
          await sql`DROP INDEX ${index}`.execute(k);
          await sql`CREATE INDEX ${index} ON ${T(t.events)} (${raw(cols)}) WHERE ${raw(where)} IS NOT NULL`.execute(k);
        }
      },
    },
  ]);

  const num = (v: number | string | bigint): number => Number(v);
  const READS = new Set(['open', 'scan', 'query', 'count', 'checkpoints', 'purges']);
  const run = <R>(operation: string, fn: (k: AnyDb) => Promise<R>): Promise<R> =>
    database.run(operation, fn as (k: Kysely<unknown>) => Promise<R>).catch((error: unknown) => {
      // Our own errors thrown inside a query or transaction come back wrapped by core's driver-error mapping.
      const cause = (error as { cause?: unknown }).cause;
      if (error instanceof AuditError) throw error;
      if (cause instanceof AuditError) throw cause;
      throw new AuditError(`${id}: ${operation} failed`, {
        code: READS.has(operation) ? 'ERR_AUDIT_STORE_READ' : 'ERR_AUDIT_SINK_WRITE',
        fault: 'server',
        retryable: (error as { retryable?: boolean }).retryable === true,
        cause: error,
        details: { sink: id, operation, storeCode: (error as { code?: string }).code },
      });
    });

  // Events of one millisecond share their time string (normalizeEvent formats each ms once):
  // parse each once. Compared by value, so any string gives the right number.
  let lastTime = '';
  let lastTs = Number.NaN;
  // The column values of one record, in COLUMNS order, written into `out` from `at`; returns the next index.
  function rowValues(r: ChainedRecord, out: unknown[], at: number): number {
    const e = r.event;
    if (e.time !== lastTime) {
      lastTs = Date.parse(e.time);
      lastTime = e.time;
    }
    const ts = lastTs;
    let i = at;
    out[i++] = r.seq;
    out[i++] = e.id;
    out[i++] = ts;
    out[i++] = e.action;
    out[i++] = e.category;
    out[i++] = e.outcome;
    out[i++] = e.actor.id;
    out[i++] = e.actor.ip ?? null;
    out[i++] = e.resource?.type ?? null;
    out[i++] = e.resource?.id ?? null;
    out[i++] = e.sessionId ?? null;
    out[i++] = e.requestId ?? null;
    out[i++] = e.retention;
    out[i++] = ts + retentionMs(e.retention, retentionDays);
    out[i++] = r.hash;
    // The exact text the chain hash covers.
    out[i++] = r.json;
    return i;
  }

  // The INSERT of `rows` rows, by row count (a batch uses at most two sizes: full chunks and the rest).
  const insertSql = new Map<number, string>();
  function sqliteInsert(rows: number): string {
    let text = insertSql.get(rows);
    if (text === undefined) {
      const row = `(${COLUMNS.map(() => '?').join(', ')})`;
      // DO NOTHING on a seq already present: a retry after a commit whose acknowledgement was lost.
      text = `INSERT INTO "${t.events}" (${COLUMNS.join(', ')}) VALUES ${new Array(rows).fill(row).join(', ')} ON CONFLICT (seq) DO NOTHING`;
      if (insertSql.size > 64) insertSql.clear();
      insertSql.set(rows, text);
    }
    return text;
  }

  function parseRow(row: EventRow): StoredRecord {
    let event: AuditEvent;
    try {
      event = JSON.parse(row.event) as AuditEvent;
    } catch (error) {
      throw new AuditError(`${id}: a stored event is malformed`, {
        code: 'ERR_AUDIT_CORRUPT',
        fault: 'server',
        cause: error,
        details: { seq: num(row.seq) },
      });
    }
    return { seq: num(row.seq), hash: row.hash, event };
  }

  // biome-ignore lint/suspicious/noExplicitAny: dynamic query building over an untyped table
  function applyFilter(qb: any, filter: AuditQuery | undefined): any {
    const q = compileQuery(filter);
    let out = qb;
    if (q.fromMs !== undefined) out = out.where('ts', '>=', q.fromMs);
    if (q.toMs !== undefined) out = out.where('ts', '<', q.toMs);
    if (q.actorId !== undefined) out = out.where('actor_id', '=', q.actorId);
    if (q.actions !== undefined) out = out.where('action', 'in', [...q.actions]);
    if (q.categories !== undefined) {
      // Through the action index: a category is a fixed set of actions.
      const actions = AUDIT_CATEGORIES.filter((c) => q.categories?.has(c)).flatMap((c) => actionsOf(c));
      out = actions.length === 0 ? out.where(sql`1 = 0`) : out.where('action', 'in', actions);
    }
    if (q.outcomes !== undefined) out = out.where('outcome', 'in', [...q.outcomes]);
    if (q.resourceType !== undefined) out = out.where('resource_type', '=', q.resourceType);
    if (q.resourceId !== undefined) out = out.where('resource_id', '=', q.resourceId);
    if (q.ip !== undefined) out = out.where('actor_ip', '=', q.ip);
    if (q.sessionId !== undefined) out = out.where('session_id', '=', q.sessionId);
    if (q.requestId !== undefined) out = out.where('request_id', '=', q.requestId);
    if (q.text !== undefined) {
      // LIKE with the wildcards of the search text escaped: `%` and `_` match themselves.
      const pattern = `%${q.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      out = out.where(sql`lower(event) LIKE ${pattern} ESCAPE '\\'`);
    }
    return out;
  }

  async function head(k: AnyDb): Promise<ChainHead | undefined> {
    const last = await k
      .selectFrom(t.events)
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    const tomb = await k
      .selectFrom(t.tombstones)
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    const a = last ? { seq: num(last.seq), hash: last.hash as string } : undefined;
    const b = tomb ? { seq: num(tomb.seq), hash: tomb.hash as string } : undefined;
    if (a === undefined) return b;
    if (b === undefined) return a;
    return a.seq >= b.seq ? a : b;
  }

  async function* pages(
    filter: AuditQuery | undefined,
    order: 'asc' | 'desc',
    columns: readonly string[],
  ): AsyncGenerator<EventRow> {
    let after: number | undefined;
    for (;;) {
      const rows = (await run('scan', (k) => {
        let qb = applyFilter(k.selectFrom(t.events).select(columns as string[]), filter);
        if (after !== undefined) qb = qb.where('seq', order === 'asc' ? '>' : '<', after);
        return qb.orderBy('seq', order).limit(PAGE).execute();
      })) as EventRow[];
      yield* rows;
      if (rows.length < PAGE) return;
      after = num((rows.at(-1) as EventRow).seq);
    }
  }

  let closed = false;
  // Whether this store may switch SQLite's synchronous mode per batch (only on a database it opened itself).
  const managesSync = options.synchronousPerBatch === true;
  let syncFull = true;
  const store: AuditStore = {
    id,
    durability: 'commit',
    // Measured on SQLite with seven indexes (strace, 50,000 events): 6.7 page writes per event in
    // transactions of 256 events, 2.8 in transactions of ~4,500; CPU per event 55 -> 33 µs at 100,000.
    gatherBatches: true,
    async open(): Promise<SinkState> {
      return run('open', async (k) => {
        const h = await head(k);
        const cp = await k.selectFrom(t.checkpoints).select('body').orderBy('seq', 'desc').limit(1).executeTakeFirst();
        return {
          ...(h ? { head: h } : {}),
          ...(cp ? { checkpoint: JSON.parse(cp.body as string) as SignedCheckpoint } : {}),
        };
      });
    },
    async write(records: readonly ChainedRecord[], writeOptions: WriteOptions) {
      if (records.length === 0) return;
      if (!pg && syncFull !== writeOptions.durable && managesSync) {
        // SQLite in WAL mode: FULL fsyncs every commit (a durable record() survives power loss);
        // NORMAL fsyncs only at checkpoints (a process crash loses nothing, power loss may lose the last commits).
        await run('pragma', (k) =>
          sql.raw(`PRAGMA synchronous = ${writeOptions.durable ? 'FULL' : 'NORMAL'}`).execute(k),
        );
        syncFull = writeOptions.durable;
      }
      await run('append', (k) =>
        k.transaction().execute(async (trx) => {
          let inserted = 0n;
          if (pg) {
            // One statement: 15 array parameters (unnest) and the events' canonical JSON joined
            // by newlines, split by the server. JSON.stringify never writes a raw newline, and
            // arrays of unequal length would leave an event NULL, which the table refuses.
            // Passed as an array, each event would be escaped by pg and unescaped by the
            // server: measured, this halves the CPU time of an append on client and server.
            // The other columns go as array literals written here (pg-array.ts), the text pg
            // would write for these arrays at a fraction of its cost per element.
            const columns: unknown[][] = PG_ARRAY_TYPES.map(() => new Array(records.length));
            const values: unknown[] = new Array(COLUMNS.length);
            let events = '';
            for (let i = 0; i < records.length; i++) {
              const r = records[i] as ChainedRecord;
              rowValues(r, values, 0);
              for (let c = 0; c < PG_ARRAY_TYPES.length; c++) (columns[c] as unknown[])[i] = values[c];
              events += i === 0 ? r.json : `\n${r.json}`;
            }
            const arrays = sql.join(
              columns.map((column, c) => sql`${pgArrayLiteral(column)}::${raw(PG_ARRAY_TYPES[c] as string)}[]`),
            );
            const insert = (onConflict: string) =>
              sql`INSERT INTO ${T(t.events)} (${raw(COLUMNS.join(', '))})
                SELECT * FROM unnest(${arrays}, string_to_array(${events}::text, E'\\n')) ${raw(onConflict)}`.execute(
                trx,
              );
            // A plain INSERT first: ON CONFLICT makes PostgreSQL insert every row speculatively (an
            // extra probe of the primary key and an extra WAL record per row), which only a retry
            // needs. A seq already present (unique_violation) rolls back to the savepoint and takes
            // the ON CONFLICT path, checked below exactly as before.
            await sql`SAVEPOINT audit_append`.execute(trx);
            let result: { numAffectedRows?: bigint };
            try {
              result = await insert('');
            } catch (error) {
              if ((error as { code?: string }).code !== '23505') throw error;
              await sql`ROLLBACK TO SAVEPOINT audit_append`.execute(trx);
              result = await insert('ON CONFLICT (seq) DO NOTHING');
            }
            inserted = BigInt(result.numAffectedRows ?? 0n);
          } else {
            // Multi-row INSERTs of raw SQL with the values in one flat array: Kysely's builder
            // would make an AST node per value and compile it again for every batch.
            for (let i = 0; i < records.length; i += SQLITE_ROWS_PER_INSERT) {
              const end = Math.min(i + SQLITE_ROWS_PER_INSERT, records.length);
              const values: unknown[] = new Array((end - i) * COLUMNS.length);
              let v = 0;
              for (let j = i; j < end; j++) v = rowValues(records[j] as ChainedRecord, values, v);
              const result = await trx.executeQuery(CompiledQuery.raw(sqliteInsert(end - i), values));
              inserted += result.numAffectedRows ?? 0n;
              // better-sqlite3 runs on this thread: let requests run between chunks, so a large
              // group commit stalls the event loop for one chunk at a time, not for the whole batch.
              if (end < records.length) await new Promise((resolve) => setImmediate(resolve));
            }
          }
          if (inserted !== BigInt(records.length)) {
            // Some seqs were already there: they must be exactly ours, or two writers share one chain.
            const first = records[0] as ChainedRecord;
            const last = records[records.length - 1] as ChainedRecord;
            const existing = await trx
              .selectFrom(t.events)
              .select(['seq', 'hash'])
              .where('seq', '>=', first.seq)
              .where('seq', '<=', last.seq)
              .execute();
            const mine = new Map(records.map((r) => [r.seq, r.hash]));
            if (existing.some((row) => mine.get(num(row.seq)) !== row.hash)) {
              throw new AuditError(`${id}: another writer appended to this chain`, {
                code: 'ERR_AUDIT_SINK_WRITE',
                fault: 'server',
              });
            }
          }
        }),
      );
    },
    async writeCheckpoint(cp: SignedCheckpoint) {
      await run('checkpoint', (k) =>
        k
          .insertInto(t.checkpoints)
          .values({ seq: cp.seq, body: JSON.stringify(cp) })
          .onConflict((oc) => oc.column('seq').doNothing())
          .execute(),
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      if (ownsDatabase) await database.close();
    },
    async *read(): AsyncGenerator<StoredEntry> {
      for await (const row of pages(undefined, 'asc', [
        'seq',
        'hash',
        'event',
        'ts',
        'action',
        'actor_id',
        'outcome',
      ])) {
        let event: unknown;
        try {
          const parsed = JSON.parse(row.event) as AuditEvent;
          // The indexed columns must say what the hashed JSON says, or queries could be steered.
          const consistent =
            parsed.action === row.action &&
            parsed.outcome === row.outcome &&
            parsed.actor?.id === row.actor_id &&
            Date.parse(parsed.time) === num(row.ts as number);
          event = consistent ? parsed : { inconsistentColumns: true, ...parsed };
        } catch {
          event = undefined;
        }
        yield { seq: num(row.seq), hash: row.hash, event, at: `${t.events}#${num(row.seq)}` };
      }
    },
    async checkpoints() {
      const rows = await run('checkpoints', (k) => k.selectFrom(t.checkpoints).select('body').orderBy('seq').execute());
      return rows.map((r) => JSON.parse(r.body as string) as SignedCheckpoint);
    },
    async purges() {
      const rows = await run('purges', (k) => k.selectFrom(t.purges).select('body').execute());
      return rows.map((r) => JSON.parse(r.body as string) as PurgeRecord);
    },
    async query(filter?: AuditQuery, page?: QueryPage): Promise<QueryResult> {
      const limit = pageLimit(page);
      const order = page?.order ?? 'asc';
      if (order !== 'asc' && order !== 'desc')
        throw new AuditError('invalid audit query: order', { code: 'ERR_AUDIT_INVALID_QUERY', fault: 'client' });
      const after = decodeCursor(page?.cursor, order);
      const rows = (await run('query', (k) => {
        let qb = applyFilter(k.selectFrom(t.events).select(['seq', 'hash', 'event']), filter);
        if (after !== undefined) qb = qb.where('seq', order === 'asc' ? '>' : '<', after);
        return qb
          .orderBy('seq', order)
          .limit(limit + 1)
          .execute();
      })) as EventRow[];
      const more = rows.length > limit;
      const records = (more ? rows.slice(0, limit) : rows).map(parseRow);
      const last = records.at(-1);
      return { records, ...(more && last ? { nextCursor: encodeCursor(last.seq, order) } : {}) };
    },
    async count(filter: AuditQuery | undefined, by: CountBy): Promise<readonly CountRow[]> {
      const bucketMs = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as Record<string, number>;
      const width = { minute: 16, hour: 13, day: 10 } as Record<string, number>;
      const rows = (await run('count', (k) => {
        if (by === 'action' || by === 'category' || by === 'outcome') {
          return applyFilter(k.selectFrom(t.events), filter)
            .select([sql.ref(by).as('k'), sql`count(*)`.as('n')])
            .groupBy(by)
            .execute();
        }
        const ms = bucketMs[by];
        if (ms === undefined)
          throw new AuditError('invalid audit query: by', { code: 'ERR_AUDIT_INVALID_QUERY', fault: 'client' });
        const bucket = sql`(ts / ${sql.lit(ms)}) * ${sql.lit(ms)}`;
        return applyFilter(k.selectFrom(t.events), filter)
          .select([bucket.as('k'), sql`count(*)`.as('n')])
          .groupBy(bucket)
          .execute();
      })) as { k: string | number | bigint; n: number | string | bigint }[];
      return rows
        .map((r) => ({
          key: by in bucketMs ? new Date(Number(r.k)).toISOString().slice(0, width[by]) : String(r.k),
          count: Number(r.n),
        }))
        .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    },
    async *scan(filter?: AuditQuery, order: 'asc' | 'desc' = 'asc'): AsyncGenerator<StoredRecord> {
      compileQuery(filter);
      for await (const row of pages(filter, order, ['seq', 'hash', 'event'])) yield parseRow(row);
    },
    async purge(plan: PurgePlan) {
      return run('purge', (k) =>
        k.transaction().execute(async (trx) => {
          // The log's retention classes decide; the expires_at column (written with this store's classes) is the database's safety net.
          const classes = Object.entries(plan.retentionDays);
          const standard = plan.retentionDays.standard ?? 365;
          const expired = (await trx
            .selectFrom(t.events)
            .select(['seq', 'hash'])
            .where((eb) =>
              eb.or([
                ...classes.map(([name, days]) =>
                  eb.and([eb('retention', '=', name), eb('ts', '<=', plan.nowMs - days * 86_400_000)]),
                ),
                eb.and([
                  eb(
                    'retention',
                    'not in',
                    classes.map(([name]) => name),
                  ),
                  eb('ts', '<=', plan.nowMs - standard * 86_400_000),
                ]),
              ]),
            )
            .orderBy('seq')
            .execute()) as { seq: number | string | bigint; hash: string }[];
          if (expired.length === 0) return { purged: 0 };
          const items = expired.map((r) => ({ seq: num(r.seq), hash: r.hash }));
          const record = plan.sign({
            id: plan.newId(),
            time: new Date(plan.nowMs).toISOString(),
            ranges: toRanges(items),
            count: items.length,
          });
          // The signed record and the tombstones first: the delete trigger demands them.
          await trx
            .insertInto(t.purges)
            .values({ id: record.id, body: JSON.stringify(record) })
            .execute();
          for (let i = 0; i < items.length; i += INSERT_CHUNK) {
            await trx
              .insertInto(t.tombstones)
              .values(
                items.slice(i, i + INSERT_CHUNK).map((it) => ({ seq: it.seq, hash: it.hash, purge_id: record.id })),
              )
              .execute();
            await trx
              .deleteFrom(t.events)
              .where(
                'seq',
                'in',
                items.slice(i, i + INSERT_CHUNK).map((it) => it.seq),
              )
              .execute();
          }
          return { purged: items.length, record };
        }),
      );
    },
  };
  return store;
}
