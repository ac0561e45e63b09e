/**
 * Leases of a {@link PostgresStore} (the WorkflowLeases capability): the statements that claim, renew and
 * release workflows, and the fences this store holds.
 *
 * A workflow's lease is its owner's: `workflows.owner` names the manager holding it and `workflows.epoch` is
 * incremented by every claim; the table `owners` has one row per owner with `lease_until` (ms since the epoch
 * on the SERVER's clock, so that the processes' clocks never matter). A heartbeat extends that one row, so a
 * renewal costs the same for 10 workflows as for a million. A workflow is claimable when nobody owns it or its
 * owner's lease expired. (`workflows.lease_until`, the per-workflow lease of schema version 2, is no longer
 * used: NULL.)
 *
 * A trigger records in `lease_losses` every lease taken from an owner (claimed after its lease expired,
 * ended or deleted by another process): its next renewal reads them (one query, only when there are any) and
 * marks those fences lost, so renewLeases still says exactly which leases are held.
 *
 * Fencing: every write this store makes to a workflow it holds a fence for carries the fence (owner, epoch);
 * the group transaction locks those workflows' rows (`FOR UPDATE`) and refuses the writes whose row has
 * another owner or epoch (LeaseLostError), then writes the others and commits. A claimer skips locked rows
 * (`SKIP LOCKED`), so a claim never slips between the check and the commit; and every claim bumps the epoch,
 * so a process paused past its lease can never write once another process claimed the workflow.
 *
 * A fence stays until the manager releases the workflow (after its run ended), even when the lease was lost:
 * the stale run's late writes keep failing, and this store does not claim the workflow again meanwhile.
 */
import type pg from 'pg';
import type { ClaimRequest, WorkflowEntry, WorkflowLease } from '../store.js';
import { quoteIdentifier } from './migrations.js';
import { encodeChange } from './notifications.js';
import { storedType } from './entries.js';

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
   * id, epoch, body of each workflow claimed. Registers the owner (live for $5 ms) when it has no row yet.
   */
  claim: string;
  /**
   * $1 owner, $2 lease ms: extend the owner's row (ONE row, whatever it holds) -> `live` (its lease had not
   * expired when it was extended), `losses` (some of its workflows were taken since the losses were last read);
   * no row when the owner has none.
   */
  renewOwner: string;
  /** $1 owner, $2 lease ms: insert the owner's row (or extend it). */
  registerOwner: string;
  /** $1 owner -> workflow_id, epoch of each lease taken from it, forgotten now that it read them. */
  takeLosses: string;
  /** $1 owner, $2 ids, $3 epochs -> id of each workflow it still owns at that epoch (rows locked FOR SHARE, id order). */
  stillOwned: string;
  /** $1 owner, $2 workflow id: forget the losses of a workflow its owner deleted itself. */
  forgetLoss: string;
  /** $1 owner: delete its row when it owns no running workflow (a manager closing; else it expires). */
  retireOwner: string;
  /** $1 ms: delete the rows (and losses) of owners expired longer than that: processes long gone. */
  purgeOwners: string;
  /** $1 owner, $2 ids, $3 epochs: release those still held. */
  release: string;
  /** $1 id -> owner, epoch, lease_until (its owner's; 0 when the owner has no row) of an owned workflow. */
  leaseOf: string;
  /** $1 ids -> id, owner, epoch of each existing row, locked until the transaction ends. */
  lockFenced: string;
  /**
   * $1 ids, $2 states, $3 started_at, $4 bodies, $5 types, $6 finished_at, $7 owners (NULL: none), $8 lease ms: insert new entries
   * (a duplicate id fails), each owned from now (epoch 1) when it has an owner (whose row is inserted if missing).
   */
  createWorkflows: string;
  /** $1 ids, $2 states, $3 started_at, $4 bodies, $5 types, $6 finished_at: as putWorkflows, and each ended workflow leaves its owner. */
  putWorkflowsTakingOver: string;
}

