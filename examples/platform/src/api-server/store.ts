import { migrate, type SqlDatabase } from '@provisioning/core/sql';
import type { Operation, OperationStatus, Server } from '@provisioning/platform-client/api';
import type { Kysely } from 'kysely';

interface OperationRow {
  id: string;
  type: string;
  status: OperationStatus;
  params: string;
  result: string | null;
  error: string | null;
  progress: number;
  created_by: string;
  created_at: string;
  updated_at: string;
}

interface ServerRow {
  id: string;
  hostname: string;
  provider: string;
  plan: string;
  zone: string;
  workspace: string;
  tags: string;
  ip_address: string | null;
  status: string;
  created_at: string;
}

interface Tables {
  api_operations: OperationRow;
  api_servers: ServerRow;
}

/** A stored operation: the contract's Operation plus what the runner needs. */
export interface StoredOperation extends Operation {
  readonly type: string;
  readonly params: Record<string, unknown>;
}

/** A new server record. */
export interface NewServer extends Server {
  readonly workspace: string;
  readonly tags: readonly string[];
}

/**
 * The API server's state in the platform database (namespace `api-server`):
 * operations and the servers they created. Every state transition is a
 * conditional UPDATE (`WHERE status IN …`), so a cancel and a completion
 * racing each other cannot both win.
 */
export class ApiStore {
  readonly #database: SqlDatabase<Tables>;
  readonly #db: Kysely<Tables>;

  private constructor(database: SqlDatabase) {
    this.#database = database as SqlDatabase<Tables>;
    this.#db = this.#database.db;
  }

  /** Opens the store, applying its migrations. */
  static async open(database: SqlDatabase): Promise<ApiStore> {
    await migrate(database, 'api-server', [
      {
        id: '0001-operations-and-servers',
        async up(db) {
          await db.schema
            .createTable('api_operations')
            .addColumn('id', 'text', (c) => c.primaryKey())
            .addColumn('type', 'text', (c) => c.notNull())
            .addColumn('status', 'text', (c) => c.notNull())
            .addColumn('params', 'text', (c) => c.notNull())
            .addColumn('result', 'text')
            .addColumn('error', 'text')
            .addColumn('progress', 'integer', (c) => c.notNull())
            .addColumn('created_by', 'text', (c) => c.notNull())
            .addColumn('created_at', 'text', (c) => c.notNull())
            .addColumn('updated_at', 'text', (c) => c.notNull())
            .execute();
          await db.schema
            .createIndex('api_operations_status')
            .on('api_operations')
            .columns(['status', 'created_at'])
            .execute();
          await db.schema
            .createTable('api_servers')
            .addColumn('id', 'text', (c) => c.primaryKey())
            .addColumn('hostname', 'text', (c) => c.notNull().unique())
            .addColumn('provider', 'text', (c) => c.notNull())
            .addColumn('plan', 'text', (c) => c.notNull())
            .addColumn('zone', 'text', (c) => c.notNull())
            .addColumn('workspace', 'text', (c) => c.notNull())
            .addColumn('tags', 'text', (c) => c.notNull())
            .addColumn('ip_address', 'text')
            .addColumn('status', 'text', (c) => c.notNull())
            .addColumn('created_at', 'text', (c) => c.notNull())
            .execute();
        },
      },
    ]);
    return new ApiStore(database);
  }

  async createOperation(op: {
    id: string;
    type: string;
    params: Record<string, unknown>;
    createdBy: string;
    now: string;
  }): Promise<StoredOperation> {
    const row: OperationRow = {
      id: op.id,
      type: op.type,
      status: 'pending',
      params: JSON.stringify(op.params),
      result: null,
      error: null,
      progress: 0,
      created_by: op.createdBy,
      created_at: op.now,
      updated_at: op.now,
    };
    await this.#database.run('createOperation', (db) => db.insertInto('api_operations').values(row).execute());
    return toOperation(row);
  }

