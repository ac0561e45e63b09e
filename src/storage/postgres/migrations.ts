/**
 * The schema of a {@link PostgresStore}: numbered migrations, applied in order inside one transaction when a
 * store opens (or by hand: `npx tsx scripts/migrate-postgres.ts`), recorded in the table `quest_migrations`.
 *
 * Every table lives in one PostgreSQL schema (default `quest`), so several applications — or every test —
 * can share a database. The SQL names the schema as `:SCHEMA`, replaced by the quoted name before it runs.
 *
 * Concurrent migrators (two processes opening a fresh database at once) are serialized by a transaction-level
 * advisory lock on the schema's name: the second one waits, then finds every migration applied.
 *
 * Never edit a released migration: append a new one.
 */
import type pg from 'pg';
import { InvalidArgumentError, StorageError } from '../../core/errors.js';

/** One migration: its number (1, 2, ...: its position in {@link MIGRATIONS}), a name, its SQL. */
export interface Migration {
  id: number;
  name: string;
  sql: string;
}

/**
 * An entry's body as PostgreSQL's JSON functions can read it (migration 4): the escapes they refuse (\u0000, a
 * lone surrogate) made \ufffd, unless preceded by an odd number of backslashes (then they are text, not escapes).
 */
const READABLE_BODY = String.raw`CASE WHEN strpos(body, '\u') = 0 THEN body
          ELSE regexp_replace(body, '(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})', '\1\\ufffd', 'gi') END`;

