/**
 * Durable commits of a SqliteStore, the WAL synced by Quest: off the event loop when the disk is slow and the loop
 * has other work.
 *
 * better-sqlite3 runs a transaction, its commit and, with SQLite's `synchronous = FULL`, the commit's fsync of
 * the WAL on the thread that runs every workflow: the process computes nothing while the disk syncs. On a disk
 * whose sync takes milliseconds (a network volume, a busy disk) that is most of the time of busy workflows:
 * with syncs of ~3 ms, one-step workflows started 100,000 at once ran at 3,650–4,140/s, 1,000 at once at
 * 3,050–7,950/s (bench/scale.ts's manager rates; docs/performance.md, ninth round).
 *
 * So a store opened with `synchronous: 'full'` (the default) has SQLite commit with `synchronous = NORMAL`, which
 * writes the transaction's frames to the WAL and does not sync them, and syncs the WAL itself here, with
 * `fdatasync`; a write is acknowledged (its promise resolved) only once a sync that began after its transaction
 * committed has completed. Where the sync runs:
 * - A large group (more than {@link INLINE_SYNC_MAX_WRITES} writes: many workflows are busy) when the recent
 *   syncs were slow (over {@link SLOW_SYNC_MS}) and the event loop had work during them: on libuv's thread pool.
 *   Meanwhile the event loop goes on, runs workflows and commits the next groups, and the next sync covers every
 *   group committed while one was under way. With the ~3 ms syncs above: 5,570–7,590/s and 4,430–14,300/s.
 *   "Had work" is told by groups committed while the recent pool syncs ran: when every busy workflow waits on the
 *   same commit (workflows stepping in lockstep), nothing runs meanwhile, and the syncs go back on the event loop,
 *   but for one in {@link PROBE_EVERY} sent to the pool to see whether that has changed.
 * - Otherwise on the event loop, at once, as SQLite's own would. A small group is one workflow taking steps one
 *   after the other, or a few: there is little else to run meanwhile, and the trip to a pool thread and back
 *   costs more than it frees (measured here: an 8 KiB overwrite and fdatasync took 280–330 µs on the event loop,
 *   380–450 µs through the pool; sequential steps ran 20–30 % slower through it). A quick sync blocks the loop
 *   for less than the trip costs.
 *
 * Why this is as durable as `FULL` for every acknowledged write:
 * - In WAL mode SQLite's NORMAL keeps the database consistent through a power loss (it syncs the WAL before a
 *   checkpoint copies it, the database after, and a WAL header before the WAL is written over); it only does not
 *   sync each commit. Recovery after a crash reads the WAL's frames from the start up to the last whole commit.
 * - `fdatasync` of the `-wal` file writes every byte written to it before the call to the disk, whichever
 *   descriptor wrote it (the page cache belongs to the file, not to a descriptor), so it covers the frames of
 *   every transaction committed before the sync began.
 * - The descriptor is opened when the store opens, before its first commit, so that a write-back error of the
 *   file is reported to this descriptor's next sync (Linux reports such an error to each descriptor opened
 *   before it, once).
 * - A sync that fails leaves the frames it should have covered of unknown fate, and a later sync may succeed
 *   without having written them (the kernel may have dropped the pages). So its writes are rejected, and the
 *   store acknowledges nothing more: every later write is refused until it is opened again, when SQLite
 *   recovers what the disk has.
 *
 * The descriptor is opened for reading and writing (Windows syncs a file only through a handle that may write)
 * but nothing is ever written through it. SQLite keeps no lock on the `-wal` file (see ./sqlite-wal.ts), so
 * closing this descriptor drops none of SQLite's locks.
 */
import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';
import { StorageError } from '../core/errors.js';
import type { SqliteStoreStats } from './sqlite-options.js';
import { describeFailure } from './storage-error.js';

/** The file to sync: now, on the calling thread (throws its failure), or off it (`done` gets the failure, or null). */
export interface SyncFile {
  now(): void;
  later(done: (error: Error | null) => void): void;
}

/**
 * The largest group of writes whose sync always runs on the event loop (see the module comment). A one-step workflow
 * writes three times (its entry, its step, its end); 100,000 started at once commit groups of about 190 writes.
 */
export const INLINE_SYNC_MAX_WRITES = 32;

/**
 * A sync slower than this (a moving average of the recent ones, trip to the thread pool included) sends the syncs
 * of large groups off the event loop; a quicker one keeps them on it. On this kind of machine's disk a sync took
 * 0.15–0.5 ms, with the other process's writes 3 ms.
 */
export const SLOW_SYNC_MS = 0.5;

/** The weight of the latest sync in the moving averages of their durations and of their overlap with commits. */
const LATEST_SYNC_WEIGHT = 0.25;

/**
 * Under this share of recent pool syncs during which a group was committed, large groups are synced on the event
 * loop (nothing else ran meanwhile: the trip to the pool only added latency), but for one in PROBE_EVERY.
 */
const OVERLAP_MARK = 0.5;
/** Of the large groups of a slow disk synced on the event loop for want of overlap, one in this many goes to the pool. */
export const PROBE_EVERY = 16;

/** What the store is told of a sync's outcome for the writes it covers: nothing when they are durable. */
export type SettleDurable = (failure?: StorageError) => void;

/**
 * @example
 * const walSync = WalSync.open('/data/quest.sqlite', store.stats);
 * walSync.afterCommit((failure) => (failure === undefined ? resolve() : reject(failure)), batch.length);
 * await walSync.close();
 */
