/**
 * The SQL lease store (SQLite and PostgreSQL through `@provisioning/core/sql`).
 *
 * @module
 */
export type { SqlLeaseStoreOptions } from './stores/sql.js';
export { sqlLeaseStore } from './stores/sql.js';
