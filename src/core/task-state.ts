/**
 * A task's bookkeeping. JavaScript promises cannot be cancelled, so every place where Quest makes a task wait
 * goes through {@link TaskState.wait}: cancelling or suspending rejects those waits, and the task stops at its
 * next Quest await.
 */
import { createDeferred, type Deferred } from './deferred.js';
import { TaskCancelledError } from './errors.js';

export class TaskState {
  private readonly waits = new Set<Deferred<unknown>>();
  /** Tasks started by this task (in any of its scopes) that have not ended: cancelled with it. */
  readonly children = new Set<TaskState>();
  /** Why this task must stop (cancellation or suspension), once it must. */
  stopReason: Error | undefined;
  /** Settles (never rejects) when the task's body and its end record are done. */
  finished: Promise<void> = Promise.resolve();

  constructor(readonly id: string, readonly parent: TaskState | null) {}

  /** Throw if the task was told to stop. Called at the start of every Quest call. */
  check(): void {
    if (this.stopReason !== undefined) throw this.stopReason;
  }

  /** Wait for `promise`, unless the task is told to stop first. */
  wait<T>(promise: Promise<T>): Promise<T> {
    this.check();
    const deferred = createDeferred<T>();
    const entry = deferred as Deferred<unknown>;
    this.waits.add(entry);
    promise.then(
      (value) => {
        this.waits.delete(entry);
        deferred.resolve(value);
      },
      (error: unknown) => {
        this.waits.delete(entry);
        deferred.reject(error);
      },
    );
    return deferred.promise;
  }

  /** Register a wait that Quest settles itself (a gate, a resource wait). */
  track<T>(deferred: Deferred<T>): Promise<T> {
    this.check();
    const entry = deferred as Deferred<unknown>;
    this.waits.add(entry);
    return deferred.promise.finally(() => this.waits.delete(entry));
  }

  /** Stop this task and its children at their next Quest await with `reason`. */
  stop(reason: Error): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    for (const wait of [...this.waits]) wait.reject(reason);
    this.waits.clear();
    for (const child of [...this.children]) child.stop(child.stopReasonFor(reason));
  }

  /** Cancel this task (and its children): TaskCancelledError at their next Quest await. */
  cancel(): void {
    this.stop(new TaskCancelledError(this.id));
  }

  private stopReasonFor(parentReason: Error): Error {
    return parentReason instanceof TaskCancelledError ? new TaskCancelledError(this.id) : parentReason;
  }
}
