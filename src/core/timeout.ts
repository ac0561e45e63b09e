/**
 * Timeouts on steps and on waits for outside input. A timeout is an outcome like any other: a step that timed
 * out records its TimeoutError as its end, a wait that timed out records the TimeoutError in place of the
 * value it waited for. Replay therefore throws the same TimeoutError at the same point, without waiting again.
 *
 * A wait's deadline is recorded (as a step, like `sleep`'s) before it waits, so a restart while waiting keeps
 * the original deadline instead of starting the timeout over. A step's timeout counts from each run of its
 * body: a step interrupted by a restart runs again with its full timeout (steps are at-least-once).
 */
import { clock } from './clock.js';
import { contextStorage, requireContext } from './context.js';
import { InvalidArgumentError, TimeoutError } from './errors.js';
import { step } from './step.js';
import { TaskState } from './task-state.js';

/** Options of a wait for outside input (`queue.get`, `event.wait`, ...). */
export interface WaitOptions {
  /**
   * Give up after this many milliseconds with a TimeoutError (recorded: a replay takes the same branch). The
   * deadline is recorded when the wait starts, so a restart does not extend it.
   */
  timeoutMs?: number;
}

/** Validate a `timeoutMs` option: a non-negative finite number of milliseconds. */
export function checkTimeout(where: string, timeoutMs: unknown): number {
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new InvalidArgumentError(`${where}: timeoutMs must be a non-negative number of milliseconds, got ${String(timeoutMs)}.`);
  }
  return timeoutMs;
}

/**
 * The deadline of a wait with a timeout, recorded as a step (`timeout.until`) so that it survives restarts.
 * Undefined when the wait has no timeout.
 */
export async function waitDeadline(options: WaitOptions | undefined, where: string): Promise<number | undefined> {
  if (options?.timeoutMs === undefined) return undefined;
  const timeoutMs = checkTimeout(where, options.timeoutMs);
  return step('timeout.until', () => clock().now() + timeoutMs)();
}

/**
 * Wrap a step body so that it fails with TimeoutError after `timeoutMs`. The body runs as a sub-task of the
 * calling task (same id, so its records look the same): when the time is up its signal (`abortSignal()`)
 * aborts with the TimeoutError and its next Quest call throws, so a body that goes on after its step ended
 * records nothing. The step does not wait for the body to return (stopping never waits on user code).
 */
export function withStepTimeout<A extends unknown[]>(fn: (...args: A) => unknown, timeoutMs: number): (...args: A) => Promise<unknown> {
  return (...args: A) => {
    const context = requireContext('a step with a timeout');
    const body = new TaskState(context.task.id, context.task);
    context.task.children.add(body);
    const controller = new AbortController();
    const signal = AbortSignal.any([context.signal ?? context.run.abortSignal, controller.signal]);
    let timer: { clear(): void } | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = clock().setTimer(() => {
        const error = new TimeoutError(`step ${context.scope.path}`, timeoutMs);
        controller.abort(error);
        body.stop(error);
        reject(error);
      }, timeoutMs);
    });
    // A run that stops (suspension) drops the step: its timer must not keep the process alive.
    signal.addEventListener('abort', () => timer?.clear(), { once: true });
    const running = Promise.resolve().then(() => contextStorage.run({ ...context, task: body, signal }, fn, ...args));
    return Promise.race([running, timedOut]).finally(() => {
      timer?.clear();
      context.task.children.delete(body);
    });
  };
}
