/**
 * The storage interface of a Quest application: the histories of its workflows (the engine's `History`) plus
 * the manager's own bookkeeping (which workflows exist, their results, their aliases). Every backend
 * (memory, files, SQLite, PostgreSQL, ...) implements it in its own file and passes the shared conformance
 * suite (test/storage/conformance.ts).
 */
import type { History } from '../core/history.js';
import type { Json, SerializedError } from '../core/serializer.js';

/** Where a workflow stands, as the manager records it. */
export type WorkflowState = 'running' | 'completed' | 'failed' | 'cancelled';

/** The manager's record of one workflow. */
export interface WorkflowEntry {
  /** The workflow id (unique in the store). */
  id: string;
  /** The registered workflow type it runs. */
  type: string;
  /** The arguments it was started with (serialized). */
  args: Json[];
  state: WorkflowState;
  /** Milliseconds since the epoch. */
  startedAt: number;
  finishedAt?: number;
  /** The serialized result, once completed. */
  result?: Json;
  /** The serialized error, once failed or cancelled. */
  error?: SerializedError;
  /** Remove the entry (and its result) as soon as the workflow finishes. */
  deleteOnFinish: boolean;
  /** The time limit of a workflow started with `timeoutMs`: `ms` as asked, `deadline` in ms since the epoch. */
  timeout?: { ms: number; deadline: number };
  /** The workflow that started this one as a child (startChild), and whether cancelling it cancels this one. */
  parent?: { id: string; cancelWithParent: boolean };
}

/** Storage for a whole Quest application (one namespace of workflows). */
export interface Store {
  /** The history of one workflow. Cheap to call; the same id always reaches the same records. */
  history(workflowId: string): History;
  /** Insert or replace a workflow entry. Durable when it resolves. */
  putWorkflow(entry: WorkflowEntry): Promise<void>;
  /** One workflow entry, or undefined. */
  getWorkflow(workflowId: string): Promise<WorkflowEntry | undefined>;
  /** Every workflow entry (optionally only those in `state`), oldest start first. */
  listWorkflows(state?: WorkflowState): Promise<WorkflowEntry[]>;
  /** Remove a workflow entry, its history and its aliases, atomically. */
  deleteWorkflow(workflowId: string): Promise<void>;
  /** Point `alias` at `workflowId`. Durable when it resolves. */
  putAlias(alias: string, workflowId: string): Promise<void>;
  /** Remove `alias` if it points at `workflowId`. */
  deleteAlias(alias: string, workflowId: string): Promise<void>;
  /** The workflow an alias points at, or undefined. */
  getAlias(alias: string): Promise<string | undefined>;
  /** Release connections and files; later calls fail. */
  close(): Promise<void>;
}

/**
 * Entry writes a store can do in one write where the generic {@link Store} needs two operations (optional: the
 * manager falls back to those). Both save a round trip per workflow, which is most of the cost of a short one.
 */
export interface WorkflowEntryWrites {
  /**
   * Insert a NEW workflow entry: rejects with DuplicateWorkflowError when the id exists (and changes nothing).
   * Durable when it resolves. Instead of getWorkflow() then putWorkflow() when a workflow starts.
   */
  insertWorkflow(entry: WorkflowEntry): Promise<void>;
  /**
   * Save the entry of a workflow that has finished and clear its history, atomically: the outcome is never
   * lost, nor is the history left behind it. Durable when it resolves. Instead of putWorkflow() then
   * `history(id).clear()`.
   */
  finishWorkflow(entry: WorkflowEntry): Promise<void>;
}

/**
 * True when `store` has the one-write entry operations ({@link WorkflowEntryWrites}).
 *
 * @example
 * if (hasEntryWrites(store)) await store.insertWorkflow(entry);
 */
export function hasEntryWrites<S extends Store>(store: S): store is S & WorkflowEntryWrites {
  return hasMethods<WorkflowEntryWrites>(store, ['insertWorkflow', 'finishWorkflow']);
}

/** True when `store` has every one of `methods` (how the capability checks tell a capability). */
export function hasMethods<C>(store: Store, methods: readonly (keyof C & string)[]): boolean {
  const candidate = store as unknown as Record<string, unknown>;
  return methods.every((method) => typeof candidate[method] === 'function');
}

