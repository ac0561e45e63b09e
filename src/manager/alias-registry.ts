/**
 * The manager's alias registry: which workflow answers to which alias, in memory (for routing) and in the
 * store (so that an alias still routes after a restart, before its workflow has replayed it).
 *
 * The subtle part is replay. When several workflows resume at once, each replays its own alias records in
 * its own order: workflow A may replay "open lobby" after workflow B, which took the alias over from A
 * later, has replayed its own "open lobby". Both opens really happened, so a *replayed* open never fails;
 * the alias just has two claimants until A replays its "close lobby". A *live* open fails with
 * DuplicateAliasError whenever anybody else (or the workflow itself) holds the alias, except that it waits
 * while the only holders are workflows that will still replay a recorded close of it.
 */
import { DuplicateAliasError } from '../core/errors.js';
import type { AliasRegistry } from '../core/alias.js';
import type { Store } from '../storage/store.js';

/**
 * What the registry needs to know about the manager's workflows.
 *
 * @example
 * const ownership: AliasOwnership = { isLive: (id) => live.has(id), releasesDurably: (id) => !suspending.has(id) };
 */
export interface AliasOwnership {
  /** Is `workflowId` an unfinished workflow of this manager (so an alias stored for it is really held)? */
  isLive(workflowId: string): boolean | Promise<boolean>;
  /**
   * Does a removal by `workflowId` now mean that it let the alias go (closed it, or finished)? False while
   * it is being suspended: the stored alias must then outlive the process, for the next run to answer to it.
   */
  releasesDurably(workflowId: string): boolean;
}

/**
 * Implements the engine's AliasRegistry for every Historian of one manager.
 *
 * @example
 * const aliases = new ManagerAliases(store, { isLive: (id) => running.has(id), releasesDurably: () => true });
 * new Historian(id, fn, history, { aliases });
 */
export class ManagerAliases implements AliasRegistry {
  /** alias → workflows claiming it, first claimant first (more than one only while replays overlap). */
  private readonly claims = new Map<string, string[]>();
  /** workflowId → alias → how many opens and closes of that alias its run will still replay. */
  private readonly replays = new Map<string, Map<string, Pending>>();
  /** Live opens waiting for a replaying claimant to replay its recorded close. */
  private waiters: Array<() => void> = [];

  constructor(private readonly store: Store, private readonly ownership: AliasOwnership) {}

  /**
   * A run of `workflowId` is about to replay `records`: its first opens of each alias recorded there are
   * replays. (Replayed opens all come before live ones: a call with no record waits for replay to end.)
   */
  expectReplays(workflowId: string, records: readonly unknown[]): void {
    const counts = new Map<string, Pending>();
    for (const record of records) {
      const found = aliasRecord(record);
      if (found === undefined) continue;
      const pending = counts.get(found.alias) ?? { opens: 0, closes: 0 };
      if (found.open) pending.opens++;
      else pending.closes++;
      counts.set(found.alias, pending);
    }
    if (counts.size === 0) this.replays.delete(workflowId);
    else this.replays.set(workflowId, counts);
  }

  /** A run of `workflowId` ended: what it did not replay, it never will. */
  runEnded(workflowId: string): void {
    if (this.replays.delete(workflowId)) this.wake();
  }

  /** Called by the engine when a workflow opens an alias; DuplicateAliasError when it is held (live opens). */
  async add(alias: string, workflowId: string): Promise<void> {
    if (this.takeReplay(workflowId, alias, 'opens')) await this.restore(alias, workflowId);
    else await this.claim(alias, workflowId);
  }

  /** Called by the engine when a workflow closes an alias, or its run ends holding it. */
  async remove(alias: string, workflowId: string): Promise<void> {
    this.takeReplay(workflowId, alias, 'closes');
    const dropped = this.drop(alias, workflowId);
    this.wake();
    if (!dropped || !this.ownership.releasesDurably(workflowId)) return;
    const next = this.claims.get(alias)?.[0];
    if (next === undefined) {
      await this.store.deleteAlias(alias, workflowId);
      return;
    }
    // A replayed claimant remains: the stored alias now belongs to it (unless it already points elsewhere).
    const stored = await this.store.getAlias(alias);
    if (stored === undefined || stored === workflowId) await this.store.putAlias(alias, next);
  }

