/**
 * The inbox of outside events of a {@link PostgresStore} (the EventInbox capability, table `inbox`) and the
 * outcomes of settled events (table `inbox_outcomes`, kept {@link EVENT_OUTCOME_RETENTION_MS}): rows and
 * statements only; the store queues the writes with its other writes and answers reads after them.
 */
import type pg from 'pg';
import { StorageError } from '../../core/errors.js';
import { EVENT_OUTCOME_RETENTION_MS, type EventOutcome, type EventVerdict, type InboxEvent, type PostedEvent } from '../store.js';
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
  const { resource, identity, action, args, ttlMs } = event;
  return JSON.stringify({ resource, identity, action, args, ...(ttlMs === undefined ? {} : { ttlMs }) });
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

/**
 * Remove event `id` from the inbox and record `verdict` as its outcome, in one statement (nothing when it was
 * settled already); outcomes older than {@link EVENT_OUTCOME_RETENTION_MS} are pruned. Runs inside the group transaction.
 */
export async function settleEvent(client: pg.ClientBase, sql: Statements, id: number, verdict: EventVerdict): Promise<void> {
  const now = Date.now();
  const rejected = verdict.status === 'rejected' ? verdict : undefined;
  await client.query(sql.settleEvent, [id, verdict.status, rejected?.code ?? null, rejected?.message ?? null, now, now - EVENT_OUTCOME_RETENTION_MS]);
}

/** The outcome of event `id`: pending in the inbox, settled, or undefined when unknown (or pruned). */
export async function selectOutcome(pool: pg.Pool, sql: Statements, id: number): Promise<EventOutcome | undefined> {
  const { rows } = await pool.query<OutcomeRow>(sql.eventOutcome, [id]);
  const row = rows[0];
  if (row === undefined) return undefined;
  if (row.status === 'pending') return { status: 'pending' };
  const settledAt = Number(row.settled_at);
  if (row.status === 'applied') return { status: 'applied', settledAt };
  return { status: 'rejected', code: row.code ?? 'UNKNOWN', message: row.message ?? '', settledAt };
}

/** A row of the outcome query (settled_at as text: bigint; NULL while pending). */
interface OutcomeRow {
  status: string;
  code: string | null;
  message: string | null;
  settled_at: string | null;
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
    ...(body.ttlMs === undefined ? {} : { ttlMs: body.ttlMs }),
  };
}