/**
 * An outside event addressed to a workflow that may run in another process: what `quest send` posts. The
 * manager running the workflow applies it as `manager.act(workflowId, resource, identity, action, ...args)`.
 */
export interface InboxEvent {
  /** The workflow id or alias it is for (an alias is resolved when the event is delivered). */
  workflowId: string;
  /** The resource's name. */
  resource: string;
  /** Who acts (`null`: anonymous, sees public resources only). */
  identity: string | null;
  /** The action (`put`, `set`, `clear`, ...). */
  action: string;
  /** The action's arguments, serialized with Quest's serializer (`serialize()`; plain JSON stays as it is). */
  args: Json[];
  /**
   * Time-to-live in milliseconds from posting: an event that is not applied by then (its resource was not
   * open in time) is rejected with EventExpiredError. Without it, an event waits for its resource as long as
   * the workflow runs.
   */
  ttlMs?: number;
}

/** An event in an inbox: the posted event with its inbox id and when it was posted. */
export interface PostedEvent extends InboxEvent {
  /** Unique in the store, increasing in posting order, never reused. */
  id: number;
  /** Milliseconds since the epoch. */
  postedAt: number;
}

/** What became of an inbox event once the manager is done with it. */
export type EventVerdict =
  | { status: 'applied' }
  /** It can never be applied: `code` is the QuestErrorCode (or error name) of the reason, `message` says why. */
  | { status: 'rejected'; code: string; message: string };

/**
 * The outcome of an inbox event as its sender reads it: still `pending` in the inbox, or settled (applied
 * or rejected) at `settledAt` (milliseconds since the epoch).
 */
export type EventOutcome = { status: 'pending' } | (EventVerdict & { settledAt: number });

/**
 * How long a store keeps the outcome of a settled event for its sender to read: 24 hours. Settling an event
 * removes the outcomes older than this, so the outcomes stay bounded by the events of one day.
 */
export const EVENT_OUTCOME_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * An optional capability of a Store: an inbox of outside events for workflows that run in whatever process
 * has a WorkflowManager open over the store (`quest send` posts; the manager delivers, see
 * `WorkflowManager.deliverInbox`), and the outcome of each event for its sender.
 *
 * Delivery is at least once: the manager applies an event, then settles it; when the process dies in
 * between, the next manager applies it again. Events for the same workflow, resource and identity are
 * applied in posting order.
 *
 * @example
 * if (hasInbox(store)) {
 *   const id = await store.postEvent({ workflowId: 'game', resource: 'guess', identity: null, action: 'put', args: [42] });
 *   console.log(await store.eventOutcome(id));   // { status: 'pending' }, later applied or rejected
 * }
 */
export interface EventInbox {
  /** Add an event; resolves with its id once it is durable. */
  postEvent(event: InboxEvent): Promise<number>;
  /**
   * Up to `limit` events still in the inbox, oldest first (after `afterId` when given, to page through the
   * inbox). Does not remove them: see {@link settleEvent}.
   */
  takeEvents(limit: number, afterId?: number): Promise<PostedEvent[]>;
  /**
   * Remove event `id` from the inbox and record its outcome, atomically; durable when it resolves. Nothing
   * happens when the event is no longer in the inbox (another manager settled it first: its outcome stays).
   * Also removes the outcomes settled more than {@link EVENT_OUTCOME_RETENTION_MS} ago.
   */
  settleEvent(id: number, verdict: EventVerdict): Promise<void>;
  /**
   * The outcome of event `id`: pending while it is in the inbox, then applied or rejected (with the reason)
   * for {@link EVENT_OUTCOME_RETENTION_MS}; undefined for an id never posted here or settled longer ago.
   */
  eventOutcome(id: number): Promise<EventOutcome | undefined>;
}

/**
 * True when `store` has an inbox ({@link EventInbox}).
 *
 * @example
 * if (hasInbox(store)) console.log(await store.takeEvents(10));
 */
