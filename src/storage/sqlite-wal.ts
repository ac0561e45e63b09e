/**
 * A SqliteStore's WAL written over in place from its first commit, not grown by it.
 *
 * SQLite removes the `-wal` file when the last connection closes, so every process starts with an empty WAL,
 * which each commit then extends (by 5–8 KiB for a step) until it reaches the automatic checkpoint mark of
 * 1,000 pages (4 MiB); only then does SQLite start writing it over from the beginning. A write that extends a
 * file costs its fsync more than one over blocks already allocated, since the file system also journals the
 * new blocks and size (bench/sqlite-cold.ts: 8 KiB appended then synced ~4,000/s, written in place ~5,700/s),
 * so a process's first ~700 sequential durable steps ran at 54–67 % of the disk's fdatasync rate and the later
 * ones at 73 % or more.
 *
 * So a store opened for writing fills its WAL up to a little past the checkpoint mark with zeros and syncs
 * them, once, before its first commit: the commits then overwrite allocated blocks from the start. What makes
 * this safe with SQLite and other processes on the database:
 * - it is done inside a write transaction (`BEGIN IMMEDIATE`), whose WAL write lock is what every writer of
 *   frames, and every truncation of the WAL, needs: no frame is written while the zeros are;
 * - only bytes past the file's end are written: no frame any connection may read is touched;
 * - zeros are never taken for frames: a frame counts only when its salts equal the WAL header's and its
 *   checksum chains from the one before (https://www.sqlite.org/walformat.html), the same rule that makes
 *   SQLite ignore the stale frames of a WAL it writes over; a WAL whose header is zeros has no frames at all;
 * - SQLite keeps no lock on the `-wal` file (its WAL locks are on the `-shm` file, which this never opens: a
 *   process closing any descriptor of a file drops the POSIX locks it holds on it).
 *
 * When the last connection closes, SQLite removes the WAL, zeros and all, as before. It is an optimisation
 * only: where it cannot be done (another process keeps the write lock, the disk is full), the store works as
 * SQLite does by itself.
 */
import { closeSync, fstatSync, fsyncSync, openSync, statSync, writeSync } from 'node:fs';
import type Database from 'better-sqlite3';

/** The WAL's header, and each frame's header before its page (https://www.sqlite.org/walformat.html). */
const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;
/** Frames past the checkpoint mark: the commit that crosses the mark writes all of its pages before SQLite checkpoints. */
const SPARE_FRAMES = 64;
/**
 * The most zeros written: a database of pages larger than the 4 KiB Quest creates (64 KiB would make the
 * checkpoint mark 64 MiB) lets its WAL grow as SQLite does by itself rather than write that much at opening.
 */
const MAX_PRESIZE_BYTES = 16 * 1024 * 1024;
/** The zeros are written this much at a time. */
const CHUNK_BYTES = 1024 * 1024;

/**
 * Fill the WAL of the database open for writing in `db` (at `path`) with zeros up to a little past SQLite's
 * automatic checkpoint mark, unless it is that long already. Not done in memory, with automatic checkpoints
 * off or pages too large, nor where it fails (see the module comment).
 */
export function presizeWal(db: Database.Database, path: string): void {
  if (db.memory) return;
  const walPath = `${path}-wal`;
  try {
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    const checkpointMark = Number(db.pragma('wal_autocheckpoint', { simple: true }));
    const target = WAL_HEADER_BYTES + (checkpointMark + SPARE_FRAMES) * (FRAME_HEADER_BYTES + pageSize);
    if (!(checkpointMark > 0 && pageSize > 0) || target > MAX_PRESIZE_BYTES || walBytes(walPath) >= target) return;
    db.exec('BEGIN IMMEDIATE');
    appendZeros(walPath, target);
    db.exec('COMMIT');
  } catch {
    if (db.inTransaction) db.exec('ROLLBACK');
  }
}

/** Extend the file at `path` with zeros up to `target` bytes, then sync it; nothing before its end is written. */
function appendZeros(path: string, target: number): void {
  const fd = openSync(path, 'r+');
  try {
    let at = fstatSync(fd).size;
    if (at >= target) return;
    const zeros = Buffer.alloc(Math.min(CHUNK_BYTES, target - at));
    while (at < target) at += writeSync(fd, zeros, 0, Math.min(zeros.length, target - at), at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function walBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
