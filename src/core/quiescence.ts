/**
 * Whether a run is quiet: every task of the workflow waits for the outside (a resource wait) or for a timer
 * (a sleep), no other step body runs, and replay has caught up. A quiet workflow can be suspended and later
 * resumed by replay without losing work (its manager evicts quiet workflows under a memory budget). Counting
 * is conservative: a task awaiting anything else (another task, a promise Quest does not control) keeps the
 * run from being quiet.
 */
import type { TaskState } from './task-state.js';

/**
 * The bookkeeping behind {@link Quiescence.quiet}: tasks alive, tasks waiting, sleeps pending.
 *
 * @example
 * const ended = quiescence.waitBegan(task);
 * await waiting.finally(ended);
 */
export class Quiescence {
  /** Tasks (the workflow function included) whose body has not ended. */
  private tasks = 0;
  // Created on first use: a short workflow never waits (every run has a Quiescence).
  /** Waits on resources and sleeps in progress, per task. */
  private waiting: Map<TaskState, number> | undefined;
  /** Wake-up times of the sleeps in progress. */
  private timers: Set<{ deadline: number }> | undefined;

  /** How many tasks (the workflow function included) have a body that has not ended. */
  get liveTasks(): number {
    return this.tasks;
  }

  /** A task's body (or the workflow function) started; returns the function to call when it ends. */
  taskStarted(): () => void {
    this.tasks++;
    return once(() => {
      this.tasks--;
    });
  }

  /** `task` waits for the outside (or, with `deadline`, for a timer); returns the function to call when it stops waiting. */
  waitBegan(task: TaskState, deadline?: number): () => void {
    const waiting = (this.waiting ??= new Map());
    waiting.set(task, (waiting.get(task) ?? 0) + 1);
    const timer = deadline === undefined ? undefined : { deadline };
    if (timer !== undefined) (this.timers ??= new Set()).add(timer);
    return once(() => {
      const left = (waiting.get(task) ?? 1) - 1;
      if (left === 0) waiting.delete(task);
      else waiting.set(task, left);
      if (timer !== undefined) this.timers?.delete(timer);
    });
  }

  /**
   * True when every live task waits and the only step bodies running (`stepBodies`) are the sleeps' own.
   */
  quiet(stepBodies: number): boolean {
    return this.tasks > 0 && (this.waiting?.size ?? 0) === this.tasks && stepBodies === (this.timers?.size ?? 0);
  }

  /** The earliest wake-up time of the sleeps in progress (epoch ms), if any. */
  earliestWake(): number | undefined {
    let earliest: number | undefined;
    for (const { deadline } of this.timers ?? []) if (earliest === undefined || deadline < earliest) earliest = deadline;
    return earliest;
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
