/**
 * Eviction of idle workflows under a budget: at most `maxResident` workflows of a manager keep their run in
 * memory, and their runs' estimated memory stays within `maxResidentBytes`. A workflow that waits only for
 * the outside (a queue get, an event wait) or for a timer (a sleep) can be suspended -- its history is
 * durable, so nothing is lost -- and resumed by replay when something needs it: an outside call (act,
 * resources, a stream, an inbox event), its earliest sleep's deadline (getResult() only waits). Callers see
 * no difference but latency. Least recently active workflows go first, until both budgets hold; a workflow
 * running a step, in the middle of an outside call, or with a resource stream open is never evicted (see
 * Historian.evictable).
 *
 * Why: a waiting workflow's run (its tasks' promises, resources, closures) costs kilobytes, and one holding a
 * large queue or state far more; a manager with a million workflows waiting for events would otherwise hold
 * all of them.
 */
import { InvalidArgumentError } from '../core/errors.js';

/** Default of ManagerOptions.maxResident: about 160 MB of idle runs at RUN_BASE_BYTES each, for a small machine. */
export const DEFAULT_MAX_RESIDENT = 10_000;

/**
 * Default of ManagerOptions.maxResidentBytes: 256 MiB. A quarter of a 1 GB machine (the smallest that runs a
 * Node service comfortably), leaving the rest to V8's other objects, the store's caches and the process;
 * above what DEFAULT_MAX_RESIDENT small runs take (10,000 x 16 KiB = 156 MiB), so for workflows holding little
 * the count is the budget that binds, and the bytes bind when some hold large queues or states.
 */
export const DEFAULT_MAX_RESIDENT_BYTES = 256 * 1024 * 1024;

/**
 * What a resident idle run costs beyond what an evicted workflow still costs (its entry, the manager's
 * bookkeeping): the Historian's run, its root task's promises and closures, the workflow function's frame.
 * Measured by bench/residency.ts: V8 heap growth per idle run of a workflow waiting on one queue (resident,
 * against evicted), minus the resource that Run.heldBytes counts.
 */
export const RUN_BASE_BYTES = 16 * 1024;

/** What the residency needs from a managed workflow (ManagedWorkflow). */
export interface Evictable {
  readonly id: string;
  /** Estimated heap bytes its run holds beyond RUN_BASE_BYTES (Historian.heldBytes); read when it goes idle. */
  readonly heldBytes: number;
  /** Suspend the run if it is idle now (resumed later by replay); false when it is not. */
  evict(): boolean;
}

/**
 * The resident workflows of a manager, least recently active first, and the eviction of idle ones beyond
 * the budget.
 *
 * @example
 * const residency = new Residency(10_000, 256 * 1024 * 1024);
 * residency.started(managed);   // its run started
 * residency.wentIdle(managed);  // it waits for the outside or a timer now
 * residency.ended(managed);     // its run ended (not by eviction)
 */
export class Residency {
  /** Workflows with a run in memory (what the budgets count), with their run's estimated bytes when last idle. */
  private readonly resident = new Map<Evictable, number>();
  /** The sum of `resident`'s estimates. */
  private residentBytes = 0;
  /**
   * Those of them that went idle, least recently active first (a Map keeps insertion order). Runs that have
   * not gone idle yet (loading, replaying, busy since they started) are not in it, so a pass never wades
   * through thousands of runs waiting for their turn in the launch window.
   */
  private readonly idle = new Map<string, Evictable>();
  private passScheduled = false;

  /**
   * `maxResident`: how many workflows may keep a run in memory; `maxResidentBytes`: how much their runs may
   * take, estimated (RUN_BASE_BYTES each, plus what each holds). Infinity: no such budget (both: never evict).
   */
  constructor(readonly maxResident: number = DEFAULT_MAX_RESIDENT, readonly maxResidentBytes: number = DEFAULT_MAX_RESIDENT_BYTES) {
    if (maxResident !== Infinity && (!Number.isInteger(maxResident) || maxResident < 1)) {
      throw new InvalidArgumentError(`maxResident must be a whole number of workflows, 1 or more (or Infinity: no limit on the count), got ${String(maxResident)}.`);
    }
    if (maxResidentBytes !== Infinity && (!Number.isSafeInteger(maxResidentBytes) || maxResidentBytes < 1)) {
      throw new InvalidArgumentError(
        `maxResidentBytes must be a whole number of bytes, 1 or more (e.g. 256 * 1024 * 1024; or Infinity: no limit on the memory), got ${String(maxResidentBytes)}.`,
      );
    }
  }

  /** How many workflows have a run in memory now. */
  get size(): number {
    return this.resident.size;
  }

  /** The estimated memory of the runs in memory now (bytes), as of when each last went idle. */
  get bytes(): number {
    return this.residentBytes;
  }

  /** A run of `workflow` started: it counts against the budgets (as a run holding nothing, until it goes idle). */
  started(workflow: Evictable): void {
    this.estimate(workflow, RUN_BASE_BYTES);
  }

  /**
   * `workflow` went idle (after progress, an outside call, a stream's end): the most recently active
   * candidate; its estimate is brought up to date (what it holds changes only while it is not idle).
   */
  wentIdle(workflow: Evictable): void {
    if (!this.resident.has(workflow)) return;
    this.estimate(workflow, RUN_BASE_BYTES + workflow.heldBytes);
    this.idle.delete(workflow.id);
    this.idle.set(workflow.id, workflow);
    this.schedulePass();
  }

  /** The run of `workflow` ended (finished, suspended, stopped): it no longer counts. */
  ended(workflow: Evictable): void {
    this.forget(workflow);
    if (this.idle.get(workflow.id) === workflow) this.idle.delete(workflow.id);
  }

  private estimate(workflow: Evictable, bytes: number): void {
    this.residentBytes += bytes - (this.resident.get(workflow) ?? 0);
    this.resident.set(workflow, bytes);
  }

  private forget(workflow: Evictable): void {
    this.residentBytes -= this.resident.get(workflow) ?? 0;
    this.resident.delete(workflow);
  }

  private get overBudget(): boolean {
    return this.resident.size > this.maxResident || this.residentBytes > this.maxResidentBytes;
  }

  /** Over budget: evict at the end of this turn (once per turn, however many workflows went idle in it). */
  private schedulePass(): void {
    if (this.passScheduled || !this.overBudget) return;
    this.passScheduled = true;
    setImmediate(() => this.pass());
  }

  /**
   * Evict idle workflows, least recently active first, until both budgets hold. One busy again since it went
   * idle is skipped and stays a candidate (it is moved to the back when it goes idle again). A workflow that
   * is not idle is never evicted, whatever it holds: the budgets may then stay exceeded until it is.
   */
  private pass(): void {
    this.passScheduled = false;
    for (const workflow of this.idle.values()) {
      if (!this.overBudget) return;
      if (!workflow.evict()) continue;
      this.idle.delete(workflow.id);
      this.forget(workflow);
    }
  }
}
