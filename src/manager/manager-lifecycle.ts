/**
 * Opening and closing a manager: its options checked before anything is built, its parts built and wired to
 * each other, the store taken (ownership) and its unfinished workflows taken up at open, and the graceful
 * shutdown that suspends them all and gives everything back before the store closes.
 */
import { InvalidArgumentError } from '../core/errors.js';
import { logger as questLogger } from '../logging.js';
import { newStoreOwner } from '../storage/owner.js';
import { hasOwnership, type Store, type WorkflowEntry } from '../storage/store.js';
import { ManagerChildren, type ChildStarter } from './child-workflows.js';
import type { WorkflowClaims } from './claims.js';
import { IdLocks } from './id-locks.js';
import type { InboxDelivery } from './inbox-delivery.js';
import { OutsideCalls } from './outside-calls.js';
import { withScheduleType } from './schedules.js';
import type { ManagerOptions, WorkflowRegistry } from './types.js';
import { WorkflowEndings } from './workflow-endings.js';
import { WorkflowStarts } from './workflow-starts.js';
import { WorkflowsHere } from './workflows-here.js';

/** Default of ManagerOptions.stopGraceMs. */
export const DEFAULT_STOP_GRACE_MS = 5000;

/** InvalidArgumentError for options WorkflowManager.open() cannot open with (checked before anything is built). */
export function checkManagerOptions(options: Pick<ManagerOptions<WorkflowRegistry>, 'workflows' | 'stopGraceMs'>): void {
  if (typeof options.workflows !== 'object' || options.workflows === null) {
    throw new InvalidArgumentError('WorkflowManager.open() needs `workflows`: an object of workflow functions by type name.');
  }
  const grace = options.stopGraceMs;
  if (grace !== undefined && (typeof grace !== 'number' || !(grace >= 0))) {
    throw new InvalidArgumentError(`stopGraceMs must be 0 or more milliseconds, got ${String(grace)}.`);
  }
}

/** The parts a WorkflowManager is made of: what it delegates its calls to, and what a shutdown stops. */
export interface ManagerParts extends ShutdownParts {
  /** Routes calls from outside (getResult, act, ...) to the workflows. */
  readonly outside: OutsideCalls;
  readonly starts: WorkflowStarts;
  readonly endings: WorkflowEndings;
}

/** What the parts need of the WorkflowManager they make up. */
export interface ManagerHooks {
  /** The manager itself, where the workflows start their children. */
  readonly manager: ChildStarter;
  /** True once the manager closes. */
  isClosing(): boolean;
  /** Throws once the manager closes. */
  checkOpen(): void;
}

/**
 * The parts of a manager over `options.store`, wired to each other: the workflows taken up here, how they end,
 * how calls from outside and the store's inbox (when it has one) reach them, and how new ones start.
 */
export function assembleManager<W extends WorkflowRegistry>(options: ManagerOptions<W>, hooks: ManagerHooks): ManagerParts {
  const store = options.store;
  const stopGraceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
  const locks = new IdLocks();
  const { isClosing, checkOpen } = hooks;
  // The parts call each other back through these closures, which run only once every part is built.
  const here: WorkflowsHere = new WorkflowsHere({
    store, workflows: withScheduleType(options.workflows), options, children: new ManagerChildren(hooks.manager),
    isClosing, wakeInbox: () => inbox?.wake(), timeOut: (id) => endings.endForGood(id, id, 'timeout'),
  });
  const { live, claims, aliases } = here;
  const endings: WorkflowEndings = new WorkflowEndings({
    store, live, locks, aliases, deadlines: here.deadlines, finishedEntries: here.finishedEntries, stopGraceMs,
    checkOpen, resolve: (id) => outside.resolve(id),
  });
  const outside: OutsideCalls = new OutsideCalls({ store, live, locks, aliases, claims, deleted: endings.deleted, finishedHere: here.finishedHere, finishedEntries: here.finishedEntries, isClosing });
  const inbox: InboxDelivery | undefined = outside.inboxDelivery(options.inboxPollMs ?? 200, options.logger ?? questLogger);
  const starts = new WorkflowStarts({
    store, claims, live, managed: here.managed,
    checkOpen, launch: (managed) => here.launch(managed), workflowOf: (type) => here.workflowOf(type),
  });
  return { store, inbox, here, locks, stopGraceMs, outside, starts, endings };
}

/**
 * Take ownership of `store` (when it has owners), then resume its unfinished workflows, or on a shared store
 * claim those nobody runs. On a rejection, what was taken is given back; the store stays open.
 */
export async function takeUpWorkflows(store: Store, claims: WorkflowClaims | undefined, resume: (entry: WorkflowEntry) => void): Promise<void> {
  if (hasOwnership(store)) await store.acquireOwnership(newStoreOwner());
  try {
    // A shared store: claim what nobody runs, rather than resume everything.
    if (claims !== undefined) await claims.start();
    else for (const entry of await store.listWorkflows('running')) resume(entry);
  } catch (error) {
    await claims?.stop();
    if (hasOwnership(store)) await store.releaseOwnership().catch(() => undefined);
    throw error;
  }
}

/** What a shutdown stops and gives back. */
export interface ShutdownParts {
  readonly store: Store;
  /** Delivers the store's inbox, when it has one. */
  readonly inbox: InboxDelivery | undefined;
  /** The workflows the manager has taken up (every unfinished one of the store, or those its claims hold). */
  readonly here: WorkflowsHere;
  readonly locks: IdLocks;
  /** How long a stop waits for running steps to honour their AbortSignal (ManagerOptions.stopGraceMs). */
  readonly stopGraceMs: number;
}

/** WorkflowManager.close(): suspend every workflow, give back leases and ownership, close the store. */
export async function shutDown({ store, inbox, here, locks, stopGraceMs }: ShutdownParts): Promise<void> {
  const deliveryEnded = inbox?.stop();
  here.deadlines.clear();
  await here.claims?.stop();
  await locks.drain();
  await Promise.all([...here.live.values()].map((managed) => managed.stop('close', stopGraceMs)));
  // A delivery in progress ends once the workflows are stopped (its event stays in the inbox). No extra
  // await when none is: code racing close() (a signal handler's exit) sees the same timing as before.
  if (deliveryEnded !== undefined) await deliveryEnded;
  here.keepAlive.stop();
  // Ownership and leases go after the last write (every workflow is stopped): the next manager starts from it all.
  try {
    await here.claims?.releaseAll();
    if (hasOwnership(store)) await store.releaseOwnership();
  } finally {
    await store.close();
  }
}
