/**
 * The inbox of outside events of a {@link PostgresStore} (the EventInbox capability, table `inbox`): rows and
 * statements only; the store queues the writes with its other writes and answers reads after them.
 */
import type pg from 'pg';
import { StorageError } from '../../core/errors.js';
import type { InboxEvent, PostedEvent } from '../store.js';
import type { Statements } from './sql.js';

/** A row of the `inbox` table (bigints as text). */
export interface EventRow {
  id: string;
  workflow_id: string;
  posted_at: string;
  body: string;
}

/** What is stored of an event besides its workflow id. Serialized at the call: later changes to `args` do not count. */
export function serializeEvent(event: InboxEvent): string {
  return JSON.stringify({ resource: event.resource, identity: event.identity, action: event.action, args: event.args });
}

/** Insert an event; returns its id. Runs inside the group transaction. */
export async function insertEvent(client: pg.ClientBase, sql: Statements, workflowId: string, body: string): Promise<number> {
  const { rows } = await client.query<{ id: string }>(sql.postEvent, [workflowId, Date.now(), body]);
  return Number(rows[0]?.id);
}

/** Up to `limit` events after `afterId`, oldest first. */
export async function selectEvents(pool: pg.Pool, sql: Statements, limit: number, afterId: number): Promise<PostedEvent[]> {
  const { rows } = await pool.query<EventRow>(sql.selectEvents, [afterId, Math.max(0, Math.floor(limit))]);
  return rows.map(parseEvent);
}

function parseEvent(row: EventRow): PostedEvent {
  let body: Omit<InboxEvent, 'workflowId'>;
  try {
    body = JSON.parse(row.body) as typeof body;
  } catch {
    throw new StorageError(`event ${row.id} of the inbox is not JSON`);
  }
  return {
    id: Number(row.id),
    postedAt: Number(row.posted_at),
    workflowId: row.workflow_id,
    resource: body.resource,
    identity: body.identity,
    action: body.action,
    args: body.args,
  };
}
