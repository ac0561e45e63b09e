/**
 * Connecting a {@link PostgresStore}: the pool it makes for a connection string, how the target is named in
 * messages (without its password), and the check of a schema opened without migrating it (`existingOnly`).
 */
import pg from 'pg';
import { NotAQuestStoreError, StorageError } from '../../core/errors.js';
import { MIGRATIONS, appliedVersion } from './migrations.js';

/** What the connection helpers need of the store's options. */
export interface ConnectionOptions {
  connectionString?: string | undefined;
  poolSize?: number | undefined;
  idleInTransactionMs?: number | undefined;
}

export function createPool(options: ConnectionOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    idle_in_transaction_session_timeout: options.idleInTransactionMs ?? 10_000,
  });
  // An idle connection that breaks (server restart) emits 'error' on the pool; unhandled, it would end the
  // process. The pool drops that connection and the next query opens a new one, so there is nothing to do.
  pool.on('error', () => undefined);
  return pool;
}

/** The connection string without its password, for messages. */
export function describeTarget(options: ConnectionOptions): string {
  if (options.connectionString === undefined) return 'the pool given';
  try {
    const url = new URL(options.connectionString);
    url.password = '';
    return url.toString();
  } catch {
    return 'the connection string given';
  }
}

/** For `existingOnly`: the schema holds an up-to-date Quest store, or the error says what is there instead. */
export async function checkExisting(pool: pg.Pool, schema: string, target: string): Promise<void> {
  const version = await appliedVersion(pool, schema);
  if (version === undefined) throw new NotAQuestStoreError(`${target} (schema ${schema})`, 'has no Quest tables in that schema');
  if (version !== MIGRATIONS.length) {
    throw new StorageError(
      `The PostgreSQL schema ${JSON.stringify(schema)} at ${target} is at version ${version}, this Quest needs ${MIGRATIONS.length}: ` +
        'open it with a WorkflowManager (or run the migrations) first.',
    );
  }
}
