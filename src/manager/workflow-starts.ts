/**
 * How the manager creates a workflow under the lock of its id: a new entry made durable and its first run
 * launched, or an existing workflow returned or refused (StartOptions.ifExists), on a store of one manager
 * or one shared by many processes (WorkflowLeases).
 */
import { DuplicateWorkflowError, InvalidArgumentError, isQuestError } from '../core/errors.js';
import { serialize } from '../core/serializer.js';
import { hasEntryWrites, type Store, type WorkflowEntry } from '../storage/store.js';
import type { WorkflowClaims } from './claims.js';
import type { IdLocks } from './id-locks.js';
import type { LaunchWaiter } from './launch-window.js';
import { ManagedWorkflow, type ManagedDeps } from './managed-workflow.js';
import { checkId } from './outside-calls.js';
import type { AnyWorkflow, StartOptions } from './types.js';
import { timeoutAtStart } from './workflow-deadlines.js';

/**
 * What a start did: launched a run of a new workflow (which took over the launch-window place), created one
 * that another process runs (shared store), or found an existing one.
 */
export type StartOutcome = 'launched' | 'created' | 'existing';

/** One start, its arguments already checked and serialized. */
export interface StartRequest {
  id: string;
  type: string;
  workflow: AnyWorkflow;
  args: WorkflowEntry['args'];
  timeout: WorkflowEntry['timeout'];
  options: StartOptions;
}

/** What starts need from their manager. */
export interface StartDeps {
  readonly store: Store;
  readonly claims: WorkflowClaims | undefined;
  /** The manager's unfinished workflows (read). */
  readonly live: ReadonlyMap<string, ManagedWorkflow>;
  readonly managed: ManagedDeps;
  /** Throws when the manager is closing. */
  checkOpen(): void;
  /** Register and run a workflow of the manager. */
  launch(managed: ManagedWorkflow): void;
  /** The workflow function of a registered type (UnknownWorkflowTypeError otherwise). */
  workflowOf(type: string): AnyWorkflow;
}

/**
 * The starts of one manager.
 *
 * @example
 * const request = starts.request('game', 'g1', [3], {});
 * const outcome = await locks.run('g1', () => starts.create(request, place));
 */
export class WorkflowStarts {
  constructor(private readonly deps: StartDeps) {}

  /**
   * A start of workflow `id` of `type` with `args`, checked and its arguments serialized, before anything is
   * started: StorageError once the manager closes, InvalidArgumentError, UnknownWorkflowTypeError, NotSerializableError.
   */
  request(type: string, id: string, args: unknown, options: StartOptions): StartRequest {
    this.deps.checkOpen();
    checkId(id);
    const workflow = this.deps.workflowOf(type);
    if (!Array.isArray(args)) throw new InvalidArgumentError('startWith() takes the workflow arguments as an array.');
    const stored = (args as unknown[]).map((arg, n) => serialize(arg, `argument ${n} of workflow ${id}`));
    return { id, type, workflow, args: stored, timeout: timeoutAtStart(options.timeoutMs), options };
  }

  /**
   * Carry out a start: take a place in the launch window (many starts at once go in waves: ./launch-window.ts),
   * then, under the id's lock, create the entry and launch the run, which takes the place over (given back
   * otherwise). Resolves with `handle(request, created)`. A start that waits for its place is one PendingStart
   * and one promise; no async function: every start comes through here.
   */
  begin<H>(request: StartRequest, locks: IdLocks, handle: StartHandle<H>): Promise<H> {
    const launches = this.deps.managed.launches;
    const place = launches.enterOr(undefined);
    if (place !== undefined) return this.createIn(request, place, locks, handle);
    return new Promise<H>((resolve, reject) => launches.enterOr(new PendingStart(this, request, locks, handle, resolve, reject)));
  }

  /** begin() once the start has its place. */
  createIn<H>(request: StartRequest, place: () => void, locks: IdLocks, handle: StartHandle<H>): Promise<H> {
    return locks.run(request.id, () => this.create(request, place)).then(
      (outcome) => {
        if (outcome !== 'launched') place();
        return handle(request, outcome !== 'existing');
      },
      (error: unknown) => {
        place();
        throw error;
      },
    );
  }

