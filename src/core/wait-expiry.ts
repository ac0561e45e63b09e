/**
 * The live half of a wait's timeout (see timeout.ts): a timer on the engine's clock that, if the wait is still
 * waiting at its deadline, takes it out of line, records the TimeoutError in its place and fails it.
 */
import { clock, type ClockTimer } from './clock.js';
import { TimeoutError } from './errors.js';

/** A wait's deadline and how to record its timeout. */
export interface WaitExpiry {
  /** Clock milliseconds (recorded before the wait began). */
  readonly deadline: number;
  /** The timeout as the workflow asked for it, for the error's message. */
  readonly timeoutMs: number;
  /** The wait, for the error's message: `get on words (main/words.get)`. */
  readonly what: string;
  /** Record the timeout in the wait's place (synchronously, so it takes the wait's position in the history). */
  record(error: TimeoutError): void;
}

/**
 * Arm the timer of `expiry` for `waiter`. When it fires while the waiter still waits and the run is live, the
 * waiter is marked done (the resource drops it from its line), the timeout is recorded and `fail` is called.
 */
export function armExpiry(expiry: WaitExpiry, waiter: { done: boolean }, live: () => boolean, fail: (error: Error) => void): ClockTimer {
  return clock().setTimer(() => {
    if (waiter.done || !live()) return;
    waiter.done = true;
    const error = new TimeoutError(expiry.what, expiry.timeoutMs);
    try {
      expiry.record(error);
    } catch (stopped) {
      fail(stopped instanceof Error ? stopped : error);
      return;
    }
    fail(error);
  }, expiry.deadline - clock().now());
}
