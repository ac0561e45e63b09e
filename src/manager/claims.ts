/**
 * The manager's side of a store shared by many processes (WorkflowLeases, PostgreSQL): which workflows this
 * process runs. It claims new and orphaned workflows (nobody owns them, or their owner's lease expired: the
 * process died) up to its capacity, renews its leases with a heartbeat, stops a run whose lease it lost
 * (another process took the workflow over: the store's fencing already refuses that run's writes), and
 * releases a workflow once its run has ended here.
 *
 * It listens to the store's notifications: new inbox events wake inbox delivery, released or new workflows
 * wake a claim, finished workflows and settled events wake callers waiting in getResult and act. Every one of
 * these also happens on the heartbeat, so a lost notification only delays.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { InvalidArgumentError, LeaseLostError } from '../core/errors.js';
import type { Store, WorkflowEntry, WorkflowLeases } from '../storage/store.js';
import type { ManagerAliases } from './alias-registry.js';
import { actElsewhere, awaitFinished, ChangeWaiters, movedAway } from './elsewhere.js';
import { outcomeOf } from './entry-outcomes.js';
import type { ManagedWorkflow } from './managed-workflow.js';

/** Default of ManagerOptions.leases.leaseMs. */
export const DEFAULT_LEASE_MS = 5000;
/** At most this many workflows per claim statement. */
const CLAIM_BATCH = 200;

/** Options of the leases (ManagerOptions.leases). */
export interface LeaseOptions {
  /**
   * How long a lease holds without a heartbeat, in milliseconds (default 5000). A process that dies loses its
   * workflows to the others after at most this long; one paused longer than this loses for good those another
   * process claimed meanwhile (its late writes are refused; its next heartbeat stops their runs here) and keeps
   * those nobody claimed. Heartbeats go every third of it; on PostgreSQL a heartbeat renews one row per
   * process (the lease of every workflow it holds is its own), whatever the number of workflows.
   */
  leaseMs?: number;
  /**
   * At most this many workflows run in this process at once (default: no limit; 0: none, only start and read).
   * A workflow evicted from memory while idle (ManagerOptions.maxResident) counts as one that runs: it keeps
   * its lease and wakes without asking anyone (an inbox event, its sleep's deadline), so this stays a bound on
   * what the process may have to run at once, and on the leases its heartbeat renews. Eviction saves memory,
   * not room for more claims: with `maxResident` below `maxWorkflows`, a process holds up to `maxWorkflows`
   * workflows of which at most `maxResident` have a run in memory.
   */
  maxWorkflows?: number;
}

/** What the claims need from their manager. */
export interface ClaimDeps {
  readonly store: Store & WorkflowLeases;
  readonly log: Pick<Logger, 'warn'>;
  /** The manager's workflows (read; a workflow that moved away is removed). */
  readonly live: Map<string, ManagedWorkflow>;
  /** The manager's aliases (a workflow that moved away is forgotten, in memory only). */
  readonly aliases: Pick<ManagerAliases, 'forget'>;
  /** The workflow types this manager runs: it claims only those. */
  types(): string[];
  /** Run (resume by replay) a workflow this process just claimed. */
  launch(entry: WorkflowEntry): void;
  /** Look at the inbox now (an event was posted). */
  wakeInbox(): void;
  /** True once the manager closes. */
  isClosing(): boolean;
}

/**
 * Claims, heartbeats and releases of one manager.
 *
 * @example
 * const claims = new WorkflowClaims(deps, { leaseMs: 5000 });
 * await claims.start();                       // claims what is waiting, starts the heartbeat
 * const lease = await claims.create(entry);  // a workflow started here
 */
export class WorkflowClaims {
  /**
   * This manager's owner id in the store: `<host>/<pid>/<random>`, unique per manager (a restarted process is
   * another owner), and saying to an operator which process holds a workflow.
   */
  readonly owner = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  readonly leaseMs: number;
  readonly waiters = new ChangeWaiters();
  private readonly maxWorkflows: number;
  /** The workflows whose lease this manager holds (or held, until released), with the epoch of its claim. */
  private readonly held = new Map<string, number>();
  /** Being stopped because their lease was lost. */
  private readonly dropping = new Set<string>();
  private heartbeat: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  /** The claim in progress, and whether another was asked for meanwhile. */
  private claiming: Promise<void> | undefined;
  private claimAgain = false;
  private tick: Promise<void> | undefined;
  /** Releases in progress: close() waits for them before the store closes. */
  private readonly releasing = new Set<Promise<void>>();

  constructor(private readonly deps: ClaimDeps, options: LeaseOptions = {}) {
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.maxWorkflows = options.maxWorkflows ?? Infinity;
    if (!(this.leaseMs >= 10) || !Number.isFinite(this.leaseMs)) {
      throw new InvalidArgumentError(`leases.leaseMs must be a finite number of milliseconds, at least 10 (got ${String(options.leaseMs)}).`);
    }
    if (!(this.maxWorkflows >= 0)) throw new InvalidArgumentError(`leases.maxWorkflows must be 0 or more (got ${String(options.maxWorkflows)}).`);
  }

