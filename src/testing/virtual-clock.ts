/**
 * Virtual time for tests: a clock whose timers fire when the test says so (`advance`), or at once (`auto`), so
 * that sleeps, timeouts, workflow deadlines and schedules that would take hours run in milliseconds.
 */
import { useClock, type Clock, type ClockTimer } from '../core/clock.js';

interface PendingTimer {
  readonly at: number;
  readonly order: number;
  readonly fn: () => void;
}

/** Options of {@link VirtualClock}. */
export interface VirtualClockOptions {
  /** The clock's start time, in milliseconds since the epoch (default: the real time now). */
  start?: number | Date;
  /**
   * Skip ahead by itself: whenever timers are pending, jump to the earliest and fire it, one event-loop turn
   * after the last one (default false: time moves only through `advance`). Good for workflows that only sleep;
   * a test that sends outside input before a timeout expires wants manual time.
   */
  auto?: boolean;
}

/**
 * A clock for tests. Install it for the whole process with `install()` (every workflow then reads time and sets
 * durable timers through it); `advance(ms)` moves time on, firing due timers in deadline order and letting the
 * workflows react between two of them.
 *
 * @example
 * const clock = new VirtualClock();
 * const restore = clock.install();
 * const run = historian.run();        // the workflow calls sleep(24 * 3600_000)
 * await clock.advance(24 * 3600_000); // ... and wakes now
 * restore();
 */
export class VirtualClock implements Clock {
  private time: number;
  private readonly timers: PendingTimer[] = [];
  private order = 0;
  private autoScheduled = false;
  private readonly auto: boolean;

  constructor(options: VirtualClockOptions = {}) {
    const start = options.start ?? Date.now();
    this.time = start instanceof Date ? start.getTime() : start;
    this.auto = options.auto ?? false;
  }

  now(): number {
    return this.time;
  }

  setTimer(fn: () => void, ms: number): ClockTimer {
    const timer: PendingTimer = { at: this.time + Math.max(0, ms), order: this.order++, fn };
    this.timers.push(timer);
    // A timer already due (a deadline that passed while the workflow was stopped) fires at once, as it would
    // on the real clock, without waiting for the test to move time.
    if (timer.at <= this.time) this.fireSoon(timer);
    this.scheduleAuto();
    return {
      clear: () => {
        const at = this.timers.indexOf(timer);
        if (at >= 0) this.timers.splice(at, 1);
      },
    };
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.length;
  }

  /** The time of the earliest pending timer, if any. */
  get nextAt(): number | undefined {
    return this.earliest()?.at;
  }

  /**
   * Move time forward by `ms`, firing every timer due by then in deadline order; between two firings (and
   * after the last) the workflows run until they wait again, so a timer set in reaction to another fires too if
   * it falls within the window.
   */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.time + ms);
  }

  /** Move time forward to `target` (a no-op for a time in the past); see {@link advance}. */
  async advanceTo(target: number | Date): Promise<void> {
    const until = target instanceof Date ? target.getTime() : target;
    await turns();
    for (let next = this.earliest(); next !== undefined && next.at <= until; next = this.earliest()) {
      this.fire(next);
      await turns();
    }
    this.time = Math.max(this.time, until);
  }

  /** Jump to the earliest pending timer and fire it; false when none is pending. */
  async fireNext(): Promise<boolean> {
    await turns();
    const next = this.earliest();
    if (next === undefined) return false;
    this.fire(next);
    await turns();
    return true;
  }

  /** Make this the clock of every workflow in the process; returns the function that puts the previous one back. */
  install(): () => void {
    return useClock(this);
  }

  private fire(timer: PendingTimer): void {
    this.timers.splice(this.timers.indexOf(timer), 1);
    this.time = Math.max(this.time, timer.at);
    timer.fn();
  }

  private fireSoon(timer: PendingTimer): void {
    setImmediate(() => {
      if (this.timers.includes(timer)) this.fire(timer);
    });
  }

  private earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const timer of this.timers) {
      if (best === undefined || timer.at < best.at || (timer.at === best.at && timer.order < best.order)) best = timer;
    }
    return best;
  }

  private scheduleAuto(): void {
    if (!this.auto || this.autoScheduled) return;
    this.autoScheduled = true;
    setImmediate(() => {
      this.autoScheduled = false;
      const next = this.earliest();
      if (next === undefined) return;
      this.fire(next);
      if (this.timers.length > 0) this.scheduleAuto();
    });
  }
}

/** A few turns of the event loop: promise reactions and I/O callbacks that are ready run. */
async function turns(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
