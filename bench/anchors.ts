/**
 * The figures to beat: quest.py 0.2.15 (Python 3.11, its own code, trivial workloads) measured on this kind of
 * machine (2 cores, shared and noisy; medians of 3–5 runs). Copied from /work/shared/anchors/quest-py.md; keep
 * them in step with that file. Absent entries were not measured for quest.py (its costs grow quadratically).
 */

/** Sequential trivial steps per second, plain in-memory list history, by N. */
export const QUEST_PY_STEPS_PER_S: Readonly<Record<number, number>> = { 100: 45_100, 1_000: 9_600, 10_000: 1_150 };

/** Sequential steps per second, PersistentHistory over in-memory blob storage / over local files, by N. */
export const QUEST_PY_PERSISTENT_BLOB_STEPS_PER_S: Readonly<Record<number, number>> = { 1_000: 2_000, 10_000: 189 };
export const QUEST_PY_PERSISTENT_FILE_STEPS_PER_S: Readonly<Record<number, number>> = { 1_000: 385, 10_000: 169 };

/** Outside events per second into a queue the workflow reads (list history), by K. */
export const QUEST_PY_EVENTS_PER_S: Readonly<Record<number, number>> = { 100: 22_600, 1_000: 6_500, 10_000: 700 };

/** Replay after suspend with K outside events at the top level, in seconds, by K. */
export const QUEST_PY_REPLAY_S: Readonly<Record<number, number>> = { 1_000: 0.13, 5_000: 1.98, 10_000: 7.1 };

/** History records after K outside events at the top level (3 per event, never pruned), by K. */
export const QUEST_PY_RECORDS_AFTER_EVENTS: Readonly<Record<number, number>> = { 1_000: 3_006 };

/** History records after N completed top-level steps (one end record per step stays), by N. */
export const QUEST_PY_RECORDS_AFTER_STEPS: Readonly<Record<number, number>> = { 10_000: 10_004 };

/** Manager: one-step workflows per second, in memory, by count. */
export const QUEST_PY_MANAGER_WORKFLOWS_PER_S: Readonly<Record<number, number>> = { 1_000: 4_800, 10_000: 3_000 };

/** Physical limits of this disk: fdatasync of a small append; SQLite WAL autocommit inserts. */
export const DISK_LIMITS_PER_S = {
  fdatasyncAppend: [5_300, 6_400],
  sqliteWalSynchronousFull: 7_000,
  sqliteWalSynchronousNormal: 39_000,
} as const;
