import { describeKeyValueStore } from '../../test/kv-conformance.js';
import { memoryStore } from './memory.js';

describeKeyValueStore({
  name: 'memory',
  open: async (clock) => memoryStore({ clock }),
  openPeer: async (_clock, first) => ({ ...first, close: async () => {} }),
});
