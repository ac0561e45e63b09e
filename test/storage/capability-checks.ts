/**
 * The conformance checks of an optional store capability (StoreOwnership, WorkflowEntryWrites, WorkflowPages):
 * each registered with the suite's `check`, and skipped, saying what is missing, for a store without it.
 */
import type { TestContext } from 'node:test';
import type { Store } from '../../src/storage/store.js';

/** How the suite registers a check: a fresh store per check, and `reopen` for durable backends. */
export type RegisterCheck = (title: string, body: (subject: { store: Store; reopen?: () => Promise<Store> }, t: TestContext) => Promise<void>) => void;

/** The body of a capability's check: the store as one that has it. */
export type CapabilityCheck<S extends Store> = (store: S, reopen: (() => Promise<Store>) | undefined) => Promise<void>;

/**
 * A function that registers checks of `capability`, run on stores that `has` it and skipped on the others.
 *
 * @example
 * const paged = capabilityChecks(check, hasPages, 'WorkflowPages');
 * paged('pages list newest first', async (store) => { ... });
 */
export function capabilityChecks<S extends Store>(check: RegisterCheck, has: (store: Store) => store is S, capability: string): (title: string, body: CapabilityCheck<S>) => void {
  return (title, body) => {
    check(title, async ({ store, reopen }, t) => {
      if (!has(store)) {
        t.skip(`the store has no ${capability}`);
        return;
      }
      await body(store, reopen);
    });
  };
}
