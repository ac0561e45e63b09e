/**
 * An optional capability of a Store: how many workflows started, and how many finished, in each bucket of time,
 * counted by the store (SQL over its indexes) instead of by a caller reading every entry. The server's `stats`
 * call (the dashboard's plots) reads it: at a million workflows, tens of milliseconds instead of seconds and a
 * gigabyte. Buckets are consecutive, of one width, from an origin; every count comes back, empty buckets too.
 */
import { InvalidArgumentError } from '../core/errors.js';
import { hasMethods, type Store, type WorkflowEntry } from './store.js';

/** The most buckets one {@link WorkflowTimeline.countByTime} counts. */
export const MAX_TIME_BUCKETS = 100_000;

/** Which buckets to count: `buckets` consecutive ones of `bucketMs`, the first starting at `origin` (epoch ms). */
export interface TimeBuckets {
  /** Where the first bucket starts (epoch ms, an integer). */
  origin: number;
  /** The width of every bucket (ms, a positive integer). */
  bucketMs: number;
  /** How many buckets: an integer from 0 to {@link MAX_TIME_BUCKETS}. */
  buckets: number;
}

/** The counts of each bucket, in bucket order (index n: the bucket starting at `origin + n * bucketMs`). */
export interface TimeCounts {
  /** The workflows whose `startedAt` falls in each bucket (a bucket holds its start, not its end). */
  started: number[];
  /** The workflows whose `finishedAt` falls in each bucket (entries without one are not counted). */
  finished: number[];
}

/**
 * Counts of workflows over time, read by the store (optional: without it, callers count the whole list).
 *
 * @example
 * if (hasTimeline(store)) {
 *   const first = await store.earliestStart();
 *   const day = 24 * 3600_000;
 *   if (first !== undefined) console.log(await store.countByTime({ origin: first - (first % day), bucketMs: day, buckets: 30 }));
 * }
 */
export interface WorkflowTimeline {
  /** The earliest `startedAt` of the stored workflows, or undefined when there are none. */
  earliestStart(): Promise<number | undefined>;
  /**
   * How many workflows started, and how many finished, in each of the buckets `query` names, in one read.
   * Rejects with InvalidArgumentError for a query out of range ({@link checkTimeBuckets}).
   */
  countByTime(query: TimeBuckets): Promise<TimeCounts>;
}

/**
 * True when `store` counts workflows over time itself ({@link WorkflowTimeline}).
 *
 * @example
 * if (hasTimeline(store)) console.log(await store.earliestStart());
 */
export function hasTimeline<S extends Store>(store: S): store is S & WorkflowTimeline {
  return hasMethods<WorkflowTimeline>(store, ['earliestStart', 'countByTime']);
}

/** Check a query's numbers (every store checks them the same way): InvalidArgumentError saying what is wrong. */
export function checkTimeBuckets(query: TimeBuckets): void {
  const { origin, bucketMs, buckets } = query;
  if (!Number.isSafeInteger(origin)) throw new InvalidArgumentError(`the buckets' origin must be an integer number of ms since the epoch (got ${String(origin)})`);
  if (!Number.isSafeInteger(bucketMs) || bucketMs < 1) throw new InvalidArgumentError(`bucketMs must be a positive integer (got ${String(bucketMs)})`);
  if (!Number.isInteger(buckets) || buckets < 0 || buckets > MAX_TIME_BUCKETS) {
    throw new InvalidArgumentError(`the number of buckets must be an integer from 0 to ${MAX_TIME_BUCKETS} (got ${String(buckets)}): ask for wider buckets`);
  }
  if (!Number.isSafeInteger(origin + bucketMs * buckets)) throw new InvalidArgumentError('the buckets end beyond the safe integers: ask for fewer or narrower ones');
}

/** The times of a workflow the timeline counts (an entry, or a listing line with the same fields). */
export type WorkflowTimes = Pick<WorkflowEntry, 'startedAt' | 'finishedAt'>;

/**
 * The timeline of workflows held in memory, counted by a loop: the MemoryStore's own, and the one callers
 * build from a whole list for a store without {@link WorkflowTimeline}. `workflows()` is read at each call.
 *
 * @example
 * const timeline = hasTimeline(store) ? store : timelineOf(() => entries);
 */
export function timelineOf(workflows: () => Iterable<WorkflowTimes>): WorkflowTimeline {
  return {
    earliestStart: () => {
      let first: number | undefined;
      for (const { startedAt } of workflows()) first = first === undefined ? startedAt : Math.min(first, startedAt);
      return Promise.resolve(first);
    },
    countByTime: (query) => {
      try {
        checkTimeBuckets(query);
      } catch (error) {
        return Promise.reject(error as Error);
      }
      const started = new Array<number>(query.buckets).fill(0);
      const finished = new Array<number>(query.buckets).fill(0);
      const bump = (counts: number[], at: number): void => {
        const slot = Math.floor((at - query.origin) / query.bucketMs);
        if (slot >= 0 && slot < counts.length) counts[slot]!++;
      };
      for (const { startedAt, finishedAt } of workflows()) {
        bump(started, startedAt);
        if (finishedAt !== undefined) bump(finished, finishedAt);
      }
      return Promise.resolve({ started, finished });
    },
  };
}
