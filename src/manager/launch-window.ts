/**
 * Admission of runs: at most `size` runs of a manager start (load their history and run their first burst of
 * code) at once; the others wait their turn before loading their history.
 *
 * Why: a manager asked to start (or resume) tens of thousands of workflows at once would otherwise run them
 * breadth first — every workflow takes its first step, then every one its second, and so on — so every
 * workflow's short-lived objects (promises, closures, records) are alive at the same time. That live set
 * outgrows V8's young generation and every garbage collection copies all of it: measured on one-step
 * workflows, 30,000 started at once cost about 130 µs of CPU each, 100 at a time about 27 µs. A run holds
 * its place until it ends or until the end of the event-loop turn it was admitted in, whichever comes first,
 * so a run that waits (for a queue, a timer, a slow step, the store's next group commit) never holds up the
 * others for longer than a turn, and nothing here ever waits for user code.
 */

import { InvalidArgumentError } from '../core/errors.js';

/**
 * Default of ManagerOptions.launchWindow. Measured with 100,000 one-step workflows started at once (memory store,
 * three runs each): 16 → 30,000/s, 64 → 34,000–37,000/s, 128 → 26,000–30,000/s, 256 → 23,000–26,000/s (the
 * runs in flight outgrow the young generation: twice the bytes promoted). On SQLite, one-step workflows run the
 * same from 32 to 512; 100,000 workflows that start and wait on a queue (bench:scale) were all waiting in 22.0 s,
 * 25.8 s before this round's changes at 256 (a small harness of 20,000 had them 3–7 % slower at 64).
 */
export const DEFAULT_LAUNCH_WINDOW = 64;

/** A run waiting for its place in the window (see LaunchWindow.enterOr). */
export interface LaunchWaiter {
  /** The run's turn has come: `place` is its place, to give back when done (idempotent). */
  admit(place: () => void): void;
}

export class LaunchWindow {
  private inside = 0;
  /** Runs waiting for a place, in order from `head` (an index, not shift(): the queue can be 100,000 long). */
  private waiting: LaunchWaiter[] = [];
  private head = 0;
  /**
   * The places handed out in this turn of the event loop, given back together at its end by one setImmediate
   * (one per turn, not one per run: a timer object and a callback per workflow add up at 100,000 workflows).
   */
  private handedOut: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new InvalidArgumentError(`launchWindow must be a whole number of runs, 1 or more, got ${String(size)}.`);
    }
  }

  /**
   * Take a place: the function that gives it back (idempotent) when one is free now, else a promise of it once
   * one is. The place is given back at the end of the turn of the event loop it was taken in at the latest.
   * A free place is returned as it is, not in a promise: a caller that finds one goes on in the same
   * microtask (`typeof place === 'function'`), without a promise per workflow.
   */
  enter(): (() => void) | Promise<() => void> {
    return this.enterOr(undefined) ?? new Promise<() => void>((resolve) => this.waiting.push({ admit: resolve }));
  }

  /**
   * Take a place now if one is free (returned), or else queue `waiter`, admitted with its place once one is
   * (undefined returned). A waiter is one object where enter() makes a promise and two closures: 100,000 starts
   * called at once wait here, and what each holds meanwhile is promoted by every garbage collection.
   */
  enterOr(waiter: LaunchWaiter | undefined): (() => void) | undefined {
    if (this.inside < this.size) {
      this.inside++;
      return this.place();
    }
    if (waiter !== undefined) this.waiting.push(waiter);
    return undefined;
  }

  /** A place just taken (counted in `inside`): the function that gives it back. */
  private place(): () => void {
    let left = false;
    const leave = (): void => {
      if (left) return;
      left = true;
      const next = this.next();
      if (next === undefined) this.inside--;
      else next.admit(this.place());
    };
    if (this.handedOut.length === 0) setImmediate(() => this.endOfTurn());
    this.handedOut.push(leave);
    return leave;
  }

  /** The end of a turn in which places were handed out: give back those still held. */
  private endOfTurn(): void {
    const held = this.handedOut;
    this.handedOut = [];
    for (const leave of held) leave();
  }

  private next(): LaunchWaiter | undefined {
    if (this.head === this.waiting.length) return undefined;
    const next = this.waiting[this.head++];
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    return next;
  }
}
