/** Helpers of the manager tests: store views that simulate a process (and its crash), async conditions. */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { StorageError } from '../../src/core/errors.js';
import type { History, HistoryChange } from '../../src/core/history.js';
import type { HistoryRecord } from '../../src/core/records.js';
import type { ResourceSnapshot, ResourceStream } from '../../src/core/resource-stream.js';
import type { Store, WorkflowEntry, WorkflowState } from '../../src/storage/store.js';

/**
 * One process's connection to a shared store. `close()` closes only this view, so the next "process" can
 * open a new view of the same data; `crash()` cuts it off mid-flight: from then on nothing this process
 * does reaches the store, as after `kill -9`.
 */
export class StoreView implements Store {
  private ended: 'closed' | 'crashed' | undefined;

  constructor(private readonly inner: Store) {}

  crash(): void {
    this.ended = 'crashed';
  }

  get closed(): boolean {
    return this.ended === 'closed';
  }

  history(workflowId: string): History {
    const inner = this.inner.history(workflowId);
    return {
      load: async (): Promise<readonly HistoryRecord[]> => {
        this.check();
        return inner.load();
      },
      commit: (change: HistoryChange) => {
        this.check();
        return inner.commit(change);
      },
      clear: () => {
        this.check();
        return inner.clear();
      },
    };
  }

  async putWorkflow(entry: WorkflowEntry): Promise<void> {
    this.check();
    await this.inner.putWorkflow(entry);
  }

  async getWorkflow(workflowId: string): Promise<WorkflowEntry | undefined> {
    this.check();
    return this.inner.getWorkflow(workflowId);
  }

  async listWorkflows(state?: WorkflowState): Promise<WorkflowEntry[]> {
    this.check();
    return this.inner.listWorkflows(state);
  }

  async deleteWorkflow(workflowId: string): Promise<void> {
    this.check();
    await this.inner.deleteWorkflow(workflowId);
  }

  async putAlias(alias: string, workflowId: string): Promise<void> {
    this.check();
    await this.inner.putAlias(alias, workflowId);
  }

  async deleteAlias(alias: string, workflowId: string): Promise<void> {
    this.check();
    await this.inner.deleteAlias(alias, workflowId);
  }

  async getAlias(alias: string): Promise<string | undefined> {
    this.check();
    return this.inner.getAlias(alias);
  }

  async close(): Promise<void> {
    this.check();
    this.ended = 'closed';
  }

  /** Calls made after the view was closed or crashed (each one refused). */
  callsAfterEnd = 0;

  private check(): void {
    if (this.ended === undefined) return;
    this.callsAfterEnd++;
    throw new StorageError(`This store view is ${this.ended}.`);
  }
}

/** Resolve once the async `condition()` is true, checking once per event-loop turn (never sleeps). */
export async function until(condition: () => Promise<boolean>, turns = 10_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (await condition()) return;
    await nextTurn();
  }
  throw new Error('condition never became true');
}

/** Every snapshot a stream yields until it ends. */
export async function collect(stream: ResourceStream): Promise<ResourceSnapshot[]> {
  const snapshots: ResourceSnapshot[] = [];
  for await (const snapshot of stream) snapshots.push(snapshot);
  return snapshots;
}

/** The error a promise rejects with; fails when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  const outcome = await promise.then(
    (value: unknown) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  return outcome.error;
}
