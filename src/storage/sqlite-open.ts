/**
 * Opening a SqliteStore's file: for writing (WAL mode), and without writing it: read-only opening for
 * inspection, and the check that a file is a Quest database before anything is written to it.
 *
 * Read-only without a single change, even in a read-only directory: a Quest database is in WAL mode, and
 * SQLite opens a WAL-mode file (even with SQLITE_OPEN_READONLY) by creating its `-wal` and `-shm` files, which
 * stay behind, and fails where it cannot create them. SQLite's `immutable=1` avoids that, but it is a URI
 * parameter and better-sqlite3 12 is built with URIs off (SQLITE_USE_URI=0; only an environment variable read
 * once when its addon loads switches them on), and immutable also ignores the `-wal` file. So:
 * - no `-wal` file, or an empty one (the last connection closed cleanly, everything is in the main file; a running
 *   store's `-wal` is never empty: ./sqlite-wal.ts): where URI filenames are on, the file is opened in place as
 *   `file:…?immutable=1`, which reads the pages a query needs and creates nothing (3–8 ms at a million workflows).
 *   better-sqlite3 turns them on for the whole process, and only from the environment variable `SQLITE_USE_URI=1`
 *   read once as it loads (the `quest` command sets it: ../cli/sqlite-uris.ts). Where they are off, that opening
 *   fails without creating anything, and the file is read into memory and opened from there
 *   (`new Database(buffer)`), its header switched from WAL to rollback mode in the copy: nothing on disk is opened
 *   for writing, but the file is read whole and held twice in memory while it is opened (1 s and 670 MB for a
 *   file of 336 MB, a million finished workflows);
 * - a `-wal` file with content (a manager runs, or one crashed): the file is opened with SQLITE_OPEN_READONLY,
 *   which reads the committed transactions in the `-wal` and never writes the database or the `-wal`. SQLite
 *   may update the `-shm` index (or keep it in memory when it cannot write it).
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { NotAQuestStoreError, StorageError } from '../core/errors.js';
import { MIGRATIONS, READABLE_SCHEMA, migrate } from './sqlite-migrations.js';
import type { SqliteStoreOptions, SqliteStoreStats } from './sqlite-options.js';
import { prepare, type Statements } from './sqlite-statements.js';
import { storageError } from './storage-error.js';
import { presizeWal } from './sqlite-wal.js';
import { WalSync } from './sqlite-wal-sync.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
/** The largest file Node reads whole (readFileSync): 2 GiB. */
const MAX_COPIED_BYTES = 2 ** 31 - 1;
/** The tables every Quest database has had since its first schema. */
const QUEST_TABLES = ['records', 'workflows', 'aliases'];

/** A SqliteStore's open database, its statements, and the syncer of its WAL when its writes must survive a power loss. */
export interface OpenedDatabase {
  db: Database.Database;
  statements: Statements;
  walSync?: WalSync;
}

/**
 * Open the database of a SqliteStore and prepare its statements: for writing (created unless `create: false`,
 * switched to WAL mode, its schema brought up to date, its WAL made ready to be written in place:
 * ./sqlite-wal.ts), or read-only (`readOnly: true`, see the module comment).
 * StorageError when it cannot be opened, cannot use WAL, or was written by a newer Quest; NotAQuestStoreError
 * when `create: false` or `readOnly` finds no Quest database there.
 */
export function openStoreDatabase(path: string, options: SqliteStoreOptions, stats: SqliteStoreStats): OpenedDatabase {
  const readOnly = options.readOnly === true;
  const db = readOnly ? openReadOnlyDatabase(path, MIGRATIONS.length, READABLE_SCHEMA) : openWritable(path, options, MIGRATIONS.length);
  try {
    if (readOnly) return { db, statements: prepare(db) };
    configure(db, path);
    migrate(db, path);
    presizeWal(db, path);
    const statements = prepare(db);
    return (options.synchronous ?? 'full') === 'full' && !db.memory ? { db, statements, walSync: WalSync.open(path, stats) } : { db, statements };
  } catch (error) {
    db.close();
    throw storageError(`open the SQLite database ${path}`, error);
  }
}

/**
 * Open `path` for writing; with `create: false`, only when it is a Quest database already (checked first,
 * reading only).
 */
