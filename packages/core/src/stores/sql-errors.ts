import { CoreError, isSdkError, type SdkError } from '../errors.js';
import type { SqlDialectName } from './sql-database.js';

// SQLSTATE classes and codes after which the same statement may succeed on a
// new connection or a later attempt: connection exceptions (08), operator
// intervention (57P0x), too many connections, serialization failures and deadlocks.
const PG_RETRYABLE = /^(08|57P0[1-4]|53300|40001|40P01)/;
const NODE_NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const PG_NET_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused/i;

/**
 * Maps an error from a SQL driver (pg or better-sqlite3) to a {@link CoreError}
 * without copying its message when that message could hold data: the SQL
 * text and parameters stay in `cause` only.
 */
export function mapSqlError(dialect: SqlDialectName, error: unknown, operation: string): CoreError | SdkError {
  // The SDK's own errors (a store's validation inside run()) pass through unchanged.
  if (isSdkError(error)) return error;
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  let retryable = false;
  if (dialect === 'postgres') {
    retryable =
      (code !== undefined && (PG_RETRYABLE.test(code) || NODE_NET_CODES.has(code))) || PG_NET_MESSAGES.test(message);
  } else {
    retryable = code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || (code?.startsWith('SQLITE_BUSY_') ?? false);
    if (/database connection is not open/i.test(message)) {
      return new CoreError(`${operation}: the SQLite database is closed`, {
        code: 'ERR_STORE_CLOSED',
        fault: 'client',
        cause: error,
      });
    }
  }
  return new CoreError(
    retryable
      ? `${operation}: the ${dialect} backend is unavailable (${code ?? 'connection lost'})`
      : `${operation}: the ${dialect} backend failed (${code ?? 'unknown error'})`,
    {
      code: retryable ? 'ERR_STORE_UNAVAILABLE' : 'ERR_STORE_FAILURE',
      fault: 'server',
      retryable,
      cause: error,
      details: { operation, driverCode: code },
    },
  );
}
