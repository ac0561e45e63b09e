/**
 * `quest-ts/testing`: tools for testing workflows. Virtual time (VirtualClock) makes sleeps, timeouts,
 * workflow deadlines and schedules pass at once; replayHistory checks new code against stored histories.
 */
export { VirtualClock } from './virtual-clock.js';
export type { VirtualClockOptions } from './virtual-clock.js';
export { useClock, systemClock } from '../core/clock.js';
export type { Clock, ClockTimer } from '../core/clock.js';
export { replayHistory } from './replay-history.js';
export type { ReplayHistoryOptions, ReplayReport } from './replay-history.js';