export function hasInbox<S extends Store>(store: S): store is S & EventInbox {
  return hasMethods<EventInbox>(store, ['postEvent', 'takeEvents', 'settleEvent', 'eventOutcome']);
}

/**
 * Who owns a store: the one WorkflowManager allowed to run its workflows. Recorded when ownership is taken,
 * shown in {@link StoreOwnedError} when another manager is refused.
 */
export interface StoreOwner {
  /** A random token unique to this acquisition (a restarted process, even with the same pid, has another). */
  id: string;
  /** The owner's process id. */
  pid: number;
  /** The owner's host name (`os.hostname()`). */
  host: string;
  /** When ownership was taken: milliseconds since the epoch. */
  acquiredAt: number;
  /**
   * What tells this process apart from a later one that gets the same pid (Linux: boot id and start time,
   * from /proc), or undefined where the system does not say. See `ownerIsGone` in src/storage/owner.ts.
   */
  processTag?: string;
}

/**
 * An optional capability of a Store: one owner at a time. `WorkflowManager.open` acquires it before resuming
 * anything, and `close()` releases it after the last write, so two managers never run the same workflows at
 * once. Stores implement it each their way: SQLite with a row taken in a write transaction, files with an
 * owner file created atomically, memory with a field; a store shared between hosts (PostgreSQL) would use a
 * lease with an expiry and a fencing epoch. Inspection (`quest list`, ...) and posting to the inbox
 * (`quest send`) never take ownership.
 *
 * @example
 * if (hasOwnership(store)) await store.acquireOwnership(newStoreOwner());
 */
export interface StoreOwnership {
  /**
   * Become the owner. Rejects with StoreOwnedError naming the current owner while it lives; takes over an
   * owner that is gone (a dead process on this host): of several processes taking over at once, exactly one
   * wins. Acquiring again with the same owner id is a no-op.
   */
  acquireOwnership(owner: StoreOwner): Promise<void>;
  /**
   * Stop being the owner (nothing happens when this store does not hold ownership). Durable when it resolves.
   * Call it after the last write: a store may refuse writes once it released (SqliteStore does).
   */
  releaseOwnership(): Promise<void>;
  /** The current owner, alive or not, or undefined. */
  currentOwner(): Promise<StoreOwner | undefined>;
}

/**
 * True when `store` has owners ({@link StoreOwnership}).
 *
 * @example
 * if (hasOwnership(store)) console.log(await store.currentOwner());
 */
export function hasOwnership<S extends Store>(store: S): store is S & StoreOwnership {
  return hasMethods<StoreOwnership>(store, ['acquireOwnership', 'releaseOwnership', 'currentOwner']);
}

/**
 * A workflow claimed by one process ({@link WorkflowLeases}): its entry, the lease's owner, and the fencing
 * epoch this claim got.
 */
export interface WorkflowLease {
  /** The workflow's entry, as stored when it was claimed. */
  entry: WorkflowEntry;
  /** The owner that holds the lease (the id given to the claim). */
  owner: string;
  /** The fencing token of this claim: every new claim of the workflow increments it. */
  epoch: number;
}

/**
 * What another process changed in a shared store, as a {@link WorkflowLeases} store hears of it (PostgreSQL:
 * LISTEN/NOTIFY). Only a nudge to look now: a notification may be lost (a reconnect), so whoever listens also
 * polls.
 * - `inbox`: an event was posted to the inbox;
 * - `settled`: inbox event `eventId` was settled (its outcome is readable);
 * - `finished`: workflow `workflowId` finished (its entry holds the outcome) or was deleted;
 * - `claimable`: workflows were released or started: a process with capacity may claim them.
 */
export type StoreChange =
  | { kind: 'inbox' }
  | { kind: 'settled'; eventId: number }
  | { kind: 'finished'; workflowId: string }
  | { kind: 'claimable' };

