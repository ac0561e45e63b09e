/**
 * Connecting a {@link PostgresStore}: its options, the pool it makes for a connection string, how the target is
 * named in messages (without its password), and the schema made ready on open (migrated, or with `existingOnly`
 * only checked).
 */
import pg from 'pg';
import { InvalidArgumentError, NotAQuestStoreError, StorageError, isQuestError } from '../../core/errors.js';
import { storageError } from '../storage-error.js';
import { MIGRATIONS, appliedVersion, checkSchemaName, migrate } from './migrations.js';

/** Where a {@link PostgresStore} connects: a connection string (it makes its own pool) or a pool of yours. */
export type PostgresConnection = { connectionString: string; pool?: undefined } | { pool: pg.Pool; connectionString?: undefined };

/** Options of {@link PostgresStore.open}. */
export type PostgresStoreOptions = PostgresConnection & {
  /** The schema holding Quest's tables, created and migrated on open (default `'quest'`). */
  schema?: string;
  /** Connections of the pool the store makes from `connectionString` (default 10). */
  poolSize?: number;
  /** At most this many writes go into one transaction (default 1000). */
  maxBatch?: number;
  /**
   * The server ends a session of the store's own pool that sits idle inside a transaction this long (ms,
   * default 10000): a process paused (SIGSTOP, a VM frozen) in the middle of a group transaction would
   * otherwise keep its workflows' rows locked, and no other process could take them over.
   */
  idleInTransactionMs?: number;
  /**
   * Only open a schema that is there and up to date, without creating or migrating anything (what read-only
   * tools use): NotAQuestStoreError when the schema holds no Quest store, StorageError when it needs migrating.
   */
  existingOnly?: boolean;
};

/** The default schema. */
export const DEFAULT_SCHEMA = 'quest';

/** What a store opened with: its pool (and whether it made it), its schema, its batch size, its name for messages. */
export interface Connection {
  pool: pg.Pool;
  ownsPool: boolean;
  schema: string;
  maxBatch: number;
  /** The server (without password) and the schema. */
  path: string;
}

/**
 * Check `options`, make the pool (unless one is given) and the schema ready: what {@link PostgresStore.open}
 * does before it makes the store, with its errors. A pool made here is ended when this fails.
 */
export async function connect(options: PostgresStoreOptions): Promise<Connection> {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  checkSchemaName(schema);
  const maxBatch = options.maxBatch ?? 1000;
  if (!(maxBatch >= 1)) throw new InvalidArgumentError(`PostgresStore option maxBatch must be at least 1 (got ${maxBatch}).`);
  const ownsPool = options.pool === undefined;
  const pool = options.pool ?? createPool(options);
  try {
    if (options.existingOnly === true) await checkExisting(pool, schema, describeTarget(options));
    else await migrate(pool, schema);
  } catch (error) {
    if (ownsPool) await pool.end().catch(() => undefined);
    if (isQuestError(error)) throw error;
    throw storageError(`open the PostgreSQL store (schema ${JSON.stringify(schema)} at ${describeTarget(options)}). Is the server running and the connection right?`, error);
  }
  return { pool, ownsPool, schema, maxBatch, path: `${describeTarget(options)} (schema ${schema})` };
}

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