  /** Listen to the store, claim what waits, and start the heartbeat. Rejects when the store cannot be read. */
  async start(): Promise<void> {
    this.unwatch = this.deps.store.watch((change) => {
      this.waiters.heard(change);
      if (change.kind === 'inbox') this.deps.wakeInbox();
      if (change.kind === 'claimable') this.claimSoon();
    });
    await this.claim();
    this.heartbeat = setInterval(() => {
      this.tick ??= this.beat().finally(() => (this.tick = undefined));
    }, Math.max(5, Math.floor(this.leaseMs / 3)));
    this.heartbeat.unref();
  }

  /**
   * An outside call on workflow `id` that does not run here (`error` says so): when it runs in another process
   * (or waits for one to claim it), `reach` it there (through the store); otherwise rethrow `error`.
   */
  async reachElsewhere<T>(id: string, error: unknown, reach: (store: Store & WorkflowLeases, waiters: ChangeWaiters) => T | Promise<T>): Promise<T> {
    const entry = this.deps.live.get(id)?.active === true ? undefined : await this.deps.store.getWorkflow(id);
    if (entry?.state !== 'running') throw error;
    return reach(this.deps.store, this.waiters);
  }

  /** `act` on workflow `id` elsewhere (see reachElsewhere): post the action to the inbox and wait for its outcome. */
  actElsewhere(id: string, error: unknown, event: { resource: string; identity: string | null; action: string; args: unknown[] }): Promise<unknown> {
    return this.reachElsewhere(id, error, (store, waiters) => actElsewhere(store, waiters, id, event));
  }

  /**
   * getResult() of workflow `id` when it does not run here (or its run here handed it over): wait for it to
   * finish wherever it runs (NOTIFY, or the poll), or for its run here when this manager claims it meanwhile.
   */
  async result(id: string, asked: string): Promise<unknown> {
    for (;;) {
      const entry = await awaitFinished(this.deps.store, this.waiters, id, asked, () => this.deps.live.get(id)?.active === true);
      if (entry !== undefined) return outcomeOf(entry);
      const managed = this.deps.live.get(id);
      await managed?.settled();
      if (managed !== undefined && !this.handedOver(managed)) return managed.outcome();
    }
  }

  /** How many workflows run here now: with a run in memory, or evicted (they keep their lease; see LeaseOptions.maxWorkflows). */
  private activeCount(): number {
    let active = 0;
    for (const managed of this.deps.live.values()) if (managed.served) active++;
    return active;
  }

  /** Drop a workflow from the manager's memory (its run has ended): it runs elsewhere now, or will. */
  private forget(id: string): void {
    this.deps.live.delete(id);
    this.deps.aliases.forget(id);
  }

  /** True while this process may take one more workflow. */
  get hasCapacity(): boolean {
    // No limit: no need to count (a pass over every workflow of the manager, at each start).
    return this.maxWorkflows === Infinity || this.activeCount() < this.maxWorkflows;
  }

  /**
   * Store a new workflow's entry: claimed by this manager when it has capacity (the caller then runs it),
   * otherwise left for a process with capacity. DuplicateWorkflowError when the id exists.
   */
  async create(entry: WorkflowEntry): Promise<boolean> {
    const mine = this.hasCapacity;
    const lease = await this.deps.store.createWorkflow(entry, mine ? { owner: this.owner, leaseMs: this.leaseMs } : undefined);
    if (lease === undefined) return false;
    this.held.set(entry.id, lease.epoch);
    return true;
  }

  /** Claim workflow `id` if nobody runs it (an orphan) and this process has capacity; true when claimed. */
  async claimOne(id: string): Promise<boolean> {
    if (!this.hasCapacity) return false;
    const [lease] = await this.deps.store.claimWorkflows({ owner: this.owner, leaseMs: this.leaseMs, limit: 1, ids: [id], types: this.deps.types() });
    if (lease === undefined) return false;
    this.held.set(id, lease.epoch);
    return true;
  }

  /**
   * A run ended here (the manager's hook, after the workflow's state is updated). A workflow that finished,
   * was cancelled, or moved away (lease lost, storage failure) is released; one halted on an engine error
   * (NonDeterminismError, damage) stays held here, as with a single manager, until this manager closes.
   */
  runEnded(managed: ManagedWorkflow): void {
    const id = managed.id;
    if (this.deps.isClosing() || this.dropping.has(id) || !this.held.has(id)) return;
    const gone = managed.finished !== undefined || managed.stopping === 'cancel' || managed.stopping === 'delete';
    if (!gone && !movedAway(managed.halted)) return;
    if (!gone) {
      this.deps.log.warn({ workflow: id, err: managed.halted }, 'run stopped (its lease was lost, or the store failed): the workflow is left for whichever process claims it');
      this.forget(id);
    }
    const released = this.release([id]).finally(() => this.releasing.delete(released));
    this.releasing.add(released);
    this.claimSoon();
  }

