import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '@provisioning/core';
import type {
  CreateClusterRequest,
  CreateServerRequest,
  CreateTaskservRequest,
} from '@provisioning/platform-client/api';
import { OperationFailure, type OperationWork } from './runner.js';
import type { ApiStore } from './store.js';

/** The step every simulated operation waits on (a provider call in a real deployment). */
export type ProvisioningStep = (type: string, signal: AbortSignal) => Promise<void>;

/** A step that waits `ms` milliseconds and stops when aborted. */
export function delayStep(ms: number): ProvisioningStep {
  return (_type, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(new Error('aborted'));
      const timer = setTimeout(resolve, ms);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(new Error('aborted'));
        },
        { once: true },
      );
    });
}

/**
 * The work of each operation type. Provisioning is simulated (a step, then
 * records); what is real is the bookkeeping: the runner persists every
 * transition and applies the effect only if the operation is still running.
 * `check_mode` plans without changing anything.
 */
export function simulatedProvisioner(
  store: ApiStore,
  clock: Clock,
  step: ProvisioningStep,
): Record<string, OperationWork> {
  const now = () => new Date(clock.now()).toISOString();
  return {
    async 'server.create'(op, signal) {
      const p = op.params as unknown as CreateServerRequest;
      await step(op.type, signal);
      if (await store.findServer(p.hostname)) throw new OperationFailure(`a server named ${p.hostname} already exists`);
      const plan = { action: 'create', provider: p.provider, plan: p.plan, zone: p.zone, hostname: p.hostname };
      if (p.check_mode) return { result: { check_mode: true, plan } };
      const server = {
        id: `srv-${randomUUID()}`,
        hostname: p.hostname,
        provider: p.provider,
        plan: p.plan,
        zone: p.zone,
        // A TEST-NET-3 address (RFC 5737): clearly simulated.
        ip_address: `203.0.113.${1 + ((randomBytes(1)[0] as number) % 254)}`,
        status: 'running',
        created_at: now(),
        workspace: p.workspace,
        tags: p.tags,
      };
      const { workspace: _w, tags: _t, ...result } = server;
      return { result, effect: { insert: server } };
    },
    async 'server.delete'(op, signal) {
      const id = String(op.params.id);
      await step(op.type, signal);
      if (!(await store.getServer(id))) throw new OperationFailure(`server ${id} no longer exists`);
      return { result: { id, deleted: true }, effect: { delete: id } };
    },
    async 'taskserv.create'(op, signal) {
      const p = op.params as unknown as CreateTaskservRequest;
      await step(op.type, signal);
      const targets: string[] = [];
      for (const ref of p.servers) {
        const server = await store.findServer(ref);
        if (server === undefined) throw new OperationFailure(`server ${ref} not found`);
        targets.push(server.id);
      }
      return {
        result: {
          taskserv: p.taskserv,
          workspace: p.workspace,
          servers: targets,
          status: p.check_mode ? 'planned' : 'installed',
          check_mode: p.check_mode,
        },
      };
    },
    async 'cluster.create'(op, signal) {
      const p = op.params as unknown as CreateClusterRequest;
      await step(op.type, signal);
      return {
        result: {
          cluster: p.cluster,
          workspace: p.workspace,
          node_count: p.node_count,
          status: p.check_mode ? 'planned' : 'ready',
          check_mode: p.check_mode,
        },
      };
    },
  };
}
