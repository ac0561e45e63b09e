/**
 * A task's bookkeeping. JavaScript promises cannot be cancelled, so every place where Quest makes a task wait
 * goes through {@link TaskState.wait}: cancelling or suspending rejects those waits, and the task stops at its
 * next Quest await.
 */
import type { Deferred } from './deferred.js';
import { stoppableWait } from './stoppable-wait.js';
import { TaskCancelledError } from './errors.js';

export class TaskState {
  /** How to reject each wait in progress (wait, track): a stop rejects them all with its reason. */
  private readonly waits = new Set<(reason: Error) => void>();
  /** Tasks started by this task (in any of its scopes) that have not ended: cancelled with it. */
  get children(): Set<TaskState> {
    return (this.childTasks ??= new Set());
  }
  /** Allocated on first use: most tasks (a one-step workflow's main task) never start another. */
  private childTasks: Set<TaskState> | undefined;
  /** Why this task must stop (cancellation or suspension), once it must (built on first read: see stopUnobserved). */
  get stopReason(): Error | undefined {
    const stopped = this.stopped;
    return typeof stopped === 'function' ? (this.stopped = stopped()) : stopped;
  }
  private stopped: Error | (() => Error) | undefined;
  /** Settles (never rejects) when the task's body and its end record are done. */
  /** (Undefined for a task whose body has not started, the workflow's main task: nothing to wait for.) */
  finished: Promise<void> | undefined = undefined;

  constructor(readonly id: string, readonly parent: TaskState | null) {}

  /** Throw if the task was told to stop. Called at the start of every Quest call. */
  check(): void {
    if (this.stopReason !== undefined) throw this.stopReason;
  }

  /** Wait for `promise`, unless the task is told to stop first. */
  wait<T>(promise: Promise<T>): Promise<T> {
    this.check();
    return stoppableWait(promise, this.waits);
  }

  /** Register a wait that Quest settles itself (a gate, a resource wait). */
  track<T>(deferred: Deferred<T>): Promise<T> {
    this.check();
    const reject = deferred.reject;
    this.waits.add(reject);
    return deferred.promise.finally(() => this.waits.delete(reject));
  }

  /** Stop this task and its children at their next Quest await with `reason`. */
  stop(reason: Error): void {
    if (this.stopped !== undefined) return;
    this.stopped = reason;
    for (const reject of [...this.waits]) reject(reason);
    this.waits.clear();
    if (this.childTasks !== undefined) for (const child of [...this.childTasks]) child.stop(child.stopReasonFor(reason));
  }

  /**
   * Stop this task with a reason built only when read, if nothing waits in it and it has no child task (there is
   * nobody to tell now). False, having done nothing, otherwise: the caller then stops it with a built reason.
   */
  stopUnobserved(reason: () => Error): boolean {
    if (this.stopped !== undefined) return true;
    if (this.waits.size > 0 || (this.childTasks !== undefined && this.childTasks.size > 0)) return false;
    this.stopped = reason;
    return true;
  }

  /** Cancel this task (and its children): TaskCancelledError at their next Quest await. */
  cancel(): void {
    this.stop(new TaskCancelledError(this.id));
  }

  private stopReasonFor(parentReason: Error): Error {
    return parentReason instanceof TaskCancelledError ? new TaskCancelledError(this.id) : parentReason;
  }
}
