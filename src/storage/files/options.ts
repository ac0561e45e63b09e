/** The options and counters of a FileStore (src/storage/files.ts), shared by the store and its histories. */

/** Tuning of a {@link FileStore}; the defaults suit most applications. */
export interface FileStoreOptions {
  /** A log is compacted only once it has more commits than this (default 1000). */
  compactMinLines?: number;
  /** ...and more than `compactRatio` times as many commits as live records (default 2). */
  compactRatio?: number;
  /**
   * Most history logs open at once (default 128): a log that needs its file when all are taken waits while the
   * least recently used ones close (after the writes already queued on them). With the 32 short-lived files
   * the store's helpers share per process (./fs.ts), a store stays under an open-file limit of 256.
   */
  maxOpenFiles?: number;
}

/** Counters of a {@link FileStore}, for tests and monitoring. */
export interface FileStoreStats {
  /** History commits made durable. */
  commits: number;
  /** Logs rewritten to their live records. */
  compactions: number;
  /** Compactions that failed (the log was left as it was, or as the complete new file; never half of each). */
  compactionFailures: number;
  /** Incomplete last commits (writes interrupted by a crash) cut off a log when it was read. */
  tornTails: number;
  /** Logs of the previous file format rewritten in the current one (with checksums) when the store opened. */
  migratedLogs: number;
}