/**
 * The migrations, oldest first.
 *
 * Bodies (records, entries, events) are stored as `text` holding JSON, not `jsonb`: jsonb refuses the escape
 * `\u0000` that JSON.stringify writes for a NUL character, and a history must round-trip exactly.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'histories, workflow entries, aliases, inbox',
    sql: `
      -- One row per live history record. Appending is one INSERT; forgetting deletes rows by seq.
      CREATE TABLE :SCHEMA.records (
        workflow_id text NOT NULL,
        seq bigint NOT NULL,
        body text NOT NULL,
        PRIMARY KEY (workflow_id, seq)
      );

      -- The manager's entries. 'position' orders entries started in the same millisecond by first insertion
      -- (an upsert keeps it). owner, lease_until and epoch are reserved for multi-process leases and not used
      -- yet: owner = the process running the workflow, lease_until = when its claim lapses (ms since the
      -- epoch), epoch = the fencing token, incremented by every new owner and checked by every write.
      CREATE TABLE :SCHEMA.workflows (
        id text PRIMARY KEY,
        state text NOT NULL,
        started_at bigint NOT NULL,
        position bigserial NOT NULL,
        body text NOT NULL,
        owner text,
        lease_until bigint,
        epoch bigint NOT NULL DEFAULT 0
      );
      CREATE INDEX workflows_by_start ON :SCHEMA.workflows (started_at, position);
      CREATE INDEX workflows_by_state ON :SCHEMA.workflows (state, started_at, position);

      CREATE TABLE :SCHEMA.aliases (
        alias text PRIMARY KEY,
        workflow_id text NOT NULL
      );
      CREATE INDEX aliases_by_workflow ON :SCHEMA.aliases (workflow_id);

      -- Outside events for workflows (EventInbox). bigserial: ids increase in posting order, never reused.
      CREATE TABLE :SCHEMA.inbox (
        id bigserial PRIMARY KEY,
        workflow_id text NOT NULL,
        posted_at bigint NOT NULL,
        body text NOT NULL
      );
    `,
  },
  {
    id: 2,
    name: 'inbox outcomes; damage detection (record checksums, history row counts)',
    sql: `
      -- What became of each settled inbox event, for its sender (EventInbox.eventOutcome), kept for a day.
      CREATE TABLE :SCHEMA.inbox_outcomes (
        id bigint PRIMARY KEY,
        status text NOT NULL,
        code text,
        message text,
        settled_at bigint NOT NULL
      );
      CREATE INDEX inbox_outcomes_by_time ON :SCHEMA.inbox_outcomes (settled_at);

      -- records.crc: the CRC-32 of body (NULL in rows written before: not checked). workflows.history_rows: how
      -- many records the history of the workflow holds, kept by every commit in the same statement, so a
      -- deleted history of a running workflow is detected on load.
      ALTER TABLE :SCHEMA.records ADD COLUMN crc bigint;
      ALTER TABLE :SCHEMA.workflows ADD COLUMN history_rows bigint;
      UPDATE :SCHEMA.workflows AS w SET history_rows = (SELECT count(*) FROM :SCHEMA.records AS r WHERE r.workflow_id = w.id);
    `,
  },
  {
    id: 3,
    name: 'leases per owner (one row renewed per process), lease losses',
    sql: `
      -- One row per owner (a manager): its lease, on the server's clock (ms since the epoch). A workflow's lease
      -- is its owner's: a heartbeat renews this one row, whatever the number of workflows the owner holds.
      CREATE TABLE :SCHEMA.owners (
        owner text PRIMARY KEY,
        lease_until bigint NOT NULL
      );
      -- The leases held at the upgrade keep their expiry (the latest of each owner's); workflows.lease_until is
      -- no longer used (a process of the previous version still renews it, but its workflows move to the new
      -- ones once this row expires: safe, its writes are fenced by the epoch; restart every process to upgrade).
      INSERT INTO :SCHEMA.owners (owner, lease_until)
        SELECT owner, coalesce(max(lease_until), 0) FROM :SCHEMA.workflows WHERE owner IS NOT NULL AND state = 'running' GROUP BY owner;

      -- A lease taken from its owner (claimed once the owner's lease expired, ended or deleted by another process):
      -- the owner's next renewal reads (and deletes) these rows, and stops the runs of those workflows.
      CREATE TABLE :SCHEMA.lease_losses (
        owner text NOT NULL,
        workflow_id text NOT NULL,
        epoch bigint NOT NULL
      );
      CREATE INDEX lease_losses_by_owner ON :SCHEMA.lease_losses (owner);

      -- What a claim looks for, without reading the workflows live owners hold: the running workflows of each
      -- owner, and those of none (NULL). Also: does a closing owner still hold some.
      CREATE INDEX workflows_by_owner ON :SCHEMA.workflows (owner) WHERE state = 'running';

      CREATE FUNCTION :SCHEMA.record_lease_loss() RETURNS trigger LANGUAGE plpgsql AS $quest_loss$
      BEGIN
        INSERT INTO :SCHEMA.lease_losses (owner, workflow_id, epoch) VALUES (OLD.owner, OLD.id, OLD.epoch);
        RETURN NULL;
      END
      $quest_loss$;
      -- Only a running workflow with an owner losing it (a new epoch, or its row deleted) calls the function:
      -- history commits, releases and ended workflows cost nothing more.
      CREATE TRIGGER lease_taken AFTER UPDATE OF epoch ON :SCHEMA.workflows FOR EACH ROW
        WHEN (OLD.owner IS NOT NULL AND OLD.state = 'running' AND NEW.epoch <> OLD.epoch)
        EXECUTE FUNCTION :SCHEMA.record_lease_loss();
      CREATE TRIGGER lease_deleted AFTER DELETE ON :SCHEMA.workflows FOR EACH ROW
        WHEN (OLD.owner IS NOT NULL AND OLD.state = 'running')
        EXECUTE FUNCTION :SCHEMA.record_lease_loss();
    `,
  },
  {
    id: 4,
    name: 'workflow types and finish times stored in columns, indexed (the counts and pages of the workflow list, the counts over time)',
    // String.raw: the backslashes of the regular expression reach PostgreSQL as written.
    sql: String.raw`
      -- The type of each entry (WorkflowEntry.type) and its finish time (finishedAt, NULL while running), written by
      -- the store with the body. The counts of the paged list (countWorkflows: GROUP BY type, state) read the index
      -- workflows_by_type alone instead of parsing the JSON of every body (seconds at a million workflows), a page
      -- of one type reads its own rows, and the counts over time (WorkflowTimeline.countByTime) count ranges of
      -- workflows_by_finish (the whole stats call 0.3–0.4 s at a million, where reading the JSON took 6 s).
      -- Not generated columns, nor expression indexes: PostgreSQL's JSON functions fail on a whole body that holds
      -- \u0000 or a lone surrogate anywhere (an argument, a result), which JSON.stringify writes and the store must
      -- accept; an index over such an expression would make the write of that entry fail.
      ALTER TABLE :SCHEMA.workflows ADD COLUMN type text, ADD COLUMN finished_at float8;
      -- Filled by rewriting the table (ALTER ... TYPE ... USING): half the time of an UPDATE at a million rows, and
      -- no dead row left behind (an UPDATE doubles the table and its indexes). Each body is read with the two
      -- escapes above made U+FFFD (an even number of backslashes before them: not an escaped backslash followed by
      -- "u0000"): node-postgres sends a lone surrogate as U+FFFD too, and text holds no NUL (see storedType in
      -- entries.ts). Most bodies have no \u at all and skip the regular expression.
      ALTER TABLE :SCHEMA.workflows
        ALTER COLUMN type TYPE text USING (${READABLE_BODY})::json ->> 'type',
        ALTER COLUMN finished_at TYPE float8 USING ((${READABLE_BODY})::json ->> 'finishedAt')::float8;
      ALTER TABLE :SCHEMA.workflows ALTER COLUMN type SET NOT NULL;
      CREATE INDEX workflows_by_type ON :SCHEMA.workflows (type, state, started_at, position);
      -- Partial: running entries have no finish time.
      CREATE INDEX workflows_by_finish ON :SCHEMA.workflows (finished_at) WHERE finished_at IS NOT NULL;
    `,
  },
];

/** A PostgreSQL identifier, quoted (`my"schema` -> `"my""schema"`). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Throw InvalidArgumentError unless `schema` is a usable schema name. */
export function checkSchemaName(schema: string): void {
  // 63 bytes: PostgreSQL would silently truncate a longer name, so two long names could meet.
  if (schema.length === 0 || Buffer.byteLength(schema) > 63 || schema.includes('\0')) {
    throw new InvalidArgumentError(`${JSON.stringify(schema)} cannot be a PostgreSQL schema name: use 1 to 63 bytes, no NUL character.`);
  }
}

