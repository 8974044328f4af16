import { memoryStore } from '@provisioning/core';
import { describeMfaStore } from '../../test/mfa-store-conformance.js';
import { describeMfaServiceOn } from '../../test/service-conformance.js';
import { memoryMfaStore } from './memory.js';

describeMfaStore({
  name: 'memory',
  open: async () => memoryMfaStore(),
  // One process: a "peer" is the same object (the memory store is per process by design).
  openPeer: async (first) => ({ ...first, close: async () => {} }),
});

describeMfaServiceOn({
  name: 'memory',
  async open(clock) {
    return { store: memoryMfaStore(), kv: memoryStore({ clock }) };
  },
  openPeer: async (_clock, first) => ({
    store: { ...first.store, close: async () => {} },
    kv: { ...first.kv, id: first.kv.id, close: async () => {} } as typeof first.kv,
  }),
});
