import { EventEmitter } from 'node:events';
import type { Clock } from '@provisioning/core';
import { systemClock, uuidv7 } from '@provisioning/core';
import { migrate, type SqlDatabase } from '@provisioning/core/sql';
import type { Kysely } from 'kysely';
import type { TaskExecutor } from './executor.js';

/** Task states as the platform names them. */
export type TaskStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Cancelled';
export const TASK_STATUSES: readonly TaskStatus[] = ['Pending', 'Running', 'Completed', 'Failed', 'Cancelled'];

/** The platform's WorkflowTask. */
export interface WorkflowTask {
  id: string;
  workflow_id: string;
  name: string;
  command: string;
  args: string[];
  dependencies: string[];
  status: TaskStatus;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  output: string | null;
  error: string | null;
  progress: number;
}

/** A step of a workflow template. */
export interface StepTemplate {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Names of earlier steps this one waits for. */
  readonly after?: readonly string[];
}

/** Workflow types (`servers.create` …) and their steps. */
export type WorkflowTemplates = Readonly<Record<string, readonly StepTemplate[]>>;

interface Tables {
  orchestrator_tasks: {
    id: string;
    workflow_id: string;
    workflow_type: string;
    position: number;
    name: string;
    command: string;
    args: string;
    dependencies: string;
    env: string;
    status: TaskStatus;
    created_at: string;
    started_at: string | null;
    completed_at: string | null;
    output: string | null;
    error: string | null;
    progress: number;
  };
}

/** An event for WebSocket subscribers. */
export interface EngineEvent {
  readonly type: 'task' | 'batch' | 'system';
  readonly event: string;
  readonly data: unknown;
  readonly timestamp: string;
}

