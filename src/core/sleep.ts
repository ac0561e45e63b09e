/**
 * Durable timers. The wake-up time is recorded as a step before waiting, and the wait itself is a step: a
 * workflow that stops while sleeping resumes the same sleep on restart and wakes at the recorded time (at
 * once if that time has passed), never restarting the full duration.
 */
import { clock, waitUntil } from './clock.js';
import { requireContext } from './context.js';
import { InvalidArgumentError } from './errors.js';
import { step } from './step.js';

/**
 * Sleep for `duration` milliseconds, or until a Date, durably: the deadline survives restarts.
 *
 * @example
 * await sleep(24 * 60 * 60 * 1000);                 // a day, across any number of restarts
 * await sleep(new Date('2027-01-01T00:00:00Z'));    // until a moment
 */
export async function sleep(duration: number | Date): Promise<void> {
  const { run, task } = requireContext('sleep()');
  const target = duration instanceof Date ? duration.getTime() : duration;
  if (typeof target !== 'number' || Number.isNaN(target) || (!(duration instanceof Date) && target < 0)) {
    throw new InvalidArgumentError(`sleep() takes a non-negative number of milliseconds or a valid Date, got ${String(duration)}.`);
  }
  const deadline = await step('sleep.until', () => (duration instanceof Date ? target : clock().now() + target))();
  // A timer wait: the workflow is idle meanwhile (its manager may evict it and resume it at the deadline).
  await step('sleep', () => run.timerWait(task, deadline, waitUntil(deadline, run.abortSignal)))();
}
