/**
 * The SQL of a {@link PostgresStore}, with its schema's name filled in: one place to read every statement the
 * store runs. Arrays travel as parameters (`unnest`), so a statement's text never depends on the data.
 */
import { createHash } from 'node:crypto';
import { quoteIdentifier } from './migrations.js';

/** The statements of one schema. */
export interface Statements {
  /**
   * $1 workflow ids, $2 seqs, $3 bodies, $4 CRC-32s of the bodies: the appends of one or more history commits.
   * Each statement that adds or removes records also moves `workflows.history_rows` by as many (see loadRecords).
   */
  insertRecords: string;
  /** $1 workflow ids, $2 seqs: the removals of one or more history commits (absent ones are ignored). */
  deleteRecords: string;
  /** $1-$4 as insertRecords, $5-$6 as deleteRecords, in one statement (the DELETE does not see the new rows). */
  commitRecords: string;
  /** The name commitRecords is prepared under: unique per schema, as one pool may serve stores of several schemas. */
  commitRecordsName: string;
  /**
   * commitRecords for leased workflows, fenced in the same statement: $7 workflow ids, $8 owners, $9 epochs
   * (one per fenced workflow), $10 their number. Locks those rows (id order); writes nothing unless every
   * one still has its owner and epoch; returns `ok`.
   */
  commitFencedRecords: string;
  /** The name commitFencedRecords is prepared under. */
  commitFencedRecordsName: string;
  /** $1 workflow ids: remove their whole histories (their counts become 0). */
  clearRecords: string;
  /**
   * $1 workflow id -> seq, body, crc in seq order, each row with the workflow's state and history_rows (one
   * snapshot). A history without records is one row with seq NULL; a workflow without an entry has state NULL.
   */
  selectRecords: string;
  /** $1 ids, $2 states, $3 started_at, $4 bodies, $5 types, $6 finished_at: insert or replace, keeping each row's position and lease. */
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
  /** $1 id, $2 status, $3 code, $4 message, $5 settled_at, $6 prune before: remove the event, record its outcome. */
  settleEvent: string;
  /** $1 id -> status ('pending' while in the inbox), code, message, settled_at; no row when unknown. */
  eventOutcome: string;
}

/** The statements for the tables of `schema`. */
export function statementsFor(schema: string): Statements {
  const s = quoteIdentifier(schema);
  // The records a statement added or removed move the counts of their workflows, in the same statement.
  const moveCounts =
    `UPDATE ${s}.workflows AS w SET history_rows = w.history_rows + c.n ` +
    'FROM (SELECT workflow_id, sum(n) AS n FROM changed GROUP BY workflow_id) AS c WHERE w.id = c.workflow_id';
  return {
    insertRecords: `WITH appended AS (${append('$1', '$2', '$3', '$4')}), changed AS (${count('appended', '1')}) ${moveCounts}`,
    deleteRecords: `WITH removed AS (${remove('$1', '$2')}), changed AS (${count('removed', '-1')}) ${moveCounts}`,
    commitRecords:
      `WITH appended AS (${append('$1', '$2', '$3', '$4')}), removed AS (${remove('$5', '$6')}), ` +
      `changed AS (${count('appended', '1')} UNION ALL ${count('removed', '-1')}) ${moveCounts}`,
    commitRecordsName: `quest_commit_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}`,
    commitFencedRecords:
      `WITH held AS (SELECT w.id FROM ${s}.workflows AS w JOIN unnest($7::text[], $8::text[], $9::bigint[]) AS f (id, owner, epoch) ` +
      'ON w.id = f.id AND w.owner = f.owner AND w.epoch = f.epoch ORDER BY w.id FOR UPDATE OF w), ' +
      'fence AS (SELECT count(*) = $10 AS ok FROM held), ' +
      `appended AS (INSERT INTO ${s}.records (workflow_id, seq, body, crc) SELECT u.* FROM ` +
      'unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[]) AS u, fence WHERE fence.ok RETURNING workflow_id), ' +
      `removed AS (DELETE FROM ${s}.records AS r USING unnest($5::text[], $6::bigint[]) AS d (workflow_id, seq), fence ` +
      'WHERE fence.ok AND r.workflow_id = d.workflow_id AND r.seq = d.seq RETURNING r.workflow_id), ' +
      `changed AS (${count('appended', '1')} UNION ALL ${count('removed', '-1')}), ` +
      `counted AS (${moveCounts} RETURNING 1) SELECT ok, (SELECT count(*) FROM counted) AS counted FROM fence`,
    commitFencedRecordsName: `quest_fenced_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}`,
    clearRecords:
      `WITH cleared AS (DELETE FROM ${s}.records WHERE workflow_id = ANY($1::text[])) ` +
      `UPDATE ${s}.workflows SET history_rows = 0 WHERE id = ANY($1::text[])`,
    // ORDER BY the column, not the text alias: "10" sorts before "9".
    selectRecords:
      'SELECT r.seq::text AS seq, r.body, r.crc::text AS crc, w.state, w.history_rows::text AS history_rows ' +
      `FROM (VALUES (1)) AS one (x) LEFT JOIN ${s}.workflows AS w ON w.id = $1 LEFT JOIN ${s}.records AS r ON r.workflow_id = $1 ` +
      'ORDER BY r.seq',
    // The rows of one INSERT take their positions in the order of the arrays. A new entry counts the records
    // already there (none, when started by a manager); an update keeps the count its commits kept.
    putWorkflows:
      `INSERT INTO ${s}.workflows (id, state, started_at, body, type, finished_at, history_rows) ` +
      `SELECT u.*, (SELECT count(*) FROM ${s}.records AS r WHERE r.workflow_id = u.id) ` +
      'FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::float8[]) AS u (id, state, started_at, body, type, finished_at) ' +
      'ON CONFLICT (id) DO UPDATE SET state = excluded.state, started_at = excluded.started_at, body = excluded.body, type = excluded.type, ' +
      'finished_at = excluded.finished_at',
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
    // One statement: the event leaves the inbox exactly when its outcome is recorded (none when it was gone).
    settleEvent:
      `WITH pruned AS (DELETE FROM ${s}.inbox_outcomes WHERE settled_at < $6), ` +
      `settled AS (DELETE FROM ${s}.inbox WHERE id = $1 RETURNING id) ` +
      `INSERT INTO ${s}.inbox_outcomes (id, status, code, message, settled_at) SELECT id, $2, $3, $4, $5 FROM settled ` +
      'ON CONFLICT (id) DO NOTHING',
    eventOutcome:
      `SELECT 'pending' AS status, NULL AS code, NULL AS message, NULL AS settled_at FROM ${s}.inbox WHERE id = $1 ` +
      `UNION ALL SELECT status, code, message, settled_at::text FROM ${s}.inbox_outcomes WHERE id = $1 LIMIT 1`,
  };

  function append(ids: string, seqs: string, bodies: string, crcs: string): string {
    return (
      `INSERT INTO ${s}.records (workflow_id, seq, body, crc) ` +
      `SELECT * FROM unnest(${ids}::text[], ${seqs}::bigint[], ${bodies}::text[], ${crcs}::bigint[]) RETURNING workflow_id`
    );
  }
  function remove(ids: string, seqs: string): string {
    return (
      `DELETE FROM ${s}.records AS r USING unnest(${ids}::text[], ${seqs}::bigint[]) AS d (workflow_id, seq) ` +
      'WHERE r.workflow_id = d.workflow_id AND r.seq = d.seq RETURNING r.workflow_id'
    );
  }
  function count(rows: string, by: string): string {
    return `SELECT workflow_id, ${by} AS n FROM ${rows}`;
  }
}