/**
 * An optional capability of a Store shared by many processes (PostgreSQL): every running workflow is owned
 * by at most one process at a time through a lease (owner, expiry, fencing epoch), so that many managers run
 * the workflows of one store side by side and take over those of a process that died.
 *
 * - A manager claims running workflows that nobody owns or whose lease expired ({@link claimWorkflows}),
 *   renews its leases before they expire ({@link renewLeases}), and releases a workflow it stops running
 *   ({@link releaseLeases}).
 * - Fencing: once this store object holds the lease of a workflow, every write it makes to that workflow
 *   (history commits and clears, its entry, its deletion) checks owner and epoch in the same transaction. A
 *   write refused because the lease moved to another owner (or its workflow was ended by another process)
 *   rejects with LeaseLostError and writes nothing, so a paused process that wakes up can never write to a
 *   history another process has taken over. The fence stays until the workflow is released, so the late
 *   writes of a stale run keep failing, and the store does not claim that workflow again meanwhile.
 * - Expiry is measured on the store's clock (the database server's), never on the processes' clocks.
 * - A write that ends a workflow (a finished, failed or cancelled entry) made WITHOUT holding its lease takes
 *   the workflow from its owner (the owner's next write fails with LeaseLostError): how a process cancels a
 *   workflow another one runs.
 *
 * @example
 * if (hasLeases(store)) {
 *   const claimed = await store.claimWorkflows({ owner: 'p1', leaseMs: 5000, limit: 100, types: ['order'] });
 *   const kept = await store.renewLeases('p1', 5000);   // ids still held
 * }
 */
export interface WorkflowLeases {
  /**
   * Claim up to `limit` running workflows (of the given `types`, when given) that nobody owns or whose lease
   * expired, oldest start first, skipping those another process is claiming at the same moment and those
   * this store has a fence for; or, with `ids`, only among those workflows. Each claim increments the
   * workflow's epoch and holds it for `leaseMs`. Concurrent claimers never get the same workflow.
   */
  claimWorkflows(request: ClaimRequest): Promise<WorkflowLease[]>;
  /**
   * Insert a NEW workflow entry, claimed at once by `claim.owner` when given (epoch 1: no other process can
   * have claimed it), else left for any process to claim (they are notified). Never replaces an entry: rejects
   * with DuplicateWorkflowError when the id exists, also when another process created it a moment before.
   * Durable when it resolves.
   */
  createWorkflow(entry: WorkflowEntry, claim?: { owner: string; leaseMs: number }): Promise<WorkflowLease | undefined>;
  /**
   * Extend every lease `owner` holds through this store by `leaseMs` from now; resolves with the ids of the
   * workflows whose lease it still holds. A lease lost meanwhile is not renewed (its writes fail with
   * LeaseLostError until it is released).
   */
  renewLeases(owner: string, leaseMs: number): Promise<string[]>;
  /**
   * Give up the leases of `workflowIds` this store holds or held (after the last write of their runs; nothing
   * happens for the others): any process can claim them at once, and is notified. Durable when it resolves.
   */
  releaseLeases(workflowIds: readonly string[]): Promise<void>;
  /** The owner, epoch and lease expiry (store clock, ms since the epoch) of a workflow; undefined when nobody owns it. */
  leaseOf(workflowId: string): Promise<{ owner: string; epoch: number; leaseUntil: number } | undefined>;
  /**
   * Hear what other processes change ({@link StoreChange}); returns a function that stops listening. Best
   * effort: poll as well.
   */
  watch(listener: (change: StoreChange) => void): () => void;
}

/** What {@link WorkflowLeases.claimWorkflows} claims. */
export interface ClaimRequest {
  /** Who claims: a process-unique id (the manager's). */
  owner: string;
  /** How long the lease holds unless renewed, in milliseconds. */
  leaseMs: number;
  /** At most this many workflows. */
  limit: number;
  /** Only workflows of these types (the types the claiming manager can run); all types when undefined. */
  types?: readonly string[];
  /** Only these workflows (say, one just started here). */
  ids?: readonly string[];
}

/**
 * True when `store` has leases ({@link WorkflowLeases}).
 *
 * @example
 * if (hasLeases(store)) console.log(await store.leaseOf('order-1'));
 */
export function hasLeases<S extends Store>(store: S): store is S & WorkflowLeases {
  return hasMethods<WorkflowLeases>(store, ['claimWorkflows', 'createWorkflow', 'renewLeases', 'releaseLeases', 'leaseOf', 'watch']);
}