  /**
   * Create the entry (durably) and launch its run, which takes over the launch-window `place` the start holds,
   * or reuse an existing workflow.
   */
  async create(request: StartRequest, place: () => void): Promise<StartOutcome> {
    const { id, type, options } = request;
    const { store, claims } = this.deps;
    this.deps.checkOpen();
    // A store with one-write inserts is not read first: the insert itself says whether the id is taken.
    const inserts = claims === undefined && hasEntryWrites(store);
    const existing = this.deps.live.get(id)?.entry ?? (inserts ? undefined : await store.getWorkflow(id));
    if (existing !== undefined) {
      await this.reuse(existing, type, options);
      return 'existing';
    }
    const entry: WorkflowEntry = {
      id, type, args: request.args, state: 'running', startedAt: Date.now(), deleteOnFinish: options.deleteOnFinish ?? false,
    };
    if (request.timeout !== undefined) entry.timeout = request.timeout;
    if (options.parent !== undefined) entry.parent = { id: options.parent.id, cancelWithParent: options.parent.cancelWithParent };
    if (inserts) {
      try {
        await store.insertWorkflow(entry);
      } catch (error) {
        await this.reuse(await this.takenBy(error, id), type, options);
        return 'existing';
      }
    } else if (claims === undefined) await store.putWorkflow(entry);
    else {
      const claimed = await claims.create(entry).catch((error: unknown) => this.createdElsewhere(error, entry, options));
      if (claimed === 'existing') return 'existing';
      if (!claimed) return 'created'; // created, for a process with capacity to run
    }
    this.deps.launch(new ManagedWorkflow(entry, request.workflow, this.deps.managed, place));
    return 'launched';
  }

  /**
   * ifExists: an existing workflow is returned (and resumed if it is not running here, nor, on a shared
   * store, in another process) or refused.
   */
  private async reuse(existing: WorkflowEntry, type: string, options: StartOptions): Promise<void> {
    if (options.ifExists !== 'resume' || existing.type !== type) throw new DuplicateWorkflowError(existing.id);
    if (existing.state !== 'running') return;
    const here = this.deps.live.get(existing.id);
    if (here === undefined && this.deps.claims !== undefined && !(await this.deps.claims.claimOne(existing.id))) return;
    this.deps.launch(here ?? new ManagedWorkflow(existing, this.deps.workflowOf(type), this.deps.managed));
  }

  /** An insert of workflow `id` failed with `error`: the entry that has the id, when that is why; else `error`. */
  private async takenBy(error: unknown, id: string): Promise<WorkflowEntry> {
    const existing = isQuestError(error, 'DUPLICATE_WORKFLOW') ? await this.deps.store.getWorkflow(id) : undefined;
    if (existing === undefined) throw error;
    return existing;
  }

  /** Shared store: another process created workflow `entry.id` a moment before this start did. */
  private async createdElsewhere(error: unknown, entry: WorkflowEntry, options: StartOptions): Promise<'existing'> {
    await this.reuse(await this.takenBy(error, entry.id), entry.type, options);
    return 'existing';
  }
}

/** start()'s options when none are given: one frozen object for every start, not a new {} each (they are only read). */
export const NO_START_OPTIONS: StartOptions = Object.freeze({});

/** What a start resolves with, made from its request once it is done (`created`: false when it existed). */
export type StartHandle<H> = (request: StartRequest, created: boolean) => H;

/** A start waiting for its place in the launch window: what it needs then, in one object. */
class PendingStart<H> implements LaunchWaiter {
  constructor(
    private readonly starts: WorkflowStarts,
    private readonly request: StartRequest,
    private readonly locks: IdLocks,
    private readonly handle: StartHandle<H>,
    private readonly resolve: (handle: H) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  admit(place: () => void): void {
    this.starts.createIn(this.request, place, this.locks, this.handle).then(this.resolve, this.reject);
  }
}
