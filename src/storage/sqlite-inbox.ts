/**
 * The inbox of a SqliteStore (EventInbox): its SQL (tables `inbox` and `inbox_outcomes`) and the parsing of
 * its rows. The store runs these inside its group commit and reads.
 */
import type Database from 'better-sqlite3';
import { StorageError } from '../core/errors.js';
import { EVENT_OUTCOME_RETENTION_MS, type EventOutcome, type EventVerdict, type InboxEvent, type PostedEvent } from './store.js';

type Statement<P extends unknown[], R = unknown> = Database.Statement<P, R>;

/** The prepared statements of the inbox, made once per connection. */
export interface InboxStatements {
  postEvent: Statement<[string, number, string]>;
  selectEvents: Statement<[number, number], EventRow>;
  deleteEvent: Statement<[number]>;
  hasEvent: Statement<[number], { id: number }>;
  putOutcome: Statement<[number, string, string | null, string | null, number]>;
  getOutcome: Statement<[number], OutcomeRow>;
  pruneOutcomes: Statement<[number]>;
}

export function prepareInbox(db: Database.Database): InboxStatements {
  return {
    postEvent: db.prepare('INSERT INTO inbox (workflow_id, posted_at, body) VALUES (?, ?, ?)'),
    selectEvents: db.prepare('SELECT id, workflow_id, posted_at, body FROM inbox WHERE id > ? ORDER BY id LIMIT ?'),
    deleteEvent: db.prepare('DELETE FROM inbox WHERE id = ?'),
    hasEvent: db.prepare('SELECT id FROM inbox WHERE id = ?'),
    putOutcome: db.prepare('INSERT OR IGNORE INTO inbox_outcomes (id, status, code, message, settled_at) VALUES (?, ?, ?, ?, ?)'),
    getOutcome: db.prepare('SELECT status, code, message, settled_at FROM inbox_outcomes WHERE id = ?'),
    pruneOutcomes: db.prepare('DELETE FROM inbox_outcomes WHERE settled_at < ?'),
  };
}

/** The `body` of an event's row: everything but its workflow, which has a column. Throws on unserializable args. */
export function eventBody(event: InboxEvent): string {
  const { resource, identity, action, args, ttlMs } = event;
  return JSON.stringify({ resource, identity, action, args, ...(ttlMs === undefined ? {} : { ttlMs }) });
}

/** Remove event `id` from the inbox and record its outcome; nothing when it is gone already. */
export function settle(statements: InboxStatements, id: number, verdict: EventVerdict): void {
  const now = Date.now();
  statements.pruneOutcomes.run(now - EVENT_OUTCOME_RETENTION_MS);
  if (statements.deleteEvent.run(id).changes === 0) return;
  const rejected = verdict.status === 'rejected' ? verdict : undefined;
  statements.putOutcome.run(id, verdict.status, rejected?.code ?? null, rejected?.message ?? null, now);
}

/** What became of event `id`: pending while in the inbox, its outcome once settled (for a day). */
export function readOutcome(statements: InboxStatements, id: number): EventOutcome | undefined {
  if (statements.hasEvent.get(id) !== undefined) return { status: 'pending' };
  const row = statements.getOutcome.get(id);
  return row === undefined ? undefined : parseOutcome(row);
}

/** A row of the `inbox` table. */
interface EventRow {
  id: number;
  workflow_id: string;
  posted_at: number;
  body: string;
}

export function parseEvent(row: EventRow): PostedEvent {
  let body: Omit<InboxEvent, 'workflowId'>;
  try {
    body = JSON.parse(row.body) as typeof body;
  } catch {
    throw new StorageError(`event ${row.id} of the inbox is not JSON`);
  }
  const { resource, identity, action, args, ttlMs } = body;
  return { id: row.id, postedAt: row.posted_at, workflowId: row.workflow_id, resource, identity, action, args, ...(ttlMs === undefined ? {} : { ttlMs }) };
}

/** A row of the `inbox_outcomes` table. */
interface OutcomeRow {
  status: string;
  code: string | null;
  message: string | null;
  settled_at: number;
}

function parseOutcome(row: OutcomeRow): EventOutcome {
  if (row.status === 'applied') return { status: 'applied', settledAt: row.settled_at };
  return { status: 'rejected', code: row.code ?? 'UNKNOWN', message: row.message ?? '', settledAt: row.settled_at };
}
