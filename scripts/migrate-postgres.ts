/**
 * Apply Quest's PostgreSQL migrations by hand (the store also applies them when it opens), or print their SQL.
 *
 *   npm run migrate:postgres -- [connection string] [--schema=quest]    apply what is missing; print what was done
 *   npm run migrate:postgres -- --print [--schema=quest]                print the SQL (for psql), touch nothing
 *
 * The connection string defaults to $QUEST_PG_URL, then to node-postgres's PG* environment variables.
 */
import pg from 'pg';
import { DEFAULT_SCHEMA, MIGRATIONS, migrate } from '../src/storage/postgres/index.js';
import { quoteIdentifier } from '../src/storage/postgres/migrations.js';

const args = process.argv.slice(2);
const schema = args.find((arg) => arg.startsWith('--schema='))?.slice('--schema='.length) ?? DEFAULT_SCHEMA;
const connectionString = args.find((arg) => !arg.startsWith('--')) ?? process.env.QUEST_PG_URL;

/** The migrations as one psql script, recording themselves in quest_migrations as the store does. */
function script(): string {
  const quoted = quoteIdentifier(schema);
  const lines = [
    'BEGIN;',
    `CREATE SCHEMA IF NOT EXISTS ${quoted};`,
    `CREATE TABLE IF NOT EXISTS ${quoted}.quest_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());`,
  ];
  for (const migration of MIGRATIONS) {
    lines.push(`-- ${migration.id}: ${migration.name}`);
    lines.push(`INSERT INTO ${quoted}.quest_migrations (id, name) VALUES (${migration.id}, '${migration.name.replaceAll("'", "''")}');`);
    lines.push(migration.sql.replaceAll(':SCHEMA', quoted).trim());
  }
  lines.push('COMMIT;');
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  if (args.includes('--print')) {
    process.stdout.write(script());
    return;
  }
  const pool = new pg.Pool({ connectionString, max: 2 });
  pool.on('error', () => undefined);
  try {
    const { applied, version } = await migrate(pool, schema);
    console.log(applied.length === 0 ? `schema ${schema} is up to date (version ${version})` : `schema ${schema}: applied ${applied.join(', ')}; now at version ${version}`);
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
