/**
 * Opening and closing a manager: its options checked before anything is built, the store taken (ownership)
 * and its unfinished workflows taken up at open, and the graceful shutdown that suspends them all and gives
 * everything back before the store closes.
 */
import { InvalidArgumentError } from '../core/errors.js';
import { newStoreOwner } from '../storage/owner.js';
import { hasOwnership, type Store, type WorkflowEntry } from '../storage/store.js';
import type { WorkflowClaims } from './claims.js';
import type { IdLocks } from './id-locks.js';
import type { InboxDelivery } from './inbox-delivery.js';
import type { ManagerOptions, WorkflowRegistry } from './types.js';
import type { WorkflowsHere } from './workflows-here.js';

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
  readonly inbox: InboxDelivery | undefined;
  readonly here: WorkflowsHere;
  readonly locks: IdLocks;
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
