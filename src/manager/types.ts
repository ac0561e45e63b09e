/**
 * The types of the WorkflowManager's public API: the registry of workflow types, start options, handles and
 * listings. Kept apart from the manager so that the proxies and the signal handler can use them too.
 */
import type { Logger } from 'pino';
import type { Store } from '../storage/store.js';
import type { WorkflowRegistry } from '../core/workflow-types.js';
import type { LeaseOptions } from './claims.js';

export type { AnyWorkflow, WorkflowRegistry, WorkflowType, WorkflowArgs, WorkflowResult } from '../core/workflow-types.js';

/**
 * Options of {@link WorkflowManager.open}.
 *
 * @example
 * const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows: { game } });
 */
export interface ManagerOptions<W extends WorkflowRegistry> {
  /** Where histories, workflow entries, results and aliases live. The manager closes it in `close()`. */
  store: Store;
  /** The workflow types this manager runs, by name. */
  workflows: W;
  /** Passed to every Historian the manager creates. */
  historian?: {
    /** See HistorianOptions.stallTimeoutMs. */
    stallTimeoutMs?: number;
  };
  /**
   * Where the manager reports workflows it cannot resume and inbox events it rejects (default: Quest's
   * logger). A rejected event's sender reads the reason from the store (EventInbox.eventOutcome).
   */
  logger?: Pick<Logger, 'warn'>;
  /**
   * When the store has an inbox (EventInbox: SqliteStore, PostgresStore, MemoryStore), deliver its events every this many
   * milliseconds (default 200; 0: never by itself, only through `deliverInbox()`). See
   * WorkflowManager.deliverInbox for the guarantees.
   */
  inboxPollMs?: number;
  /**
   * How long close(), cancel() and delete() wait for steps that are still running to return once their
   * AbortSignal is aborted, in milliseconds (default 5000; 0: not at all; Infinity: as long as they take).
   * Past it they go on regardless: a late step's result is dropped and never written. Nothing else a
   * workflow awaits is waited for.
   */
  stopGraceMs?: number;
  /**
   * How many runs may start at once (default 64): beyond it, start() waits before writing the entry, and a
   * workflow resumed at open before loading its history, until a run ends or the event-loop turn another was
   * admitted in is over. Starting tens of thousands of workflows at once then runs them in waves instead of
   * all side by side, which keeps short-lived objects short-lived (half the garbage-collection work, or less).
   * Callers see no difference but latency: start() resolves once the entry is durable, and outside calls wait
   * as for any run starting. A whole number, 1 or more; InvalidArgumentError otherwise.
   */
  launchWindow?: number;

  /**
   * When the store is shared by many processes (it has WorkflowLeases: PostgresStore): how long a lease
   * holds without a heartbeat (`leaseMs`, default 5000: a dead process's workflows continue elsewhere within
   * about that long), and at most how many workflows run in this process (`maxWorkflows`, default no limit).
   */
  leases?: LeaseOptions;

  /**
   * How many workflows keep their run in memory (default 10,000; Infinity: no limit by count; eviction is off
   * only when `maxResidentBytes` is Infinity too). Beyond it, idle workflows
   * (waiting only for outside events or a sleep; never one running a step, in an outside call, or with a
   * resource stream open) are evicted, least recently active first: their run is dropped (the history is
   * durable in the store) and resumed by replay when an outside call or a sleep's deadline needs it
   * (getResult() waits for it as for any running workflow). Callers see no difference but latency; list() shows an evicted workflow 'running' with
   * `resident: false`. A whole number, 1 or more, or Infinity; InvalidArgumentError otherwise (on every
   * store). On a store shared by many processes (WorkflowLeases: PostgresStore) an evicted workflow stays
   * this process's: the heartbeat renews its lease, and inbox events from any process wake it here. It counts
   * against `leases.maxWorkflows` as a running one does (it may wake at any moment without asking anyone), so
   * eviction saves memory, not room for more claims. If its lease is lost meanwhile (the process was paused
   * past it and another process took the workflow over), it is dropped from this manager and never resumed
   * here: a run checks its lease as it loads its history, and runs nothing when the lease has moved. See also
   * `maxResidentBytes`: idle workflows are evicted until both budgets hold.
   */
  maxResident?: number;

  /**
   * How much memory the runs kept in memory may take, estimated, in bytes (default 256 MiB: a quarter of a
   * 1 GB machine; Infinity: no limit on the memory). Beyond it, idle workflows are evicted as beyond
   * `maxResident`, least recently active first, until both budgets hold. The estimate of a run is a measured
   * fixed cost (about 16 KiB) plus what Quest holds for it: its open resources, the items in its queues, its
   * states' values (estimated from their shape when they enter, V8's layout on 64-bit Node), its tasks. It is
   * brought up to date each time the workflow goes idle, and shrinks as the workflow consumes its queues.
   * Values the workflow's own code keeps in its variables are not counted. A workflow that is not idle is
   * never evicted, however much it holds. A whole number, 1 or more, or Infinity; InvalidArgumentError
   * otherwise. `npm run bench:residency` compares the estimate with the heap's real growth (see the README).
   *
   * @example
   * await WorkflowManager.open({ store, workflows, maxResidentBytes: 64 * 1024 * 1024 });
   */
  maxResidentBytes?: number;
}