export function openWritable(path: string, options: SqliteStoreOptions, knownVersions: number): Database.Database {
  if (options.create === false) checkSqliteFile(path);
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000, fileMustExist: options.create === false });
  } catch (error) {
    throw new StorageError(`Could not open the SQLite database ${path}: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  try {
    if (options.create === false) checkQuestSchema(db, path, knownVersions);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Switch a database open for writing to WAL mode, whose commits SQLite does not sync: with `synchronous: 'full'`
 * the store syncs the WAL itself after them (./sqlite-wal-sync.ts).
 */
export function configure(db: Database.Database, path: string): void {
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal' && !db.memory) {
    throw new StorageError(`SQLite could not switch ${path} to WAL mode (it stays in ${String(mode)} mode).`);
  }
  db.pragma('synchronous = NORMAL');
}

/** Open the Quest database at `path` read-only (see the module comment); NotAQuestStoreError when it is none. */
export function openReadOnlyDatabase(path: string, knownVersions: number, minimumVersion: number): Database.Database {
  checkSqliteFile(path);
  let db: Database.Database;
  try {
    db = walHasContent(path) ? new Database(path, { readonly: true, fileMustExist: true }) : (openImmutable(path) ?? openCopy(path));
  } catch (error) {
    throw new StorageError(`Could not open the SQLite database ${path} read-only: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  try {
    const version = checkQuestSchema(db, path, knownVersions);
    if (version < minimumVersion) {
      throw new StorageError(`${path} was written by an older Quest (schema ${version}); open it once with a WorkflowManager (or quest run) to upgrade it.`);
    }
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** NotAQuestStoreError unless `path` is a file that starts like a SQLite database. Reads only. */
export function checkSqliteFile(path: string): void {
  let size: number;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw new NotAQuestStoreError(path, 'is a directory');
    size = stat.size;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') throw new NotAQuestStoreError(path, 'does not exist');
    throw error;
  }
  if (size === 0) throw new NotAQuestStoreError(path, 'is an empty file');
  if (!readStart(path, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) throw new NotAQuestStoreError(path, 'is not a SQLite database');
}

/**
 * The schema version of the Quest database open in `db`: NotAQuestStoreError when it has no Quest tables
 * (another application's database), StorageError when a newer Quest wrote it. Reads only.
 */
export function checkQuestSchema(db: Database.Database, path: string, knownVersions: number): number {
  let version: number;
  let tables: Set<string>;
  try {
    version = Number(db.pragma('user_version', { simple: true }));
    tables = new Set(db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((row) => row.name));
  } catch (error) {
    throw new NotAQuestStoreError(path, `cannot be read as a SQLite database (${error instanceof Error ? error.message : String(error)})`);
  }
  if (version < 1 || QUEST_TABLES.some((table) => !tables.has(table))) {
    throw new NotAQuestStoreError(path, tables.size === 0 ? 'is an empty SQLite database' : 'is a SQLite database of another application (no Quest tables)');
  }
  if (version > knownVersions) {
    throw new StorageError(`${path} was written by a newer Quest (schema ${version}, this one knows ${knownVersions}); upgrade Quest.`);
  }
  return version;
}

/**
 * The database at `path` opened in place, read-only and immutable (no lock, no `-wal` or `-shm`), or undefined
 * where URI filenames are off: SQLite then takes the URI for a relative file name, which a read-only opening
 * never creates, and fails. Only for a file no connection writes (see the module comment): a writer that opens
 * it meanwhile writes its `-wal`, and changes the main file only at its first checkpoint, ~1,000 frames later.
 */
function openImmutable(path: string): Database.Database | undefined {
  // A URI's path escapes '%', '?' and '#'; an absolute path keeps "file://" (an authority) out.
  const uriPath = resolve(path).replace(/[%?#]/g, (character) => `%${character.charCodeAt(0).toString(16).padStart(2, '0')}`);
  try {
    return new Database(`file:${uriPath}?immutable=1`, { readonly: true, fileMustExist: true });
  } catch {
    return undefined;
  }
}

/** The database at `path` read into memory (see the module comment); StorageError, saying what to do, past 2 GiB. */
function openCopy(path: string): Database.Database {
  const size = statSync(path).size;
  if (size > MAX_COPIED_BYTES) {
    throw new StorageError(
      `it is larger than 2 GiB (${size} bytes), too large to read into memory, ` +
        'and URI filenames, with which Quest reads it in place, are off in this process: start the process with the environment ' +
        'variable SQLITE_USE_URI=1 (better-sqlite3 reads it as it loads; the quest command sets it), or open the database for writing.',
    );
  }
  return new Database(inRollbackMode(readFileSync(path)), { readonly: true });
}

function walHasContent(path: string): boolean {
  try {
    return statSync(`${path}-wal`).size > 0;
  } catch {
    return false;
  }
}

/** A copy of a database image whose header says rollback mode: the in-memory VFS cannot open WAL mode. */
function inRollbackMode(image: Buffer): Buffer {
  // Bytes 18 and 19: file format write and read versions, 2 for WAL, 1 for rollback.
  if (image.length >= 100) {
    image[18] = 1;
    image[19] = 1;
  }
  return image;
}

function readStart(path: string, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const fd = openSync(path, 'r');
  try {
    const read = readSync(fd, buffer, 0, length, 0);
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}