/** The lease statements for the tables of `schema`. */
export function leaseStatementsFor(schema: string): LeaseStatements {
  const s = quoteIdentifier(schema);
  return {
    // `gone`: the owners whose lease expired, locked FOR SHARE until the claim commits, so that an owner's
    // renewal (which locks its row to extend it) either comes first (the row is then live, or locked: skipped)
    // or waits for the claim and sees that its lease had expired (then reads its losses). An owner with no row
    // at all (never registered, or purged long after it died) is gone too.
    claim:
      `WITH me AS (INSERT INTO ${s}.owners (owner, lease_until) VALUES ($1, ${NOW_MS} + $5) ON CONFLICT (owner) DO NOTHING), ` +
      `gone AS MATERIALIZED (SELECT o.owner FROM ${s}.owners AS o WHERE o.lease_until < ${NOW_MS} AND o.owner <> $1 FOR SHARE SKIP LOCKED), ` +
      // The distinct owners of running workflows, one index probe each (a loose index scan), to find those with
      // no row at all: never a statement per held workflow.
      `holders AS MATERIALIZED (WITH RECURSIVE h (owner) AS ((SELECT owner FROM ${s}.workflows WHERE state = 'running' AND owner IS NOT NULL ORDER BY owner LIMIT 1) ` +
      `UNION ALL SELECT (SELECT w.owner FROM ${s}.workflows AS w WHERE w.state = 'running' AND w.owner > h.owner ORDER BY w.owner LIMIT 1) FROM h WHERE h.owner IS NOT NULL) ` +
      'SELECT owner FROM h WHERE owner IS NOT NULL), ' +
      `takeable AS MATERIALIZED (SELECT owner FROM gone UNION SELECT owner FROM holders WHERE owner <> $1 AND owner NOT IN (SELECT owner FROM ${s}.owners)), ` +
      // Candidates through the indexes (unowned; owned by a takeable owner), so that a claim costs what there is
      // to take, not what the live owners hold; then checked again on the locked row.
      `c AS (SELECT w.id FROM ${s}.workflows AS w WHERE w.id IN (SELECT id FROM ${s}.workflows WHERE state = 'running' AND owner IS NULL ` +
      `UNION ALL SELECT x.id FROM ${s}.workflows AS x JOIN takeable AS t ON x.owner = t.owner WHERE x.state = 'running') ` +
      "AND w.state = 'running' AND (w.owner IS NULL OR w.owner IN (SELECT owner FROM takeable)) " +
      // Taken from the claimer and not yet seen by its renewal: it may still run here (see Fences.skipped).
      `AND NOT EXISTS (SELECT 1 FROM ${s}.lease_losses AS l WHERE l.owner = $1 AND l.workflow_id = w.id) ` +
      'AND ($3::text[] IS NULL OR w.type = ANY($3::text[])) ' +
      'AND ($4::text[] IS NULL OR w.id = ANY($4::text[])) AND NOT (w.id = ANY($6::text[])) ' +
      'ORDER BY w.started_at, w.position LIMIT $2 FOR UPDATE OF w SKIP LOCKED) ' +
      `UPDATE ${s}.workflows AS w SET owner = $1, lease_until = NULL, epoch = w.epoch + 1 FROM c WHERE w.id = c.id ` +
      'RETURNING w.id, w.epoch::text AS epoch, w.body',
    // `live` is computed once the row is locked: after any claim that held it (FOR SHARE) committed.
    renewOwner:
      `WITH up AS (UPDATE ${s}.owners AS o SET lease_until = ${NOW_MS} + $2 FROM (SELECT owner, lease_until FROM ${s}.owners WHERE owner = $1) AS old ` +
      `WHERE o.owner = old.owner RETURNING old.lease_until >= ${NOW_MS} AS live) ` +
      `SELECT live, EXISTS (SELECT 1 FROM ${s}.lease_losses WHERE owner = $1) AS losses FROM up`,
    registerOwner:
      `INSERT INTO ${s}.owners (owner, lease_until) VALUES ($1, ${NOW_MS} + $2) ` +
      'ON CONFLICT (owner) DO UPDATE SET lease_until = excluded.lease_until',
    takeLosses: `DELETE FROM ${s}.lease_losses WHERE owner = $1 RETURNING workflow_id, epoch::text AS epoch`,
    stillOwned:
      `SELECT w.id FROM ${s}.workflows AS w JOIN unnest($2::text[], $3::bigint[]) AS f (id, epoch) ` +
      'ON w.id = f.id AND w.owner = $1 AND w.epoch = f.epoch ORDER BY w.id FOR SHARE OF w',
    forgetLoss: `DELETE FROM ${s}.lease_losses WHERE owner = $1 AND workflow_id = $2`,
    retireOwner:
      `DELETE FROM ${s}.owners AS o WHERE o.owner = $1 ` +
      `AND NOT EXISTS (SELECT 1 FROM ${s}.workflows AS w WHERE w.owner = $1 AND w.state = 'running')`,
    purgeOwners:
      `WITH old AS (DELETE FROM ${s}.owners WHERE lease_until < ${NOW_MS} - $1 RETURNING owner) ` +
      `DELETE FROM ${s}.lease_losses AS l WHERE l.owner IN (SELECT owner FROM old) OR l.owner NOT IN (SELECT owner FROM ${s}.owners)`,
    // Row locks are always taken in id order (releases, the fence check of a group transaction, stillOwned), so
    // that processes locking overlapping rows at once never deadlock.
    release:
      `WITH l AS (SELECT w.id FROM ${s}.workflows AS w JOIN unnest($2::text[], $3::bigint[]) AS f (id, epoch) ` +
      'ON w.id = f.id AND w.owner = $1 AND w.epoch = f.epoch ORDER BY w.id FOR UPDATE OF w) ' +
      `UPDATE ${s}.workflows AS w SET owner = NULL, lease_until = NULL FROM l WHERE w.id = l.id`,
    createWorkflows:
      `WITH u AS MATERIALIZED (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::bigint[]) ` +
      'AS u (id, state, started_at, body, type, finished_at, owner, lease)), ' +
      `me AS (INSERT INTO ${s}.owners (owner, lease_until) SELECT owner, ${NOW_MS} + max(lease) FROM u WHERE owner IS NOT NULL GROUP BY owner ` +
      'ON CONFLICT (owner) DO NOTHING) ' +
      `INSERT INTO ${s}.workflows (id, state, started_at, body, type, finished_at, history_rows, owner, lease_until, epoch) ` +
      `SELECT u.id, u.state, u.started_at, u.body, u.type, u.finished_at, (SELECT count(*) FROM ${s}.records AS r WHERE r.workflow_id = u.id), u.owner, ` +
      'NULL, CASE WHEN u.owner IS NULL THEN 0 ELSE 1 END FROM u',
    leaseOf:
      `SELECT w.owner, w.epoch::text AS epoch, coalesce(o.lease_until, 0)::text AS lease_until FROM ${s}.workflows AS w ` +
      `LEFT JOIN ${s}.owners AS o ON o.owner = w.owner WHERE w.id = $1 AND w.owner IS NOT NULL`,
    lockFenced: `SELECT id, owner, epoch::text AS epoch FROM ${s}.workflows WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
    putWorkflowsTakingOver:
      `INSERT INTO ${s}.workflows AS w (id, state, started_at, body, type, finished_at, history_rows) ` +
      `SELECT u.*, (SELECT count(*) FROM ${s}.records AS r WHERE r.workflow_id = u.id) ` +
      'FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::float8[]) AS u (id, state, started_at, body, type, finished_at) ' +
      'ON CONFLICT (id) DO UPDATE SET state = excluded.state, started_at = excluded.started_at, body = excluded.body, type = excluded.type, ' +
      'finished_at = excluded.finished_at, ' +
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
  /** The owners this store claimed or created workflows as: renewed even when they hold nothing, retired at close. */
  readonly owners = new Set<string>();
  private lastPurge = Date.now();
  /** The ids of the lost fences. */
  private readonly lost = new Set<string>();
  /** Released by the manager, but the statement failed: retried at the next renewal. */
  private readonly unreleased = new Map<string, Fence>();

  /** Run `purge` when the last one was long enough ago (errors are ignored: the next one retries). */
  async purgeSometimes(purge: () => Promise<unknown>): Promise<void> {
    if (!purgeDue(this.lastPurge, Date.now())) return;
    this.lastPurge = Date.now();
    await purge().catch(() => undefined);
  }

  /** The fence of `workflowId`, if this store holds (or held) its lease. */
  get(workflowId: string): Fence | undefined {
    return this.fences.get(workflowId);
  }

  /** Claimed now. */
  hold(workflowId: string, fence: Fence): void {
    this.owners.add(fence.owner);
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
    if (fence === undefined) return;
    fence.lost = true;
    this.lost.add(workflowId);
  }

  /** Released: forget it. Returns the fence it had (with whether its workflow ended). */
  release(workflowId: string): (Fence & { ended: boolean }) | undefined {
    const fence = this.fences.get(workflowId);
    this.fences.delete(workflowId);
    this.lost.delete(workflowId);
    return fence;
  }

  /** Releases that failed (ids and epochs by owner): the owner's next renewal retries them (its live lease would keep them from everyone). */
  releaseLater(released: Map<string, string[][]>): void {
    for (const [owner, [ids, epochs]] of released) ids!.forEach((id, i) => this.unreleased.set(id, { owner, epoch: Number(epochs![i]) }));
  }

  /** The releases of `owner` to retry (ids and epochs by owner), forgotten here: put back with releaseLater should they fail again. */
  takeUnreleased(owner: string): Map<string, string[][]> {
    const columns: string[][] = [[], []];
    for (const [id, fence] of this.unreleased) {
      if (fence.owner !== owner) continue;
      columns[0]!.push(id);
      columns[1]!.push(String(fence.epoch));
      this.unreleased.delete(id);
    }
    return columns[0]!.length === 0 ? new Map() : new Map([[owner, columns]]);
  }

  /**
   * Release the fences of `workflowIds` (the manager released them): the ids and epochs to release, by owner.
   * An ended workflow needs no statement (claims skip it: its owner column can stay as it is).
   */
  releaseAll(workflowIds: readonly string[]): Map<string, string[][]> {
    const released = new Map<string, string[][]>();
    for (const id of workflowIds) {
      const fence = this.release(id);
      if (fence === undefined || fence.ended) continue;
      const columns = released.get(fence.owner) ?? [[], []];
      columns[0]!.push(id);
      columns[1]!.push(String(fence.epoch));
      released.set(fence.owner, columns);
    }
    return released;
  }

  /**
   * The ids a claim by `owner` must skip: every fence, held or lost, must stay out of a claim (a workflow claimed
   * again here while its stale run goes on would pass that run's writes). Those `owner` holds are never
   * claimable by it anyway (its own row is never `gone`, and a lease taken from it keeps a `lease_losses` row,
   * which the claim checks, until its renewal marks the fence lost), so only the lost ones and other owners'
   * are sent: a claim costs the same whatever the number of workflows held.
   */
  skipped(owner: string): string[] {
    if (this.owners.size === 0 || (this.owners.size === 1 && this.owners.has(owner))) return [...this.lost];
    const ids: string[] = [];
    for (const [id, fence] of this.fences) if (fence.lost || fence.owner !== owner) ids.push(id);
    return ids;
  }

  /** The ids of the fences still held by `owner`. */
  heldIds(owner: string): string[] {
    if (this.lost.size === 0 && this.owners.size === 1 && this.owners.has(owner)) return [...this.fences.keys()];
    const ids: string[] = [];
    for (const [id, fence] of this.fences) if (fence.owner === owner && !fence.lost) ids.push(id);
    return ids;
  }

  /** The fences still held by `owner`, with their epochs. */
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
  return [request.owner, Math.max(0, Math.floor(request.limit)), request.types?.map(storedType) ?? null, request.ids ?? null, Math.ceil(request.leaseMs), skip];
}

/** Claim what `request` asks for (skipping the workflows this store has fences for) and hold their fences. */
export async function claim(pool: pg.Pool, sql: LeaseStatements, fences: Fences, request: ClaimRequest): Promise<WorkflowLease[]> {
  const { rows } = await pool.query<{ id: string; epoch: string; body: string }>(sql.claim, claimParameters(request, fences.skipped(request.owner)));
  fences.owners.add(request.owner); // the statement registered it
  return rows.map((row) => {
    const epoch = Number(row.epoch);
    fences.hold(row.id, { owner: request.owner, epoch });
    return { entry: JSON.parse(row.body) as WorkflowEntry, owner: request.owner, epoch };
  });
}

/** How long an owner's row outlives its lease before a renewal purges it (its process is long gone). */
const PURGE_AFTER_MS = 3_600_000;
/** At most one purge per store this often. */
const PURGE_EVERY_MS = 60_000;

/**
 * Renew the leases `owner` holds: ONE statement that extends the owner's row, whatever the number of workflows
 * it holds (each workflow's lease is its owner's). Those taken from it meanwhile (claimed after its lease
 * expired, ended or deleted by another process: the `lease_losses` a trigger records) are marked lost. The ids
 * still held.
 *
 * When the owner's lease had expired (the process was paused, or the database unreachable, past it), the
 * renewal extends it all the same: the workflows nobody claimed meanwhile still have this owner and epoch, so
 * they are still its own; the others are in its losses. A claim that took one holds the owner's row FOR SHARE
 * until it commits, so the renewal, which waits for it, reads every such loss.
 */
export async function renew(pool: pg.Pool, sql: LeaseStatements, fences: Fences, owner: string, leaseMs: number, channel: string): Promise<string[]> {
  const ms = Math.ceil(leaseMs);
  const unreleased = fences.takeUnreleased(owner);
  if (unreleased.size > 0) await releaseEach(pool, sql, unreleased, channel).catch((error: unknown) => {
    fences.releaseLater(unreleased);
    throw error;
  });
  const { rows } = await pool.query<{ live: boolean; losses: boolean }>(sql.renewOwner, [owner, ms]);
  const row = rows[0];
  if (row === undefined) {
    // No row: purged (expired for an hour), or deleted by hand. Register again, then check lease by lease; a
    // claim that read the store before the row was back may still take one: its loss shows at the next renewal.
    await pool.query(sql.registerOwner, [owner, ms]);
    const { ids, epochs } = fences.heldBy(owner);
    const { rows: owned } = await pool.query<{ id: string }>(sql.stillOwned, [owner, ids, epochs]);
    const kept = new Set(owned.map((held) => held.id));
    for (const id of ids) if (!kept.has(id)) fences.lose(id);
  }
  if (row === undefined || !row.live || row.losses) await readLosses(pool, sql, fences, owner);
  await fences.purgeSometimes(() => pool.query(sql.purgeOwners, [PURGE_AFTER_MS]));
  return fences.heldIds(owner);
}

/** Mark lost the leases taken from `owner` (and forget those losses in the store). */
async function readLosses(pool: pg.Pool, sql: LeaseStatements, fences: Fences, owner: string): Promise<void> {
  const { rows } = await pool.query<{ workflow_id: string; epoch: string }>(sql.takeLosses, [owner]);
  for (const loss of rows) {
    const fence = fences.get(loss.workflow_id);
    if (fence !== undefined && fence.owner === owner && fence.epoch === Number(loss.epoch)) fences.lose(loss.workflow_id);
  }
}

/** True when a purge of long-gone owners is due. */
export function purgeDue(last: number, at: number): boolean {
  return at - last >= PURGE_EVERY_MS;
}

/** Release, for each owner, the workflows (ids, epochs) it still holds, and tell the other processes. */
export async function releaseEach(pool: pg.Pool, sql: LeaseStatements, released: Map<string, string[][]>, channel: string): Promise<void> {
  for (const [owner, [ids, epochs]] of released) await pool.query(sql.release, [owner, ids, epochs]);
  await pool.query('SELECT pg_notify($1, $2)', [channel, encodeChange({ kind: 'claimable' })]);
}

/**
 * At close: delete the rows of the owners this store registered that own no running workflow any more (their
 * manager released them all). An owner still holding some keeps its row, which expires: the others then take
 * its workflows over. Best effort (an unreachable server: the row expires, and is purged later).
 */
export async function retireOwners(pool: pg.Pool, sql: LeaseStatements, fences: Fences): Promise<void> {
  for (const owner of fences.owners) await pool.query(sql.retireOwner, [owner]).catch(() => undefined);
}
