import { describeAuditStore } from '../../test/store-conformance.js';
import { memoryAuditStore } from './memory.js';

describeAuditStore({
  name: 'memory',
  open: async () => memoryAuditStore(),
  reopen: async (first) => first,
});
