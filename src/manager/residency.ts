/**
 * Eviction of idle workflows: at most `maxResident` workflows of a manager keep their run in memory. A
 * workflow that waits only for the outside (a queue get, an event wait) or for a timer (a sleep) can be
 * suspended -- its history is durable, so nothing is lost -- and resumed by replay when something needs it:
 * an outside call (act, resources, a stream, an inbox event), its earliest sleep's deadline, getResult().
 * Callers see no difference but latency. Least recently active workflows go first; a workflow running a
 * step, in the middle of an outside call, or with a resource stream open is never evicted (see
 * Historian.evictable).
 *
 * Why: a waiting workflow's run (its tasks' promises, resources, closures) costs kilobytes; a manager with a
 * million workflows waiting for events would otherwise hold all of them.
 */
import { InvalidArgumentError } from '../core/errors.js';

/** Default of ManagerOptions.maxResident: about 200 MB of idle runs at 18.7 KiB each, for a small machine. */
export const DEFAULT_MAX_RESIDENT = 10_000;

/** What the residency needs from a managed workflow (ManagedWorkflow). */
export interface Evictable {
  readonly id: string;
  /** Suspend the run if it is idle now (resumed later by replay); false when it is not. */
  evict(): boolean;
}

/**
 * The resident workflows of a manager, least recently active first, and the eviction of idle ones beyond
 * the budget.
 *
 * @example
 * const residency = new Residency(10_000);
 * residency.started(managed);   // its run started
 * residency.wentIdle(managed);  // it waits for the outside or a timer now
 * residency.ended(managed);     // its run ended (not by eviction)
 */
export class Residency {
  /** Workflows with a run in memory: what the budget counts. */
  private readonly resident = new Set<Evictable>();
  /**
   * Those of them that went idle, least recently active first (a Map keeps insertion order). Runs that have
   * not gone idle yet (loading, replaying, busy since they started) are not in it, so a pass never wades
   * through thousands of runs waiting for their turn in the launch window.
   */
  private readonly idle = new Map<string, Evictable>();
  private passScheduled = false;

  constructor(readonly maxResident: number = DEFAULT_MAX_RESIDENT) {
    if (maxResident !== Infinity && (!Number.isInteger(maxResident) || maxResident < 1)) {
      throw new InvalidArgumentError(`maxResident must be a whole number of workflows, 1 or more (or Infinity: never evict), got ${String(maxResident)}.`);
    }
  }

  /** How many workflows have a run in memory now. */
  get size(): number {
    return this.resident.size;
  }

  /** A run of `workflow` started: it counts against the budget. */
  started(workflow: Evictable): void {
    if (this.maxResident === Infinity) return;
    this.resident.add(workflow);
  }

  /** `workflow` went idle (after progress, an outside call, a stream's end): the most recently active candidate. */
  wentIdle(workflow: Evictable): void {
    if (this.maxResident === Infinity || !this.resident.has(workflow)) return;
    this.idle.delete(workflow.id);
    this.idle.set(workflow.id, workflow);
    this.schedulePass();
  }

  /** The run of `workflow` ended (finished, suspended, stopped): it no longer counts. */
  ended(workflow: Evictable): void {
    this.resident.delete(workflow);
    if (this.idle.get(workflow.id) === workflow) this.idle.delete(workflow.id);
  }

  /** Over budget: evict at the end of this turn (once per turn, however many workflows went idle in it). */
  private schedulePass(): void {
    if (this.passScheduled || this.resident.size <= this.maxResident) return;
    this.passScheduled = true;
    setImmediate(() => this.pass());
  }

  /**
   * Evict idle workflows, least recently active first, until within budget. One busy again since it went
   * idle is skipped and stays a candidate (it is moved to the back when it goes idle again).
   */
  private pass(): void {
    this.passScheduled = false;
    let excess = this.resident.size - this.maxResident;
    for (const workflow of this.idle.values()) {
      if (excess <= 0) return;
      if (!workflow.evict()) continue;
      this.idle.delete(workflow.id);
      this.resident.delete(workflow);
      excess--;
    }
  }
}