  async getOperation(id: string): Promise<StoredOperation | undefined> {
    const row = await this.#database.run('getOperation', (db) =>
      db.selectFrom('api_operations').selectAll().where('id', '=', id).executeTakeFirst(),
    );
    return row === undefined ? undefined : toOperation(row);
  }

  async listOperations(q: { status?: OperationStatus; limit: number; offset: number }): Promise<StoredOperation[]> {
    const rows = await this.#database.run('listOperations', (db) => {
      let query = db.selectFrom('api_operations').selectAll();
      if (q.status !== undefined) query = query.where('status', '=', q.status);
      return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).offset(q.offset).execute();
    });
    return rows.map(toOperation);
  }

  async countOperations(status?: OperationStatus): Promise<number> {
    const row = await this.#database.run('countOperations', (db) => {
      let query = db.selectFrom('api_operations').select((eb) => eb.fn.countAll<number>().as('n'));
      if (status !== undefined) query = query.where('status', '=', status);
      return query.executeTakeFirstOrThrow();
    });
    return Number(row.n);
  }

  /** Moves `id` from one of `from` to `to`; false when it was not in `from` (someone else won). */
  async transition(
    id: string,
    from: readonly OperationStatus[],
    to: OperationStatus,
    now: string,
    fields: { result?: unknown; error?: string; progress?: number } = {},
  ): Promise<boolean> {
    const update = await this.#database.run('transition', (db) =>
      db
        .updateTable('api_operations')
        .set({
          status: to,
          updated_at: now,
          ...(fields.result !== undefined ? { result: JSON.stringify(fields.result) } : {}),
          ...(fields.error !== undefined ? { error: fields.error } : {}),
          ...(fields.progress !== undefined ? { progress: fields.progress } : {}),
        })
        .where('id', '=', id)
        .where('status', 'in', [...from])
        .executeTakeFirst(),
    );
    return Number(update.numUpdatedRows) > 0;
  }

  /**
   * Completes a running operation and applies its effect on the servers in one
   * transaction: a cancelled (or timed-out) operation changes no server.
   */
  async complete(
    id: string,
    now: string,
    result: unknown,
    effect?: { insert?: NewServer; delete?: string },
  ): Promise<boolean> {
    return this.#database.run('complete', (db) =>
      db.transaction().execute(async (trx) => {
        const update = await trx
          .updateTable('api_operations')
          .set({ status: 'completed', updated_at: now, result: JSON.stringify(result ?? null), progress: 100 })
          .where('id', '=', id)
          .where('status', '=', 'running')
          .executeTakeFirst();
        if (Number(update.numUpdatedRows) === 0) return false;
        if (effect?.insert !== undefined) {
          const s = effect.insert;
          await trx
            .insertInto('api_servers')
            .values({
              id: s.id,
              hostname: s.hostname,
              provider: s.provider,
              plan: s.plan,
              zone: s.zone,
              workspace: s.workspace,
              tags: JSON.stringify(s.tags),
              ip_address: s.ip_address,
              status: s.status,
              created_at: s.created_at,
            })
            .execute();
        }
        if (effect?.delete !== undefined) await trx.deleteFrom('api_servers').where('id', '=', effect.delete).execute();
        return true;
      }),
    );
  }

  /** Pending and running operations (for recovery after a restart). */
  async unfinished(): Promise<StoredOperation[]> {
    const rows = await this.#database.run('unfinished', (db) =>
      db
        .selectFrom('api_operations')
        .selectAll()
        .where('status', 'in', ['pending', 'running'])
        .orderBy('created_at')
        .execute(),
    );
    return rows.map(toOperation);
  }

  async listServers(limit: number, offset: number): Promise<Server[]> {
    const rows = await this.#database.run('listServers', (db) =>
      db
        .selectFrom('api_servers')
        .selectAll()
        .orderBy('created_at')
        .orderBy('id')
        .limit(limit)
        .offset(offset)
        .execute(),
    );
    return rows.map(toServer);
  }

  async getServer(id: string): Promise<Server | undefined> {
    const row = await this.#database.run('getServer', (db) =>
      db.selectFrom('api_servers').selectAll().where('id', '=', id).executeTakeFirst(),
    );
    return row === undefined ? undefined : toServer(row);
  }

  /** The workspace of a server, for the policy; `undefined` for an unknown id. */
  async serverWorkspace(id: string): Promise<string | undefined> {
    const row = await this.#database.run('serverWorkspace', (db) =>
      db.selectFrom('api_servers').select('workspace').where('id', '=', id).executeTakeFirst(),
    );
    return row?.workspace;
  }

  /** A server by id or hostname. */
  async findServer(ref: string): Promise<Server | undefined> {
    const row = await this.#database.run('findServer', (db) =>
      db
        .selectFrom('api_servers')
        .selectAll()
        .where((eb) => eb.or([eb('id', '=', ref), eb('hostname', '=', ref)]))
        .executeTakeFirst(),
    );
    return row === undefined ? undefined : toServer(row);
  }
}

function toOperation(row: OperationRow): StoredOperation {
  return {
    id: row.id,
    type: row.type,
    status: row.status,
    created_at: row.created_at,
    updated_at: row.updated_at,
    result: row.result === null ? null : JSON.parse(row.result),
    error: row.error,
    progress: row.progress,
    params: JSON.parse(row.params) as Record<string, unknown>,
  };
}

function toServer(row: ServerRow): Server {
  return {
    id: row.id,
    hostname: row.hostname,
    provider: row.provider,
    plan: row.plan,
    zone: row.zone,
    ip_address: row.ip_address,
    status: row.status,
    created_at: row.created_at,
  };
}

/** The public view of an operation (the contract's shape: no params, no creator). */
export function publicOperation(op: StoredOperation): Operation {
  return {
    id: op.id,
    status: op.status,
    created_at: op.created_at,
    updated_at: op.updated_at,
    result: op.result,
    error: op.error,
    ...(op.progress !== undefined ? { progress: op.progress } : {}),
    type: op.type,
  };
}
