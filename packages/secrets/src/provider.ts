import type { Clock } from '@provisioning/core';
import type { Lease } from './lease.js';

/** What a provider is told when it creates a secret. */
export interface ProviderCreateContext {
  /** The lease the secret will belong to (already persisted, state `creating`, unless the provider is {@link SecretProvider.local}). */
  readonly leaseId: string;
  readonly owner: string;
  /** The TTL granted, in seconds. */
  readonly ttlSeconds: number;
  /** When the secret must stop working; providers that can, make the backend enforce it too. */
  readonly expiresAt: Date;
  /** Aborted when the manager's provider timeout elapses. */
  readonly signal: AbortSignal;
  readonly clock: Clock;
}

/** What a provider returns from {@link SecretProvider.create}. */
export interface ProviderCreateResult<S> {
  /** The secret handed to the caller once; never persisted by the manager. */
  readonly secret: S;
  /**
   * Secret-free strings needed to renew and revoke (a role name, a key
   * fingerprint, a Vault lease id). Persisted with the lease.
   */
  readonly metadata?: Readonly<Record<string, string>>;
  /**
   * When the backend itself ends the secret, if earlier than the lease's
   * expiry (a Vault lease duration, an STS expiration): the lease is
   * shortened to it.
   */
  readonly expiresAt?: Date;
}

/** What a provider may return from {@link SecretProvider.renew}. */
export interface ProviderRenewResult {
  /** The expiry the backend granted, if shorter than asked: the lease follows it. */
  readonly expiresAt?: Date;
}

/** What a provider is told when a lease is renewed. */
export interface ProviderRenewContext {
  /** The TTL granted from now, in seconds. */
  readonly ttlSeconds: number;
  /** The new expiry. */
  readonly expiresAt: Date;
  readonly signal: AbortSignal;
}

/** What a provider is told when a lease is revoked. */
export interface ProviderRevokeContext {
  readonly signal: AbortSignal;
}

/**
 * A dynamic-secret backend plugged into the lease manager.
 *
 * Contract:
 * - `create` makes the secret; if it throws, it must have made nothing (or
 *   cleaned up). A timeout is treated as "maybe created": the lease is kept
 *   and revoked, so `revoke` must tolerate a secret that does not exist.
 * - `revoke` must be idempotent: after a crash or a lost answer it is called
 *   again for the same lease.
 * - `renew` is optional; without it leases of this provider are not renewable.
 *
 * @typeParam R - the request `create` takes.
 * @typeParam S - the secret `create` returns.
 * @example
 * ```ts
 * const tokens: SecretProvider<{ scope: string }, string> = {
 *   name: 'demo-token',
 *   async create(req, ctx) { return { secret: await api.mint(req.scope, ctx.expiresAt), metadata: { scope: req.scope } }; },
 *   async revoke(lease) { await api.burn(lease.id); },
 * };
 * ```
 */
export interface SecretProvider<R = unknown, S = unknown> {
  /** Unique name: lowercase letters, digits, `-`, `_`, `.`; the prefix of its lease ids. */
  readonly name: string;
  /**
   * `true` when `create` makes the secret in this process and nowhere else
   * (a key pair, a certificate): nothing exists outside until the caller
   * receives it, so there is nothing a crash could leave unrevoked. The
   * manager then persists the lease once, already active, after `create`
   * (one write instead of two); if that write fails the secret is dropped,
   * never returned. Default `false`: the lease is persisted before `create`.
   */
  readonly local?: boolean;
  create(request: R, context: ProviderCreateContext): Promise<ProviderCreateResult<S>>;
  // biome-ignore lint/suspicious/noConfusingVoidType: providers with nothing to report simply return
  renew?(lease: Lease, context: ProviderRenewContext): Promise<ProviderRenewResult | undefined | void>;
  revoke(lease: Lease, context: ProviderRevokeContext): Promise<void>;
}

/**
 * @internal A local provider's `create` as a plain function: it makes the
 * secret before it returns, without waiting on anything.
 */
export type CreateNow<R, S> = (request: R, context: ProviderCreateContext) => ProviderCreateResult<S>;

// biome-ignore lint/suspicious/noExplicitAny: providers of any request and secret type
const synchronousCreates = new WeakMap<SecretProvider<any, any>, CreateNow<any, any>>();

/**
 * @internal A {@link SecretProvider.local} provider whose secret is made
 * synchronously (the SSH key pair and certificate providers). Its public
 * `create` is the same function behind a promise; the lease manager calls the
 * function itself (see {@link synchronousCreate}), which saves the provider
 * call's promise, its timeout bookkeeping and a context with a getter (with
 * the promise-chain `issue`, ~8 µs of ~25 µs of own work per certificate,
 * measured with the cryptography stubbed). Nothing is lost by it: a timeout
 * cannot fire while synchronous code runs, and the manager never armed one
 * for a provider that answered within a microtask anyway. A copy of the
 * object (`{ ...provider }`) is not registered and takes the asynchronous
 * path, so a provider that is not exactly this one is never called this way.
 */
export function synchronousLocalProvider<R, S>(provider: {
  readonly name: string;
  readonly createNow: CreateNow<R, S>;
  readonly revoke: SecretProvider<R, S>['revoke'];
}): SecretProvider<R, S> {
  const { createNow } = provider;
  const made: SecretProvider<R, S> = {
    name: provider.name,
    local: true,
    async create(request, context) {
      return createNow(request, context);
    },
    revoke: provider.revoke,
  };
  synchronousCreates.set(made, createNow);
  return made;
}

/** @internal The synchronous `create` of a provider made by {@link synchronousLocalProvider}, if it is one. */
export function synchronousCreate<R, S>(provider: SecretProvider<R, S>): CreateNow<R, S> | undefined {
  return synchronousCreates.get(provider);
}