/** Thrown for unknown workflow types and tasks; the server maps it to 400/404. */
export class WorkflowError extends Error {
  override readonly name = 'WorkflowError';
  constructor(
    readonly code: 'UNKNOWN_WORKFLOW' | 'NOT_FOUND' | 'NOT_CANCELLABLE',
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * Runs workflows as DAGs of tasks, at most `maxConcurrent` at a time, with
 * state persisted in SQL so a restart resumes: tasks that were running when
 * the process died are marked Failed ("interrupted"), pending ones run.
 */
export class WorkflowEngine extends EventEmitter<{ event: [EngineEvent] }> {
  readonly #db: Kysely<Tables>;
  readonly #database: SqlDatabase<Tables>;
  readonly #executor: TaskExecutor;
  readonly #templates: WorkflowTemplates;
  readonly #clock: Clock;
  readonly #maxConcurrent: number;
  readonly #running = new Map<string, AbortController>();
  readonly #done = new Set<Promise<void>>();
  #started = false;
  #stopping = false;

  constructor(options: {
    database: SqlDatabase;
    executor: TaskExecutor;
    templates: WorkflowTemplates;
    clock?: Clock;
    maxConcurrent?: number;
  }) {
    super();
    this.#database = options.database as SqlDatabase<Tables>;
    this.#db = this.#database.db;
    this.#executor = options.executor;
    this.#templates = options.templates;
    this.#clock = options.clock ?? systemClock;
    this.#maxConcurrent = options.maxConcurrent ?? 4;
  }

  /** Creates the tables, fails interrupted tasks, and starts scheduling. */
  async start(): Promise<void> {
    await migrate(this.#database, 'orchestrator', [
      {
        id: '0001-tasks',
        async up(db) {
          await db.schema
            .createTable('orchestrator_tasks')
            .addColumn('id', 'text', (c) => c.primaryKey())
            .addColumn('workflow_id', 'text', (c) => c.notNull())
            .addColumn('workflow_type', 'text', (c) => c.notNull())
            .addColumn('position', 'integer', (c) => c.notNull())
            .addColumn('name', 'text', (c) => c.notNull())
            .addColumn('command', 'text', (c) => c.notNull())
            .addColumn('args', 'text', (c) => c.notNull())
            .addColumn('dependencies', 'text', (c) => c.notNull())
            .addColumn('env', 'text', (c) => c.notNull())
            .addColumn('status', 'text', (c) => c.notNull())
            .addColumn('created_at', 'text', (c) => c.notNull())
            .addColumn('started_at', 'text')
            .addColumn('completed_at', 'text')
            .addColumn('output', 'text')
            .addColumn('error', 'text')
            .addColumn('progress', 'integer', (c) => c.notNull())
            .execute();
          await db.schema
            .createIndex('orchestrator_tasks_status')
            .on('orchestrator_tasks')
            .columns(['status', 'created_at'])
            .execute();
          await db.schema
            .createIndex('orchestrator_tasks_workflow')
            .on('orchestrator_tasks')
            .column('workflow_id')
            .execute();
        },
      },
    ]);
    await this.#database.run('recover', (db) =>
      db
        .updateTable('orchestrator_tasks')
        .set({ status: 'Failed', error: 'interrupted by a restart', completed_at: this.#now() })
        .where('status', '=', 'Running')
        .execute(),
    );
    this.#started = true;
    this.#emit('system', 'started', {});
    void this.#schedule();
  }

  /** Waits for running tasks (cancelling them after `timeoutMs`). */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.#stopping = true;
    const timer = setTimeout(() => {
      for (const controller of this.#running.values()) controller.abort();
    }, timeoutMs);
    timer.unref();
    await Promise.allSettled([...this.#done]);
    clearTimeout(timer);
  }

  /** The template names, e.g. `servers.create`. */
  get workflowTypes(): string[] {
    return Object.keys(this.#templates);
  }

  /** Submits a workflow; resolves its id and tasks once persisted. */
  async submit(
    type: string,
    input: { infra: string; params: Readonly<Record<string, unknown>> },
  ): Promise<{ workflow_id: string; tasks: WorkflowTask[] }> {
    const steps = this.#templates[type];
    if (steps === undefined) throw new WorkflowError('UNKNOWN_WORKFLOW', `unknown workflow type ${type}`, 400);
    const workflowId = uuidv7(this.#clock);
    const ids = new Map(steps.map((s) => [s.name, uuidv7(this.#clock)]));
    const now = this.#now();
    const env = JSON.stringify({
      PROVISIONING_WORKFLOW_ID: workflowId,
      PROVISIONING_WORKFLOW_TYPE: type,
      PROVISIONING_INFRA: input.infra,
      PROVISIONING_PARAMS: JSON.stringify(input.params),
    });
    const rows = steps.map((step, position) => ({
      id: ids.get(step.name) as string,
      workflow_id: workflowId,
      workflow_type: type,
      position,
      name: step.name,
      command: step.command,
      args: JSON.stringify(step.args),
      dependencies: JSON.stringify(
        (step.after ?? []).map((n) => ids.get(n)).filter((x): x is string => x !== undefined),
      ),
      env,
      status: 'Pending' as const,
      created_at: now,
      started_at: null,
      completed_at: null,
      output: null,
      error: null,
      progress: 0,
    }));
    await this.#database.run('submit', (db) => db.insertInto('orchestrator_tasks').values(rows).execute());
    const tasks = rows.map(toTask);
    for (const task of tasks) this.#emit('task', 'created', task);
    void this.#schedule();
    return { workflow_id: workflowId, tasks };
  }

  /** Tasks, newest first, filtered by status. */
  async listTasks(query: {
    status?: TaskStatus;
    limit: number;
    offset: number;
    workflowId?: string;
  }): Promise<WorkflowTask[]> {
    const rows = await this.#database.run('listTasks', (db) => {
      let q = db.selectFrom('orchestrator_tasks').selectAll();
      if (query.status !== undefined) q = q.where('status', '=', query.status);
      if (query.workflowId !== undefined) q = q.where('workflow_id', '=', query.workflowId);
      return q
        .orderBy('created_at', 'desc')
        .orderBy('position', 'desc')
        .limit(query.limit)
        .offset(query.offset)
        .execute();
    });
    return rows.map(toTask);
  }

  /** One task. */
  async getTask(id: string): Promise<WorkflowTask> {
    const row = await this.#database.run('getTask', (db) =>
      db.selectFrom('orchestrator_tasks').selectAll().where('id', '=', id).executeTakeFirst(),
    );
    if (row === undefined) throw new WorkflowError('NOT_FOUND', 'no such task', 404);
    return toTask(row);
  }

  /** The infrastructure (workspace) a task or workflow acts on, or `undefined` for an unknown id. */
  async infraOf(id: string): Promise<string | undefined> {
    const row = await this.#database.run('infraOf', (db) =>
      db
        .selectFrom('orchestrator_tasks')
        .select('env')
        .where((eb) => eb.or([eb('id', '=', id), eb('workflow_id', '=', id)]))
        .limit(1)
        .executeTakeFirst(),
    );
    if (row === undefined) return undefined;
    const infra = (JSON.parse(row.env) as { PROVISIONING_INFRA?: unknown }).PROVISIONING_INFRA;
    return typeof infra === 'string' ? infra : undefined;
  }

  /** Cancels a task, or every unfinished task of a workflow when given a workflow id. */
  async cancel(id: string): Promise<WorkflowTask[]> {
    const rows = await this.#database.run('cancel', (db) =>
      db
        .selectFrom('orchestrator_tasks')
        .selectAll()
        .where((eb) => eb.or([eb('id', '=', id), eb('workflow_id', '=', id)]))
        .execute(),
    );
    if (rows.length === 0) throw new WorkflowError('NOT_FOUND', 'no such task or workflow', 404);
    const open = rows.filter((r) => r.status === 'Pending' || r.status === 'Running');
    if (open.length === 0) throw new WorkflowError('NOT_CANCELLABLE', 'nothing left to cancel', 409);
    const ids = open.map((r) => r.id);
    await this.#database.run('cancel', (db) =>
      db
        .updateTable('orchestrator_tasks')
        .set({ status: 'Cancelled', completed_at: this.#now(), error: 'cancelled' })
        .where('id', 'in', ids)
        .where('status', 'in', ['Pending', 'Running'])
        .execute(),
    );
    for (const taskId of ids) this.#running.get(taskId)?.abort();
    const after = await Promise.all(ids.map((taskId) => this.getTask(taskId)));
    for (const task of after) this.#emit('task', 'cancelled', task);
    return after;
  }

  #now(): string {
    return new Date(this.#clock.now()).toISOString();
  }

  #emit(type: EngineEvent['type'], event: string, data: unknown): void {
    this.emit('event', { type, event, data, timestamp: this.#now() });
  }

  #scheduling = false;
  async #schedule(): Promise<void> {
    if (!this.#started || this.#stopping || this.#scheduling) return;
    this.#scheduling = true;
    try {
      const free = this.#maxConcurrent - this.#running.size;
      if (free <= 0) return;
      const pending = await this.#database.run('schedule', (db) =>
        db
          .selectFrom('orchestrator_tasks')
          .selectAll()
          .where('status', '=', 'Pending')
          .orderBy('created_at')
          .orderBy('position')
          .execute(),
      );
      let started = 0;
      for (const row of pending) {
        if (started >= free) break;
        const deps = JSON.parse(row.dependencies) as string[];
        if (deps.length > 0) {
          const states = await this.#database.run('deps', (db) =>
            db.selectFrom('orchestrator_tasks').select(['status']).where('id', 'in', deps).execute(),
          );
          if (states.some((s) => s.status === 'Failed' || s.status === 'Cancelled')) {
            await this.#finish(row.id, 'Cancelled', null, 'a dependency did not complete');
            continue;
          }
          if (states.some((s) => s.status !== 'Completed')) continue;
        }
        started += 1;
        this.#launch(row);
      }
    } finally {
      this.#scheduling = false;
    }
  }

  #launch(row: Tables['orchestrator_tasks']): void {
    const controller = new AbortController();
    this.#running.set(row.id, controller);
    const run = (async () => {
      const claimed = await this.#database.run('claim', (db) =>
        db
          .updateTable('orchestrator_tasks')
          .set({ status: 'Running', started_at: this.#now() })
          .where('id', '=', row.id)
          .where('status', '=', 'Pending')
          .executeTakeFirst(),
      );
      if (Number(claimed.numUpdatedRows) === 0) return;
      this.#emit('task', 'started', await this.getTask(row.id));
      try {
        const { output } = await this.#executor.run(
          { id: row.id, name: row.name, command: row.command, args: JSON.parse(row.args), env: JSON.parse(row.env) },
          {
            signal: controller.signal,
            onProgress: (percent) => {
              void this.#database
                .run('progress', (db) =>
                  db.updateTable('orchestrator_tasks').set({ progress: percent }).where('id', '=', row.id).execute(),
                )
                .then(() => this.#emit('task', 'progress', { id: row.id, progress: percent }))
                .catch(() => {});
            },
          },
        );
        await this.#finish(row.id, 'Completed', output, null);
      } catch (error) {
        if (!controller.signal.aborted) await this.#finish(row.id, 'Failed', null, (error as Error).message);
      }
    })()
      .catch(() => {})
      .finally(() => {
        this.#running.delete(row.id);
        this.#done.delete(run);
        void this.#schedule();
      });
    this.#done.add(run);
  }

  async #finish(id: string, status: TaskStatus, output: string | null, error: string | null): Promise<void> {
    await this.#database.run('finish', (db) =>
      db
        .updateTable('orchestrator_tasks')
        .set({ status, output, error, completed_at: this.#now(), ...(status === 'Completed' ? { progress: 100 } : {}) })
        .where('id', '=', id)
        .where('status', 'in', ['Pending', 'Running'])
        .execute(),
    );
    this.#emit('task', status.toLowerCase(), await this.getTask(id));
    void this.#schedule();
  }
}

function toTask(row: Tables['orchestrator_tasks']): WorkflowTask {
  return {
    id: row.id,
    workflow_id: row.workflow_id,
    name: row.name,
    command: row.command,
    args: JSON.parse(row.args) as string[],
    dependencies: JSON.parse(row.dependencies) as string[],
    status: row.status,
    created_at: row.created_at,
    started_at: row.started_at,
    completed_at: row.completed_at,
    output: row.output,
    error: row.error,
    progress: Number(row.progress),
  };
}
