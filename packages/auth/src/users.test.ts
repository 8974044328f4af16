import { sqliteDatabase } from '@provisioning/core/sqlite';
import { describeUserStore } from '../test/user-store-conformance.js';
import { sqlUserStore } from './sql.js';
import { memoryUserStore } from './users.js';

describeUserStore({ name: 'memory', open: async (clock) => memoryUserStore({ clock }) });
describeUserStore({
  name: 'sqlite',
  open: async (clock) => sqlUserStore({ database: sqliteDatabase({ filename: ':memory:' }), clock }),
});
