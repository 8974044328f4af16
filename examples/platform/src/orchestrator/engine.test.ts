import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteDatabase } from '@provisioning/core/sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { type EngineEvent, WorkflowEngine, type WorkflowTask, type WorkflowTemplates } from './engine.js';
import { processExecutor } from './executor.js';

const node = process.execPath;
const step = (name: string, script: string, after?: string[]) => ({ name, command: node, args: ['-e', script], after });
const templates: WorkflowTemplates = {
  'servers.create': [
    step(
      'validate',
      'console.log("PROGRESS 50"); console.log("valid " + JSON.parse(process.env.PROVISIONING_PARAMS).hostname)',
    ),
    step('provision', 'setTimeout(() => console.log("provisioned"), 50)', ['validate']),
    step('configure', 'console.log("configured")', ['provision']),
  ],
  'fails.midway': [step('first', 'process.exit(3)'), step('second', 'console.log("never")', ['first'])],
  'slow.one': [step('sleep', 'setTimeout(() => {}, 60_000)')],
};

const dirs: string[] = [];
const engines: WorkflowEngine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop(100);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function open(file?: string, timeoutMs = 5000) {
  const path = file ?? join(mkdtempSync(join(tmpdir(), 'orch-')), 'state.db');
  dirs.push(join(path, '..'));
  const database = sqliteDatabase({ filename: path });
  const engine = new WorkflowEngine({
    database,
    executor: processExecutor({ timeoutMs }),
    templates,
    maxConcurrent: 2,
  });
  const events: EngineEvent[] = [];
  engine.on('event', (e) => events.push(e));
  await engine.start();
  engines.push(engine);
  return { engine, events, path, database };
}

async function until(
  engine: WorkflowEngine,
  workflowId: string,
  done: (tasks: WorkflowTask[]) => boolean,
): Promise<WorkflowTask[]> {
  for (let i = 0; i < 200; i++) {
    const tasks = await engine.listTasks({ workflowId, limit: 100, offset: 0 });
    if (done(tasks)) return tasks;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('workflow did not settle');
}
const settled = (tasks: WorkflowTask[]) => tasks.every((t) => !['Pending', 'Running'].includes(t.status));

describe('workflow engine', () => {
  it('runs a workflow as a DAG of child processes, in dependency order, with output and progress', async () => {
    const { engine, events } = await open();
    const { workflow_id, tasks } = await engine.submit('servers.create', {
      infra: 'prod',
      params: { hostname: 'web-1' },
    });
    expect(tasks.map((t) => t.status)).toEqual(['Pending', 'Pending', 'Pending']);
    const done = await until(engine, workflow_id, settled);
    const byName = Object.fromEntries(done.map((t) => [t.name, t]));
    expect(done.every((t) => t.status === 'Completed' && t.progress === 100)).toBe(true);
    expect(byName.validate?.output).toContain('valid web-1');
    expect(byName.provision?.dependencies).toEqual([byName.validate?.id]);
    expect(Date.parse(byName.provision?.started_at ?? '')).toBeGreaterThanOrEqual(
      Date.parse(byName.validate?.completed_at ?? ''),
    );
    expect(events.some((e) => e.event === 'progress')).toBe(true);
  });

  it('fails a task on a non-zero exit and cancels what depends on it', async () => {
    const { engine } = await open();
    const { workflow_id } = await engine.submit('fails.midway', { infra: 'dev', params: {} });
    const done = await until(engine, workflow_id, settled);
    const byName = Object.fromEntries(done.map((t) => [t.name, t]));
    expect(byName.first).toMatchObject({ status: 'Failed', error: 'exited with 3' });
    expect(byName.second?.status).toBe('Cancelled');
  });

  it('kills a task at its timeout', async () => {
    const { engine } = await open(undefined, 200);
    const { workflow_id } = await engine.submit('slow.one', { infra: 'dev', params: {} });
    const [task] = await until(engine, workflow_id, settled);
    expect(task).toMatchObject({ status: 'Failed', error: 'timed out after 200 ms' });
  });

  it('cancels a running workflow and kills its process', async () => {
    const { engine } = await open();
    const { workflow_id } = await engine.submit('slow.one', { infra: 'dev', params: {} });
    await until(engine, workflow_id, (t) => t[0]?.status === 'Running');
    const cancelled = await engine.cancel(workflow_id);
    expect(cancelled.map((t) => t.status)).toEqual(['Cancelled']);
    await expect(engine.cancel(workflow_id)).rejects.toMatchObject({ code: 'NOT_CANCELLABLE' });
  });

  it('refuses unknown workflow types and unknown tasks', async () => {
    const { engine } = await open();
    await expect(engine.submit('nope', { infra: 'x', params: {} })).rejects.toMatchObject({
      code: 'UNKNOWN_WORKFLOW',
      status: 400,
    });
    await expect(engine.getTask('missing')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
  });

  it('persists state: a task running when the process went away is failed as interrupted on restart', async () => {
    const first = await open();
    const { workflow_id } = await first.engine.submit('slow.one', { infra: 'dev', params: {} });
    await until(first.engine, workflow_id, (t) => t[0]?.status === 'Running');
    // Shutdown kills the child; the row stays Running, as after a crash.
    engines.splice(engines.indexOf(first.engine), 1);
    await first.engine.stop(10);
    expect((await first.engine.listTasks({ workflowId: workflow_id, limit: 1, offset: 0 }))[0]?.status).toBe('Running');
    await first.database.close();
    const second = await open(first.path);
    const [task] = await second.engine.listTasks({ workflowId: workflow_id, limit: 10, offset: 0 });
    expect(task).toMatchObject({ status: 'Failed', error: 'interrupted by a restart' });
    const failed = await second.engine.listTasks({ status: 'Failed', limit: 50, offset: 0 });
    expect(failed.map((t) => t.id)).toContain(task?.id);
  });
});
