/**
 * Leases of a {@link PostgresStore} (the WorkflowLeases capability): the statements that claim, renew and
 * release workflows, and the fences this store holds. Columns of `workflows`: `owner` (the manager holding
 * the lease), `lease_until` (ms since the epoch on the SERVER's clock, so that the processes' clocks never
 * matter), `epoch` (incremented by every claim).
 *
 * Fencing: every write this store makes to a workflow it holds a fence for carries the fence (owner, epoch);
 * the group transaction locks those workflows' rows (`FOR UPDATE`) and refuses the writes whose row has
 * another owner or epoch (LeaseLostError), then writes the others and commits. A claimer skips locked rows
 * (`SKIP LOCKED`), so a claim never slips between the check and the commit.
 *
 * A fence stays until the manager releases the workflow (after its run ended), even when the lease was lost:
 * the stale run's late writes keep failing, and this store does not claim the workflow again meanwhile.
 */
import type pg from 'pg';
import type { ClaimRequest, WorkflowEntry, WorkflowLease } from '../store.js';
import { quoteIdentifier } from './migrations.js';

/** The lease a write must still hold. */
export interface Fence {
  owner: string;
  epoch: number;
}

/** How a fenced write treats a workflow whose row is gone: a commit needs the row, a clear or a delete does not. */
export interface FencedWrite {
  workflowId: string;
  fence: Fence;
  /** True when the write is fine without the workflow's row (clearing or deleting what is left). */
  rowMayBeGone: boolean;
}

/** The server's clock in ms since the epoch, in SQL. */
const NOW_MS = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';

/** The lease statements of one schema. */
export interface LeaseStatements {
  /**
   * $1 owner, $2 limit, $3 types (NULL: any), $4 ids (NULL: any), $5 lease ms, $6 ids to skip ->
   * id, epoch, body of each workflow claimed.
   */
  claim: string;
  /** $1 owner, $2 ids, $3 epochs, $4 lease ms -> id of each lease still held (now renewed). */
  renew: string;
  /** $1 owner, $2 ids, $3 epochs: release those still held. */
  release: string;
  /** $1 id -> owner, epoch, lease_until of an owned workflow. */
  leaseOf: string;
  /** $1 ids -> id, owner, epoch of each existing row, locked until the transaction ends. */
  lockFenced: string;
  /**
   * $1 ids, $2 states, $3 started_at, $4 bodies, $5 owners (NULL: none), $6 lease ms: insert new entries (a
   * duplicate id fails), each owned from now (epoch 1) when it has an owner.
   */
  createWorkflows: string;
  /** $1 ids, $2 states, $3 started_at, $4 bodies: as putWorkflows, and each ended workflow leaves its owner. */
  putWorkflowsTakingOver: string;
}

