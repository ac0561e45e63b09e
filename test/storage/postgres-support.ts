/**
 * Helpers of the PostgreSQL tests: the server to use (env QUEST_PG_URL, default the machine's local server),
 * a fresh schema per test (and a store in one: withPostgresStore), an old schema to migrate, and the gate: when the server cannot be reached, the tests FAIL in CI (env CI set)
 * with a message that says what to do, and are skipped elsewhere.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore, type PostgresStoreOptions } from '../../src/storage/postgres/index.js';
import { MIGRATIONS, quoteIdentifier } from '../../src/storage/postgres/migrations.js';

/** The database the tests use. */
export const PG_URL = process.env.QUEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const admin = new pg.Pool({ connectionString: PG_URL, max: 3 });
admin.on('error', () => undefined);
// Registered at the top level of the test file that imports this module: runs after all of its tests.
after(() => admin.end());

/** A pool for the tests' own queries (schema drops, inspection); ended after the test file. */
export function adminPool(): pg.Pool {
  return admin;
}

/** A schema name no other test (nor test process) uses. */
export function freshSchema(label = 't'): string {
  return `quest_test_${label}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** Drop `schema` and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  await adminPool().query(`DROP SCHEMA IF EXISTS ${quoteIdentifier(schema)} CASCADE`);
}

/** Create `schema` as a Quest of schema `version` left it: its first `version` migrations, recorded as applied. */
export async function schemaAtVersion(pool: pg.Pool, schema: string, version: number): Promise<void> {
  const s = quoteIdentifier(schema);
  await pool.query(`CREATE SCHEMA ${s}; CREATE TABLE ${s}.quest_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  for (const migration of MIGRATIONS.slice(0, version)) {
    await pool.query(migration.sql.replaceAll(':SCHEMA', s));
    await pool.query(`INSERT INTO ${s}.quest_migrations (id, name) VALUES ($1, $2)`, [migration.id, migration.name]);
  }
}

/** Run `body` with a store in a fresh schema, then close it and drop the schema. */
export async function withPostgresStore(
  body: (store: PostgresStore, schema: string) => Promise<void>,
  options: Partial<PostgresStoreOptions> = {},
): Promise<void> {
  const schema = freshSchema('pg');
  const store = await PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 3, ...options } as PostgresStoreOptions);
  try {
    await body(store, schema);
  } finally {
    await store.close();
    await dropSchema(schema);
  }
}

/** Why the server cannot be reached, or undefined when it can. */
async function unreachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const problem = await unreachable();

/**
 * `describe(name, body)` when the server answers. Otherwise one test that fails in CI and is skipped elsewhere,
 * saying how to get a server.
 */
export function describePostgres(name: string, body: () => void): void {
  if (problem === undefined) {
    describe(name, body);
    return;
  }
  const message =
    `PostgreSQL is not reachable at ${PG_URL} (${problem}). Start it (.ci/run does: pg_ctlcluster <version> main start) ` +
    'or point QUEST_PG_URL at a server where the user may create schemas.';
  test(`${name}: needs PostgreSQL`, (t) => {
    if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') assert.fail(message);
    t.skip(message);
  });
}

/** True when the PostgreSQL tests run (the server answers). */
export const postgresAvailable = problem === undefined;