  /**
   * True when getResult() should wait for the workflow in the store rather than report this run's end: the
   * run stopped because the workflow moved (or may move) to another process.
   */
  handedOver(managed: ManagedWorkflow): boolean {
    if (managed.finished !== undefined || this.deps.isClosing()) return false;
    if (managed.stopping === 'cancel' || managed.stopping === 'delete') return false;
    return managed.halted === undefined || movedAway(managed.halted);
  }

  /**
   * Before a run of workflow `id` loads its history: rejects with LeaseLostError (nothing runs) unless this
   * manager still holds its lease, as claimed (same owner, same epoch). Why: a workflow evicted while idle is
   * resumed by its sleep's timer or an event, which may come before the heartbeat noticed that the lease moved
   * (the process was paused past it, and another process took the workflow over). Fencing would refuse its
   * writes, but its steps would run beside the new owner's. One query (the history's load is another).
   */
  async confirmLease(id: string): Promise<void> {
    const epoch = this.held.get(id);
    const lease = epoch === undefined ? undefined : await this.deps.store.leaseOf(id);
    if (lease !== undefined && lease.owner === this.owner && lease.epoch === epoch) return;
    throw new LeaseLostError(id, `resume workflow ${JSON.stringify(id)} (it was not replayed here)`);
  }

  /** Stop claiming and renewing (the manager closes); the leases stay until {@link releaseAll}. */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.unwatch?.();
    this.waiters.close();
    await this.tick;
    await this.claiming;
    await Promise.all(this.releasing);
  }

  /** Release every lease still held (after every run here has stopped): the other processes take over at once. */
  async releaseAll(): Promise<void> {
    await this.release([...this.held.keys()]);
  }

  private async release(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.held.delete(id);
    try {
      await this.deps.store.releaseLeases(ids);
    } catch (error) {
      // The leases then expire by themselves: the others take over a lease period later.
      this.deps.log.warn({ err: error, workflows: ids.length }, 'could not release leases; they expire by themselves');
    }
  }

  /** Claim soon (debounced): a claim in progress runs once more when it ends. */
  private claimSoon(): void {
    if (this.deps.isClosing()) return;
    if (this.claiming !== undefined) {
      this.claimAgain = true;
      return;
    }
    void this.claim();
  }

  /** Claim up to capacity, in batches, one claim at a time. */
  private claim(): Promise<void> {
    this.claiming ??= (async () => {
      do {
        this.claimAgain = false;
        try {
          while (await this.claimBatch());
        } catch (error) {
          this.deps.log.warn({ err: error }, 'could not claim workflows; trying again at the next heartbeat');
        }
      } while (this.claimAgain && !this.deps.isClosing());
    })().finally(() => (this.claiming = undefined));
    return this.claiming;
  }

  /** One claim statement; true when it took a full batch (more may wait). */
  private async claimBatch(): Promise<boolean> {
    if (this.deps.isClosing()) return false;
    const room = this.maxWorkflows === Infinity ? Infinity : this.maxWorkflows - this.activeCount();
    if (!(room > 0)) return false;
    const limit = Math.min(room, CLAIM_BATCH);
    const leases = await this.deps.store.claimWorkflows({ owner: this.owner, leaseMs: this.leaseMs, limit, types: this.deps.types() });
    for (const { entry, epoch } of leases) {
      this.held.set(entry.id, epoch);
      if (this.deps.isClosing()) continue; // released by releaseAll()
      this.deps.launch(entry);
    }
    return leases.length === limit;
  }

  /** The heartbeat: renew, stop the runs whose lease was lost, claim what waits. */
  private async beat(): Promise<void> {
    if (this.deps.isClosing()) return;
    let renewed: string[];
    try {
      renewed = await this.deps.store.renewLeases(this.owner, this.leaseMs);
    } catch (error) {
      this.deps.log.warn({ err: error }, 'could not renew leases; trying again at the next heartbeat');
      return;
    }
    // Nothing lost (the usual case) when every lease held is kept: no pass over every workflow held. (The store's
    // leases are `held`'s, but for a creation resolving meanwhile: a loss then shows at the next heartbeat, the
    // workflow's writes being refused by fencing until then.)
    if (renewed.length !== this.held.size) {
      const kept = new Set(renewed);
      const lost = [...this.held.keys()].filter((id) => !kept.has(id) && !this.dropping.has(id));
      await Promise.all(lost.map((id) => this.drop(id)));
    }
    await this.claim();
  }

  /** The lease of `id` was lost: stop its run here (its writes are refused already), forget it, release it. */
  private async drop(id: string): Promise<void> {
    this.dropping.add(id);
    try {
      const managed = this.deps.live.get(id);
      if (managed !== undefined) {
        // No grace: a step still running here would only duplicate what the new owner runs.
        await managed.stop('close', 0);
        if (this.deps.live.get(id) === managed) this.forget(id);
      }
      this.deps.log.warn({ workflow: id }, 'lease lost: another process runs the workflow now; its run here stopped');
      await this.release([id]);
    } finally {
      this.dropping.delete(id);
    }
  }
}