  /** The workflow `alias` routes to: a claimant in memory, else a live workflow the store names; or undefined. */
  async resolve(alias: string): Promise<string | undefined> {
    const claimants = this.claims.get(alias) ?? [];
    if (claimants.length === 1) return claimants[0];
    const stored = await this.store.getAlias(alias);
    if (stored !== undefined && (await this.ownership.isLive(stored))) return stored;
    return claimants[0];
  }

  /** The aliases `workflowId` holds now (in memory). */
  aliasesOf(workflowId: string): string[] {
    const held: string[] = [];
    for (const [alias, claimants] of this.claims) if (claimants.includes(workflowId)) held.push(alias);
    return held;
  }

  /** Drop every claim of `workflowId` (it was cancelled or deleted); the caller cleans the store. */
  forget(workflowId: string): void {
    for (const alias of this.aliasesOf(workflowId)) this.drop(alias, workflowId);
    this.replays.delete(workflowId);
    this.wake();
  }

  private async claim(alias: string, workflowId: string): Promise<void> {
    await this.untilFirm(alias);
    if ((this.claims.get(alias)?.length ?? 0) > 0) throw new DuplicateAliasError(alias);
    // Reserve synchronously, so that a concurrent open of the same alias sees it while we ask the store.
    this.claims.set(alias, [workflowId]);
    try {
      const stored = await this.store.getAlias(alias);
      // A live holder that has not replayed its open yet (just resumed) still holds the alias.
      if (stored !== undefined && stored !== workflowId && (await this.ownership.isLive(stored))) throw new DuplicateAliasError(alias);
      await this.store.putAlias(alias, workflowId);
    } catch (error) {
      this.drop(alias, workflowId);
      throw error;
    }
  }

  private async restore(alias: string, workflowId: string): Promise<void> {
    const claimants = this.claims.get(alias) ?? [];
    if (!claimants.includes(workflowId)) claimants.push(workflowId);
    this.claims.set(alias, claimants);
    const stored = await this.store.getAlias(alias);
    // The store keeps the latest holder; only fill it in when nobody live holds it (after a graceful close
    // the alias is still stored; after a clean finish of its old holder it is not).
    if (stored === undefined || (stored !== workflowId && !(await this.ownership.isLive(stored)))) await this.store.putAlias(alias, workflowId);
  }

  /**
   * Wait while every claimant of `alias` is a workflow that will still replay a recorded close of it: the
   * alias is free in its history, the replay just has not got there (workflows replay independently). A
   * claimant with no close to replay holds the alias for real, and the caller's open is a duplicate.
   */
  private async untilFirm(alias: string): Promise<void> {
    for (;;) {
      const claimants = this.claims.get(alias) ?? [];
      if (claimants.length === 0 || !claimants.every((claimant) => this.pending(claimant, alias).closes > 0)) return;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private pending(workflowId: string, alias: string): Pending {
    return this.replays.get(workflowId)?.get(alias) ?? { opens: 0, closes: 0 };
  }

  /** Count off one replayed open or close; false when none was left to replay (the call is live). */
  private takeReplay(workflowId: string, alias: string, kind: keyof Pending): boolean {
    const pending = this.replays.get(workflowId)?.get(alias);
    if (pending === undefined || pending[kind] === 0) return false;
    pending[kind]--;
    return true;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Remove one claim; true when there was one. */
  private drop(alias: string, workflowId: string): boolean {
    const claimants = this.claims.get(alias);
    const at = claimants?.indexOf(workflowId) ?? -1;
    if (claimants === undefined || at < 0) return false;
    claimants.splice(at, 1);
    if (claimants.length === 0) this.claims.delete(alias);
    return true;
  }
}

/** Alias opens and closes a run will replay. */
interface Pending {
  opens: number;
  closes: number;
}

/** The alias a history record opens or closes, if it is an alias record. */
function aliasRecord(record: unknown): { alias: string; open: boolean } | undefined {
  if (typeof record !== 'object' || record === null) return undefined;
  const candidate = record as { type?: unknown; alias?: unknown; open?: unknown };
  if (candidate.type !== 'alias' || typeof candidate.alias !== 'string') return undefined;
  return { alias: candidate.alias, open: candidate.open === true };
}
