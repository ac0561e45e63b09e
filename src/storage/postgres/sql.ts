/**
 * The SQL of a {@link PostgresStore}, with its schema's name filled in: one place to read every statement the
 * store runs. Arrays travel as parameters (`unnest`), so a statement's text never depends on the data.
 */
import { createHash } from 'node:crypto';
import { quoteIdentifier } from './migrations.js';

/** The statements of one schema. */
export interface Statements {
  /** $1 workflow ids, $2 seqs, $3 bodies: the appends of one or more history commits. */
  insertRecords: string;
  /** $1 workflow ids, $2 seqs: the removals of one or more history commits (absent ones are ignored). */
  deleteRecords: string;
  /** $1-$3 as insertRecords, $4-$5 as deleteRecords, in one statement (the DELETE does not see the new rows). */
  commitRecords: string;
  /** The name commitRecords is prepared under: unique per schema, as one pool may serve stores of several schemas. */
  commitRecordsName: string;
  /** $1 workflow ids: remove their whole histories. */
  clearRecords: string;
  /** $1 workflow id -> seq, body in seq order. */
  selectRecords: string;
  /** $1 ids, $2 states, $3 started_at, $4 bodies: insert or replace, keeping each row's position and lease. */
  putWorkflows: string;
  /** $1 id -> body. */
  getWorkflow: string;
  /** -> body, oldest start first. */
  listWorkflows: string;
  /** $1 state -> body, oldest start first. */
  listWorkflowsIn: string;
  /** $1 id. */
  deleteWorkflow: string;
  /** $1 aliases, $2 workflow ids. */
  putAliases: string;
  /** $1 aliases, $2 workflow ids: each alias is removed if it points at its workflow. */
  deleteAliases: string;
  /** $1 workflow id. */
  deleteAliasesOf: string;
  /** $1 alias -> workflow_id. */
  getAlias: string;
  /** $1 workflow id, $2 posted_at, $3 body -> id. */
  postEvent: string;
  /** $1 after id, $2 limit -> id, workflow_id, posted_at, body. */
  selectEvents: string;
  /** $1 ids. */
  deleteEvents: string;
}

/** The statements for the tables of `schema`. */
export function statementsFor(schema: string): Statements {
  const s = quoteIdentifier(schema);
  return {
    insertRecords: `INSERT INTO ${s}.records (workflow_id, seq, body) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])`,
    deleteRecords:
      `DELETE FROM ${s}.records AS r USING unnest($1::text[], $2::bigint[]) AS d (workflow_id, seq) ` +
      'WHERE r.workflow_id = d.workflow_id AND r.seq = d.seq',
    commitRecords:
      `WITH appended AS (INSERT INTO ${s}.records (workflow_id, seq, body) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])), ` +
      `removed AS (DELETE FROM ${s}.records AS r USING unnest($4::text[], $5::bigint[]) AS d (workflow_id, seq) ` +
      'WHERE r.workflow_id = d.workflow_id AND r.seq = d.seq) SELECT 1',
    commitRecordsName: `quest_commit_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}`,
    clearRecords: `DELETE FROM ${s}.records WHERE workflow_id = ANY($1::text[])`,
    // ORDER BY the column, not the text alias: "10" sorts before "9".
    selectRecords: `SELECT seq::text AS seq, body FROM ${s}.records AS r WHERE workflow_id = $1 ORDER BY r.seq`,
    // The rows of one INSERT take their positions in the order of the arrays.
    putWorkflows:
      `INSERT INTO ${s}.workflows (id, state, started_at, body) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) ` +
      'ON CONFLICT (id) DO UPDATE SET state = excluded.state, started_at = excluded.started_at, body = excluded.body',
    getWorkflow: `SELECT body FROM ${s}.workflows WHERE id = $1`,
    listWorkflows: `SELECT body FROM ${s}.workflows ORDER BY started_at, position`,
    listWorkflowsIn: `SELECT body FROM ${s}.workflows WHERE state = $1 ORDER BY started_at, position`,
    deleteWorkflow: `DELETE FROM ${s}.workflows WHERE id = $1`,
    putAliases:
      `INSERT INTO ${s}.aliases (alias, workflow_id) SELECT * FROM unnest($1::text[], $2::text[]) ` +
      'ON CONFLICT (alias) DO UPDATE SET workflow_id = excluded.workflow_id',
    deleteAliases:
      `DELETE FROM ${s}.aliases AS a USING unnest($1::text[], $2::text[]) AS d (alias, workflow_id) ` +
      'WHERE a.alias = d.alias AND a.workflow_id = d.workflow_id',
    deleteAliasesOf: `DELETE FROM ${s}.aliases WHERE workflow_id = $1`,
    getAlias: `SELECT workflow_id FROM ${s}.aliases WHERE alias = $1`,
    postEvent: `INSERT INTO ${s}.inbox (workflow_id, posted_at, body) VALUES ($1, $2, $3) RETURNING id::text AS id`,
    selectEvents: `SELECT id::text AS id, workflow_id, posted_at::text AS posted_at, body FROM ${s}.inbox WHERE id > $1 ORDER BY id LIMIT $2`,
    deleteEvents: `DELETE FROM ${s}.inbox WHERE id = ANY($1::bigint[])`,
  };
}
