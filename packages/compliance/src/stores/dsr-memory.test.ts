import { describeDsrStore } from '../../test/dsr-store-conformance.js';
import type { DsrStore } from '../dsr-store.js';
import { memoryDsrStore } from '../dsr-store.js';

describeDsrStore({
  name: 'memory',
  open: async () => memoryDsrStore(),
  // One process: a peer is another handle on the same map, whose close leaves the first open.
  openPeer: async (first: DsrStore) => ({ ...first, close: async () => {} }),
});
