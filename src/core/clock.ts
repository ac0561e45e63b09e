/**
 * The one place the engine reads time and sets timers for durable waits (sleeps, timeouts, workflow
 * deadlines, schedules). Production code uses the system clock; the testing kit (`quest-ts/testing`) swaps in
 * a virtual clock so that a day-long sleep or timeout passes at once in a test.
 *
 * Record timestamps (`t`) and internal bookkeeping timers (replay stall detection, grace periods) keep the
 * real clock: they are not part of a workflow's logic.
 */

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Call `fn` once `ms` milliseconds have passed on this clock. */
  setTimer(fn: () => void, ms: number): ClockTimer;
}

/** A timer set through a {@link Clock}. */
export interface ClockTimer {
  /** Stop the timer; nothing happens if it already fired. */
  clear(): void;
  /** Let the process exit while only this timer is pending (a system timer's `unref`); virtual timers ignore it. */
  unref?(): void;
}

/** setTimeout's largest delay; longer timers are set in slices. */
const MAX_TIMER_MS = 2_147_483_647;

/** The real clock: Date.now() and setTimeout. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const deadline = Date.now() + ms;
    let timer: NodeJS.Timeout;
    let unref = false;
    const arm = (): void => {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        fn();
        return;
      }
      timer = setTimeout(arm, Math.min(remaining, MAX_TIMER_MS));
      if (unref) timer.unref();
    };
    timer = setTimeout(arm, Math.min(Math.max(ms, 0), MAX_TIMER_MS));
    return {
      clear: () => clearTimeout(timer),
      unref: () => {
        unref = true;
        timer.unref();
      },
    };
  },
};

let current: Clock = systemClock;

/** The clock in effect. */
export function clock(): Clock {
  return current;
}

/**
 * Make `replacement` the clock of every workflow in this process (the testing kit's VirtualClock). Returns a
 * function that puts the previous clock back.
 */
export function useClock(replacement: Clock): () => void {
  const previous = current;
  current = replacement;
  return () => {
    current = previous;
  };
}

/**
 * Resolve at `deadline` (clock milliseconds) unless `signal` aborts first (then reject with its reason).
 * Resolves at once when the deadline has passed.
 */
export function waitUntil(deadline: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      timer.clear();
      reject(signal.reason);
    };
    const timer = current.setTimer(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, deadline - current.now());
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