/**
 * What {@link WorkflowManager.residency} reports: the workflows whose run is in memory now, and the estimate
 * of the memory those runs take (see ManagerOptions.maxResidentBytes), with the budgets they are kept under.
 *
 * @example
 * { resident: 812, estimatedBytes: 14_215_168, maxResident: 10_000, maxResidentBytes: 268_435_456 }
 */
export interface ResidencyInfo {
  /** Workflows with a run in memory (running, or idle and not evicted). */
  resident: number;
  /** Their runs' estimated memory in bytes, each as of when it last went idle (a run starting counts its fixed cost). */
  estimatedBytes: number;
  maxResident: number;
  maxResidentBytes: number;
}

/**
 * Options of {@link WorkflowManager.startWith}.
 *
 * @example
 * await manager.startWith('game', 'g1', [3], { ifExists: 'resume', deleteOnFinish: true });
 */
export interface StartOptions {
  /**
   * Forget the workflow (entry, result, aliases) as soon as it finishes. Callers already waiting in
   * `getResult()` still get the outcome; later calls get WorkflowNotFoundError. Default false.
   */
  deleteOnFinish?: boolean;
  /**
   * What to do when a workflow with this id exists (running or finished):
   * - 'error' (default): DuplicateWorkflowError;
   * - 'resume': return the existing workflow, resuming it if it is not running here (start-or-resume,
   *   idempotent). Its original arguments and options are kept; a different type is still a
   *   DuplicateWorkflowError, because it cannot be the same workflow.
   */
  ifExists?: 'error' | 'resume';
  /**
   * Fail the workflow with TimeoutError if it has not finished this many milliseconds after its start. The
   * deadline is stored with the workflow's entry: a restart neither forgets nor extends it (a deadline passed
   * while no process ran the workflow fires as soon as a manager resumes it). When it fires the run is stopped
   * as by cancel() (never waiting on user code), and getResult() throws the TimeoutError.
   */
  timeoutMs?: number;
  /**
   * Start it as a child of workflow `id` (what `startChild` inside a workflow does): with `cancelWithParent`,
   * cancelling, deleting or timing out the parent cancels this workflow too.
   */
  parent?: { id: string; cancelWithParent: boolean };
}

/**
 * A started workflow.
 *
 * @example
 * const game = await manager.start('game', 'g1', 3);
 * const score = await game.result();   // typed by the workflow's return type
 */
export interface WorkflowHandle<R> {
  readonly id: string;
  readonly type: string;
  /** False when `ifExists: 'resume'` found the workflow already there. */
  readonly created: boolean;
  /**
   * The workflow's result; same semantics as {@link WorkflowManager.getResult}, for this workflow's id only
   * (never an alias of the same name).
   */
  result(): Promise<R>;
}

/**
 * How a workflow stands, as the manager reports it (see {@link WorkflowInfo} for 'suspended').
 *
 * @example
 * const running = (await manager.list()).filter((w) => w.status === 'running');
 */
export type ManagedStatus = 'running' | 'suspended' | 'damaged' | 'completed' | 'failed' | 'cancelled';

/**
 * One line of {@link WorkflowManager.list}.
 *
 * @example
 * { id: 'g1', type: 'game', status: 'running', startedAt: new Date(...), aliases: ['lobby'] }
 *
 * `suspended` means: unfinished, but not running in this manager right now: its type is not registered, it
 * stopped on an engine error (NonDeterminismError, StorageError: see `error`), or the manager is closing.
 * The next manager over the same store resumes it. On a store shared by many processes (PostgreSQL), a workflow
 * another process runs (or will claim) is `running`.
 *
 * `damaged` means: unfinished, and not run because its stored history is damaged (`error` is the
 * CorruptHistoryError, naming the file and byte offset where the store can tell). Damage is never replayed:
 * restore the history from a backup, or delete the workflow.
 */
export interface WorkflowInfo {
  id: string;
  type: string;
  status: ManagedStatus;
  startedAt: Date;
  finishedAt?: Date;
  /** Aliases the workflow holds now. */
  aliases: string[];
  /**
   * False when the workflow is 'running' but evicted from memory while idle (see ManagerOptions.maxResident and
   * maxResidentBytes): it resumes by replay when something needs it. Absent otherwise.
   */
  resident?: boolean;
  /** Why a failed or suspended workflow is not running (the error's message). */
  error?: string;
}
