/**
 * How the writes of one group transaction are merged into few statements (see group-commit.ts).
 *
 * A write is one of:
 * - a history commit ({@link RecordsChange}): its appends join one INSERT, its removals one DELETE;
 * - a row write ({@link RowWrite}): a statement over column arrays (`unnest`), which writes of the same
 *   statement share (one statement for the entries of 200 workflows);
 * - anything else (`apply`): its own statements, in its place.
 *
 * Writes are merged within a *segment*: consecutive mergeable writes that each touch a different row (their
 * `target`, such as `records:<workflow id>` or `workflows:<id>`). Writes on different rows commute, so a
 * segment may run in any statement order; a second write on the same row, or an `apply`, starts a new segment.
 */
import type pg from 'pg';

/** The change one history commit makes, serialized. */
export interface RecordsChange {
  workflowId: string;
  seqs: number[];
  bodies: string[];
  /** The CRC-32 of each body, checked when the history is loaded. */
  crcs: number[];
  remove: readonly number[];
}

/** One row written by a statement that takes one array per column ($1, $2, ...). */
export interface RowWrite {
  /** The statement; writes with the same text are merged into one execution. */
  sql: string;
  /** The row it touches, unique across tables (`'aliases:' + alias`). */
  target: string;
  /** This row's value for each column parameter. */
  values: readonly unknown[];
}

/** What a queued write does. */
export type WriteBody =
  | { records: RecordsChange }
  | { row: RowWrite }
  | { apply: (client: pg.ClientBase) => Promise<void> };

/** A segment: the history commits and the row writes (by statement) of consecutive writes on distinct rows. */
export interface Segment {
  records: RecordsChange[];
  rows: Map<string, unknown[][]>;
}

/** The writes in order, as segments and single `apply` writes. */
export function segments(bodies: readonly WriteBody[]): (Segment | { apply: (client: pg.ClientBase) => Promise<void> })[] {
  const groups: (Segment | { apply: (client: pg.ClientBase) => Promise<void> })[] = [];
  let segment: Segment = { records: [], rows: new Map() };
  let targets = new Set<string>();
  const end = (): void => {
    if (targets.size > 0) groups.push(segment);
    segment = { records: [], rows: new Map() };
    targets = new Set();
  };
  for (const body of bodies) {
    if ('apply' in body) {
      end();
      groups.push(body);
      continue;
    }
    const target = 'records' in body ? `records:${body.records.workflowId}` : body.row.target;
    if (targets.has(target)) end();
    targets.add(target);
    if ('records' in body) segment.records.push(body.records);
    else addRow(segment.rows, body.row);
  }
  end();
  return groups;
}

/** Add `row` to the column arrays of its statement. */
function addRow(rows: Map<string, unknown[][]>, row: RowWrite): void {
  let columns = rows.get(row.sql);
  if (columns === undefined) {
    columns = row.values.map(() => []);
    rows.set(row.sql, columns);
  }
  row.values.forEach((value, i) => columns[i]?.push(value));
}

/** The columns of the appends and of the removals of `changes`, for `unnest`. */
export function flatten(changes: readonly RecordsChange[]) {
  const ids: string[] = [];
  const seqs: number[] = [];
  const bodies: string[] = [];
  const crcs: number[] = [];
  const removeIds: string[] = [];
  const removeSeqs: number[] = [];
  for (const change of changes) {
    ids.push(...change.seqs.map(() => change.workflowId));
    seqs.push(...change.seqs);
    bodies.push(...change.bodies);
    crcs.push(...change.crcs);
    removeIds.push(...change.remove.map(() => change.workflowId));
    removeSeqs.push(...change.remove);
  }
  return { ids, seqs, bodies, crcs, removeIds, removeSeqs };
}

/** Within one statement a DELETE does not see the rows its INSERT adds: such a change needs two statements. */
export function removesOwnAppend(change: RecordsChange): boolean {
  return change.remove.some((seq) => change.seqs.includes(seq));
}