/** The lease statements for the tables of `schema`. */
export function leaseStatementsFor(schema: string): LeaseStatements {
  const s = quoteIdentifier(schema);
  return {
    claim:
      `WITH c AS (SELECT w.id FROM ${s}.workflows AS w WHERE w.state = 'running' ` +
      `AND (w.owner IS NULL OR w.lease_until < ${NOW_MS}) ` +
      "AND ($3::text[] IS NULL OR (w.body::json ->> 'type') = ANY($3::text[])) " +
      'AND ($4::text[] IS NULL OR w.id = ANY($4::text[])) AND NOT (w.id = ANY($6::text[])) ' +
      'ORDER BY w.started_at, w.position LIMIT $2 FOR UPDATE OF w SKIP LOCKED) ' +
      `UPDATE ${s}.workflows AS w SET owner = $1, lease_until = ${NOW_MS} + $5, epoch = w.epoch + 1 FROM c WHERE w.id = c.id ` +
      'RETURNING w.id, w.epoch::text AS epoch, w.body',
    // Row locks are always taken in id order (renewals, releases, the fence check of a group transaction), so
    // that processes locking overlapping rows at once never deadlock.
    renew:
      `WITH l AS (SELECT w.id FROM ${s}.workflows AS w JOIN unnest($2::text[], $3::bigint[]) AS f (id, epoch) ` +
      'ON w.id = f.id AND w.owner = $1 AND w.epoch = f.epoch ORDER BY w.id FOR UPDATE OF w) ' +
      `UPDATE ${s}.workflows AS w SET lease_until = ${NOW_MS} + $4 FROM l WHERE w.id = l.id RETURNING w.id`,
    release:
      `WITH l AS (SELECT w.id FROM ${s}.workflows AS w JOIN unnest($2::text[], $3::bigint[]) AS f (id, epoch) ` +
      'ON w.id = f.id AND w.owner = $1 AND w.epoch = f.epoch ORDER BY w.id FOR UPDATE OF w) ' +
      `UPDATE ${s}.workflows AS w SET owner = NULL, lease_until = NULL FROM l WHERE w.id = l.id`,
    createWorkflows:
      `INSERT INTO ${s}.workflows (id, state, started_at, body, history_rows, owner, lease_until, epoch) ` +
      `SELECT u.id, u.state, u.started_at, u.body, (SELECT count(*) FROM ${s}.records AS r WHERE r.workflow_id = u.id), u.owner, ` +
      `CASE WHEN u.owner IS NULL THEN NULL ELSE ${NOW_MS} + u.lease END, CASE WHEN u.owner IS NULL THEN 0 ELSE 1 END ` +
      'FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[]) AS u (id, state, started_at, body, owner, lease)',
    leaseOf: `SELECT owner, epoch::text AS epoch, lease_until::text AS lease_until FROM ${s}.workflows WHERE id = $1 AND owner IS NOT NULL`,
    lockFenced: `SELECT id, owner, epoch::text AS epoch FROM ${s}.workflows WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
    putWorkflowsTakingOver:
      `INSERT INTO ${s}.workflows AS w (id, state, started_at, body, history_rows) ` +
      `SELECT u.*, (SELECT count(*) FROM ${s}.records AS r WHERE r.workflow_id = u.id) ` +
      'FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS u (id, state, started_at, body) ' +
      'ON CONFLICT (id) DO UPDATE SET state = excluded.state, started_at = excluded.started_at, body = excluded.body, ' +
      'owner = NULL, lease_until = NULL, epoch = w.epoch + 1',
  };
}

/**
 * Lock the rows of the fenced writes (in the group transaction) and return the writes whose lease is lost:
 * the row has another owner or epoch, or is gone for a write that needs it.
 */
export async function lostFences<W extends { fenced?: FencedWrite | undefined }>(
  client: pg.ClientBase,
  sql: LeaseStatements,
  writes: readonly W[],
): Promise<Set<W>> {
  const fenced = writes.filter((write) => write.fenced !== undefined);
  const lost = new Set<W>();
  if (fenced.length === 0) return lost;
  const ids = [...new Set(fenced.map((write) => write.fenced!.workflowId))];
  const { rows } = await client.query<{ id: string; owner: string | null; epoch: string }>(sql.lockFenced, [ids]);
  const found = new Map(rows.map((row) => [row.id, row]));
  for (const write of fenced) {
    const { workflowId, fence, rowMayBeGone } = write.fenced!;
    const row = found.get(workflowId);
    if (row === undefined ? !rowMayBeGone : row.owner !== fence.owner || Number(row.epoch) !== fence.epoch) lost.add(write);
  }
  return lost;
}

/** The fences of one store: the leases it holds (or held and lost) until the manager releases them. */
export class Fences {
  private readonly fences = new Map<string, Fence & { lost: boolean; ended: boolean }>();

  /** The fence of `workflowId`, if this store holds (or held) its lease. */
  get(workflowId: string): Fence | undefined {
    return this.fences.get(workflowId);
  }

  /** Claimed now. */
  hold(workflowId: string, fence: Fence): void {
    this.fences.set(workflowId, { ...fence, lost: false, ended: false });
  }

  /** Its owner wrote its end (a finished entry, its deletion): releasing it needs no statement (claims skip ended workflows). */
  end(workflowId: string, fence: Fence): void {
    const held = this.fences.get(workflowId);
    if (held !== undefined && held.owner === fence.owner && held.epoch === fence.epoch) held.ended = true;
  }

  /** Found lost (renewal, a refused write): its writes keep failing until it is released. */
  lose(workflowId: string): void {
    const fence = this.fences.get(workflowId);
    if (fence !== undefined) fence.lost = true;
  }

  /** Released: forget it. Returns the fence it had (with whether its workflow ended). */
  release(workflowId: string): (Fence & { ended: boolean }) | undefined {
    const fence = this.fences.get(workflowId);
    this.fences.delete(workflowId);
    return fence;
  }

  /** Every id with a fence (held or lost): a claim skips them. */
  ids(): string[] {
    return [...this.fences.keys()];
  }

  /** The fences still held by `owner`, for renewal. */
  heldBy(owner: string): { ids: string[]; epochs: number[] } {
    const ids: string[] = [];
    const epochs: number[] = [];
    for (const [id, fence] of this.fences) {
      if (fence.owner === owner && !fence.lost) {
        ids.push(id);
        epochs.push(fence.epoch);
      }
    }
    return { ids, epochs };
  }
}

/** The parameters of the claim statement for `request`, skipping `skip`. */
export function claimParameters(request: ClaimRequest, skip: readonly string[]): unknown[] {
  return [request.owner, Math.max(0, Math.floor(request.limit)), request.types ?? null, request.ids ?? null, Math.ceil(request.leaseMs), skip];
}

/** Claim what `request` asks for (skipping the workflows this store has fences for) and hold their fences. */
export async function claim(pool: pg.Pool, sql: LeaseStatements, fences: Fences, request: ClaimRequest): Promise<WorkflowLease[]> {
  const { rows } = await pool.query<{ id: string; epoch: string; body: string }>(sql.claim, claimParameters(request, fences.ids()));
  return rows.map((row) => {
    const epoch = Number(row.epoch);
    fences.hold(row.id, { owner: request.owner, epoch });
    return { entry: JSON.parse(row.body) as WorkflowEntry, owner: request.owner, epoch };
  });
}

/** Renew the leases `owner` holds; those no longer held are marked lost. The ids still held. */
export async function renew(pool: pg.Pool, sql: LeaseStatements, fences: Fences, owner: string, leaseMs: number): Promise<string[]> {
  const { ids, epochs } = fences.heldBy(owner);
  const { rows } = await pool.query<{ id: string }>(sql.renew, [owner, ids, epochs, Math.ceil(leaseMs)]);
  const kept = new Set(rows.map((row) => row.id));
  for (const id of ids) if (!kept.has(id)) fences.lose(id);
  return ids.filter((id) => kept.has(id));
}
