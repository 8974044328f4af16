// What both middleware benchmarks decide over: the resource of
// `GET /servers/prod-web` with its workspace and environment, as the entity
// provider has them. Nobody else is known to it: the Viewer role and the
// workspace's owner are uids without an entity, looked up on every decision.
import type { CedarEntity } from '@provisioning/authz';

const ns = 'Provisioning';
const ref = (type: string, id: string) => ({ __entity: { type: `${ns}::${type}`, id } });

export const benchEntities: readonly CedarEntity[] = [
  {
    uid: { type: `${ns}::Environment`, id: 'prod' },
    attrs: { name: 'prod', tier: 'production', requires_approval: true, requires_mfa: true },
    parents: [],
  },
  {
    uid: { type: `${ns}::Workspace`, id: 'ws-prod' },
    attrs: { name: 'ws-prod', owner: ref('User', 'root'), environment: ref('Environment', 'prod') },
    parents: [{ type: `${ns}::Environment`, id: 'prod' }],
  },
  {
    uid: { type: `${ns}::Server`, id: 'prod-web' },
    attrs: {
      hostname: 'prod-web.example.com',
      provider: 'upcloud',
      status: 'running',
      workspace: ref('Workspace', 'ws-prod'),
      environment: ref('Environment', 'prod'),
    },
    parents: [{ type: `${ns}::Workspace`, id: 'ws-prod' }],
  },
];
