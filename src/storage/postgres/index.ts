/**
 * `quest-ts/postgres`: the PostgreSQL store (node-postgres). See {@link PostgresStore}.
 *
 * @example
 * import { PostgresStore } from 'quest-ts/postgres';
 * const store = await PostgresStore.open({ connectionString: 'postgres://postgres@127.0.0.1:5432/app' });
 */
export { PostgresStore } from './store.js';
export { DEFAULT_SCHEMA, type PostgresConnection, type PostgresStoreOptions } from './connection.js';
export { PostgresHistory } from './history.js';
export type { PostgresStoreStats } from './group-commit.js';
export { MIGRATIONS, migrate, type Migration, type MigrationResult } from './migrations.js';
