// The request mix both benchmarks decide: the shipped policies' realistic
// entities (11 users in 5 teams / 5 roles, 3 environments, servers, clusters,
// workflows, secrets, keys, break-glass sessions) and 8 kinds of request
// (deploys, reads, deletes, SSH, break-glass, audit export), each with the
// entity slice it needs.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { closure } from '../src/entities.js';
import { type AuthorizationRequest, createContextBuilder } from '../src/index.js';
import { type CedarEntity, type EntityRef, entityKey, forEachEntityRef, parseEntityRef } from '../src/uid.js';

export const entities: CedarEntity[] = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'test', 'fixtures', 'entities.json'), 'utf8'),
) as CedarEntity[];
const pool = new Map(entities.map((e) => [entityKey(e.uid), e]));
const at = Date.parse('2026-01-06T10:00:00Z');
const contexts = createContextBuilder();
const ctx = (extra: Parameters<typeof contexts.build>[0] extends infer T ? Partial<T> : never = {}) =>
  contexts.build({ clientIp: '10.0.0.5', at, mfaVerifiedAt: at - 60_000, ...extra });
const u = (id: string) => `Provisioning::User::"${id}"`;
const mix: Omit<AuthorizationRequest, 'entities'>[] = [
  {
    principal: u('sam'),
    action: 'deploy',
    resource: 'Provisioning::Server::"prod-web"',
    context: ctx({ approvalId: 'CHG-1' }),
  },
  { principal: u('dana'), action: 'read', resource: 'Provisioning::Server::"prod-web"', context: ctx() },
  {
    principal: u('root'),
    action: 'delete',
    resource: 'Provisioning::Server::"prod-web"',
    context: ctx({ mfaVerifiedAt: null }),
  },
  { principal: u('vic'), action: 'monitor', resource: 'Provisioning::Cluster::"prod-k8s"', context: ctx() },
  {
    principal: u('sam'),
    action: 'ssh',
    resource: 'Provisioning::Server::"prod-web"',
    context: ctx({ approvalId: 'CHG-2' }),
  },
  {
    principal: u('dana'),
    action: 'deploy',
    resource: 'Provisioning::Server::"stg-web"',
    context: ctx({ approvalId: 'CHG-3' }),
  },
  {
    principal: u('sam'),
    action: 'delete',
    resource: 'Provisioning::Server::"prod-web"',
    context: ctx({ approvalId: 'EMERGENCY-1', breakGlassSession: 'Provisioning::BreakGlassSession::"bg-sam"' }),
  },
  { principal: u('avery'), action: 'export', resource: 'Provisioning::AuditLog::"main"', context: ctx() },
];

/** Each request of the mix with the entity slice it needs. */
export const requests: AuthorizationRequest[] = mix.map((r) => {
  const roots = [parseEntityRef(r.principal), parseEntityRef(r.resource)];
  forEachEntityRef(r.context, (ref) => roots.push(ref));
  return { ...r, entities: closure(roots, pool) };
});

/** The same requests as cedar-wasm call fields. */
export const calls: {
  principal: EntityRef;
  action: EntityRef;
  resource: EntityRef;
  context: never;
  entities: never;
}[] = requests.map((r) => ({
  principal: parseEntityRef(r.principal),
  action: parseEntityRef(r.action, 'Provisioning'),
  resource: parseEntityRef(r.resource),
  context: r.context as never,
  entities: r.entities as never,
}));

export const avgEntities: number = requests.reduce((n, r) => n + (r.entities?.length ?? 0), 0) / requests.length;