export class WalSync {
  /** Settlers of the groups committed since the sync under way began: the next sync covers them. */
  private waiting: SettleDurable[] = [];
  private syncing = false;
  private failure: StorageError | undefined;
  /** Resolvers of close(), called once no sync is under way. */
  private idle: Array<() => void> = [];
  /** How long the recent syncs took, in ms (a moving average): see SLOW_SYNC_MS. */
  private recentSyncMs = 0;
  /** The share of recent pool syncs during which a group was committed (a moving average): see OVERLAP_MARK. */
  private recentOverlap = 1;
  /** Large groups of a slow disk synced on the event loop for want of overlap: see PROBE_EVERY. */
  private withoutProbe = 0;

  /**
   * `file` syncs the WAL, `stats.walSyncs` counts the syncs begun; `path` names the database in errors; a sync
   * slower than `slowSyncMs` (on average) sends large groups' syncs off the event loop. See
   * {@link WalSync.open} for a store's.
   */
  constructor(
    private readonly file: SyncFile,
    private readonly stats: Pick<SqliteStoreStats, 'walSyncs'>,
    private readonly path: string,
    private readonly closeFile: () => void = () => undefined,
    private readonly slowSyncMs = SLOW_SYNC_MS,
  ) {}

  /** The syncer of the `-wal` file of the database at `path` (StorageError when it cannot be opened). */
  static open(path: string, stats: Pick<SqliteStoreStats, 'walSyncs'>): WalSync {
    let fd: number;
    try {
      fd = openSync(`${path}-wal`, 'r+');
    } catch (error) {
      throw new StorageError(`Could not open the WAL of the SQLite database ${path} to sync it: ${describeFailure(error)}`, error);
    }
    const closeFile = (): void => {
      try {
        closeSync(fd);
      } catch {
        // Nothing was written through it: there is nothing a failed close could have lost.
      }
    };
    return new WalSync({ now: () => fdatasyncSync(fd), later: (done) => fdatasync(fd, done) }, stats, path, closeFile);
  }

  /**
   * A transaction of `writes` writes has committed: call `settle` once everything committed until now is on disk
   * (with no argument), or with the StorageError that says why it may not be. Unless a sync is under way (the
   * next one then covers it), the group is synced before this returns, or on the pool (see the module comment).
   */
  afterCommit(settle: SettleDurable, writes: number): void {
    if (this.failure === undefined) {
      if (this.syncing || this.offTheLoop(writes)) {
        this.waiting.push(settle);
        if (!this.syncing) this.begin();
        return;
      }
      this.syncNow();
    }
    settle(this.failure);
  }

  /** Everything committed until now is on disk (rejects with the StorageError of a failed sync). */
  durable(): Promise<void> {
    return new Promise((resolve, reject) => this.afterCommit((failure) => (failure === undefined ? resolve() : reject(failure)), 1));
  }

  /** Why no write may be made now (a sync failed), or undefined. */
  refusal(): StorageError | undefined {
    return this.failure;
  }

  /** Resolves once the syncs under way and asked for have completed (and settled their writes); then closes the file. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      if (this.syncing) this.idle.push(resolve);
      else resolve();
    });
    return closed.then(() => this.closeFile());
  }

  /** Whether the sync of a group of `writes` writes goes to the thread pool (see the module comment). */
  private offTheLoop(writes: number): boolean {
    if (writes <= INLINE_SYNC_MAX_WRITES || this.recentSyncMs <= this.slowSyncMs) return false;
    if (this.recentOverlap >= OVERLAP_MARK) return true;
    this.withoutProbe = (this.withoutProbe + 1) % PROBE_EVERY;
    return this.withoutProbe === 0;
  }

  private syncNow(): void {
    this.stats.walSyncs++;
    const began = performance.now();
    try {
      this.file.now();
    } catch (error) {
      this.failure = this.syncFailure(error instanceof Error ? error : new Error(String(error)));
    }
    this.took(began);
  }

  /** Count the sync begun at `began` (performance.now()) in the moving average. */
  private took(began: number): void {
    this.recentSyncMs += (performance.now() - began - this.recentSyncMs) * LATEST_SYNC_WEIGHT;
  }

  private begin(): void {
    const covered = this.waiting;
    this.waiting = [];
    this.syncing = true;
    this.stats.walSyncs++;
    const began = performance.now();
    this.file.later((error) => {
      this.took(began);
      this.recentOverlap += ((this.waiting.length > 0 ? 1 : 0) - this.recentOverlap) * LATEST_SYNC_WEIGHT;
      this.syncing = false;
      if (error !== null) this.failure ??= this.syncFailure(error);
      for (const settle of covered) settle(this.failure);
      if (this.waiting.length > 0) {
        if (this.failure === undefined) return this.begin();
        for (const settle of this.waiting.splice(0)) settle(this.failure);
      }
      for (const resolve of this.idle.splice(0)) resolve();
    });
  }

  private syncFailure(error: Error): StorageError {
    return new StorageError(
      `Syncing the WAL of the SQLite database ${this.path} to disk failed (${error.message}): the writes committed since the last ` +
        'successful sync may not survive a power loss, and this store accepts no more writes. Check the disk, then close the ' +
        'store and open it again: SQLite recovers what the disk holds, and every write acknowledged before the failure is in it.',
      error,
    );
  }
}
