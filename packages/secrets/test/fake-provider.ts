import type { SecretProvider } from '../src/provider.js';

/** A provider whose backend is a Set, with switchable failures. */
export function fakeProvider(name = 'fake') {
  const live = new Set<string>();
  const calls: string[] = [];
  const state = { failCreate: false, hangCreate: false, failRevoke: 0, failRenew: false, hangRevoke: false };
  const provider: SecretProvider<{ scope: string }, string> & {
    live: Set<string>;
    calls: string[];
    state: typeof state;
  } = {
    name,
    live,
    calls,
    state,
    async create(req, ctx) {
      calls.push(`create:${req.scope}`);
      if (state.hangCreate) {
        live.add(ctx.leaseId); // it did create, but the answer never comes
        await new Promise(() => {});
      }
      if (state.failCreate) throw new Error('backend said no: password=hunter2');
      live.add(ctx.leaseId);
      return { secret: `secret-for-${ctx.leaseId}`, metadata: { scope: req.scope } };
    },
    async renew(lease) {
      calls.push(`renew:${lease.id}`);
      if (state.failRenew) throw new Error('renew failed');
    },
    async revoke(lease) {
      calls.push(`revoke:${lease.id}`);
      if (state.hangRevoke) await new Promise(() => {});
      if (state.failRevoke > 0) {
        state.failRevoke -= 1;
        throw new Error('backend down');
      }
      live.delete(lease.id);
    },
  };
  return provider;
}