/** What {@link migrate} did. */
export interface MigrationResult {
  /** The migrations applied now (empty when the schema was up to date). */
  applied: number[];
  /** The schema's version afterwards (the number of the last migration). */
  version: number;
}

/**
 * Bring `schema` (created if needed) up to date: apply, in one transaction, every migration it has not had.
 * Safe to run from several processes at once. StorageError when the schema was written by a newer Quest.
 *
 * @example
 * const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1/app' });
 * console.log(await migrate(pool, 'quest'));   // { applied: [1, 2, 3, 4], version: 4 }
 */
export async function migrate(pool: pg.Pool, schema: string): Promise<MigrationResult> {
  checkSchemaName(schema);
  // Opening an up-to-date schema takes no lock and needs no CREATE privilege.
  const current = await appliedVersion(pool, schema);
  if (current !== undefined && checkVersion(current, schema) === MIGRATIONS.length) return { applied: [], version: current };
  const client = await pool.connect();
  const ignore = (): void => undefined; // a broken connection fails the query in flight; see group-commit.ts
  client.on('error', ignore);
  try {
    await client.query('BEGIN');
    try {
      const result = await migrateLocked(client, schema);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    client.removeListener('error', ignore);
    client.release();
  }
}

/** Inside the migration transaction: lock, read the version again, apply what is missing. */
async function migrateLocked(client: pg.PoolClient, schema: string): Promise<MigrationResult> {
  const quoted = quoteIdentifier(schema);
  // Held until COMMIT/ROLLBACK: a concurrent migrator of the same schema waits here.
  await client.query("SELECT pg_advisory_xact_lock(hashtext('quest-ts migrations ' || $1))", [schema]);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${quoted}.quest_migrations (
       id integer PRIMARY KEY,
       name text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
  const { rows } = await client.query<{ version: number | null }>(`SELECT max(id) AS version FROM ${quoted}.quest_migrations`);
  const version = checkVersion(rows[0]?.version ?? 0, schema);
  const applied: number[] = [];
  for (const migration of MIGRATIONS.slice(version)) {
    // The row first: should the lock ever be bypassed, a second migrator fails on the primary key, not halfway.
    await client.query(`INSERT INTO ${quoted}.quest_migrations (id, name) VALUES ($1, $2)`, [migration.id, migration.name]);
    await client.query(migration.sql.replaceAll(':SCHEMA', quoted));
    applied.push(migration.id);
  }
  return { applied, version: MIGRATIONS.length };
}

/** The schema's version, or undefined when it has no migrations table yet. */
export async function appliedVersion(pool: pg.Pool, schema: string): Promise<number | undefined> {
  const table = `${quoteIdentifier(schema)}.quest_migrations`;
  const exists = await pool.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [table]);
  if (exists.rows[0]?.found == null) return undefined;
  const { rows } = await pool.query<{ version: number | null }>(`SELECT max(id) AS version FROM ${table}`);
  return rows[0]?.version ?? 0;
}

function checkVersion(version: number, schema: string): number {
  if (version > MIGRATIONS.length) {
    throw new StorageError(
      `The PostgreSQL schema ${JSON.stringify(schema)} was written by a newer Quest (schema version ${version}, this one knows ` +
        `${MIGRATIONS.length}); upgrade Quest.`,
    );
  }
  return version;
}
