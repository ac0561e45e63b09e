/**
 * The FileStore directory's own bookkeeping, apart from the entries, aliases and logs it holds: the format
 * marker (quest-store.json), the clean-shutdown marker (closed-cleanly), and what an open clears up after a
 * crash (temp files of interrupted writes, logs ending in an interrupted commit, logs of format 1). The store
 * (../files.ts) calls these when it opens and closes; the layout is described there.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../../core/errors.js';
import { fileSize, readIfExists, removeFile, writeFileAtomically } from './fs.js';
import { repairLog } from './history.js';
import type { FileStoreStats } from './options.js';

/** Format 2: history logs with a header and checksummed frames. Format 1 (bare JSON lines) is migrated at open. */
const FORMAT = { kind: 'quest-files', format: 2 } as const;
/** Present while the store is closed, when the last process to open it closed it cleanly. */
const CLEAN_MARKER = 'closed-cleanly';

/** Check the format marker of the store in `directory` (writing it for a new store); true for a store of format 1, to migrate. */
export async function checkFormat(directory: string): Promise<boolean> {
  const path = join(directory, 'quest-store.json');
  const bytes = await readIfExists(path);
  if (bytes === null) {
    await markCurrentFormat(directory);
    return false;
  }
  const found = parseJsonFile(bytes, path) as { kind?: unknown; format?: unknown };
  if (found.kind !== FORMAT.kind || typeof found.format !== 'number') {
    throw new StorageError(`${directory} is not a Quest file store (its quest-store.json says otherwise).`);
  }
  if (found.format > FORMAT.format) {
    throw new StorageError(`${directory} was written by a newer Quest (file store format ${found.format}); upgrade Quest.`);
  }
  return found.format < FORMAT.format;
}

/** Mark the store in `directory` as of the current format (a new store, or a migration finished). */
export async function markCurrentFormat(directory: string): Promise<void> {
  await writeFileAtomically(directory, join(directory, 'quest-store.json'), JSON.stringify(FORMAT));
}

/**
 * Whether the last process closed the store cleanly (no write of it was interrupted, so no log may end in a
 * torn commit). The marker is removed durably before anything is written: a crash from now on leaves it absent.
 */
export async function takeCleanMarker(directory: string): Promise<boolean> {
  const marker = join(directory, CLEAN_MARKER);
  if ((await fileSize(marker)) === null) return false;
  await removeFile(directory, marker);
  return true;
}

/** At close, when every write is durable and whole: tell the next open that it need not look for torn commits. */
export async function markClosedCleanly(directory: string): Promise<void> {
  await writeFileAtomically(directory, join(directory, CLEAN_MARKER), '');
}

/** Remove the temp files of writes a crash interrupted in `directory` (the file they were to replace is whole). */
export async function removeTempFiles(directory: string): Promise<void> {
  for (const name of await readdir(directory)) {
    if (name.endsWith('.tmp')) await rm(join(directory, name), { force: true });
  }
}

/**
 * After a crash (or when migrating from format 1): cut the commit a crash interrupted off every log in
 * `directory`, and rewrite logs of format 1 in the current format, counting both in `stats`. Damaged logs are
 * left for `load()` to report.
 */
export async function repairLogs(directory: string, legacy: boolean, stats: Pick<FileStoreStats, 'tornTails' | 'migratedLogs'>): Promise<void> {
  for (const name of (await readdir(directory)).filter((file) => file.endsWith('.log'))) {
    const outcome = await repairLog(join(directory, name), legacy);
    if (outcome === 'torn') stats.tornTails++;
    if (outcome === 'migrated') stats.migratedLogs++;
  }
}

/** Every JSON file in `directory`, parsed, with its path (StorageError for one that is not JSON). */
export async function readJsonFiles(directory: string): Promise<Array<[string, unknown]>> {
  const names = (await readdir(directory)).filter((name) => name.endsWith('.json'));
  const files: Array<[string, unknown]> = [];
  for (const name of names) {
    const path = join(directory, name);
    files.push([path, parseJsonFile(await readFile(path), path)]);
  }
  return files;
}

function parseJsonFile(bytes: Buffer, path: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new StorageError(`${path} is damaged (not JSON). Restore it from a backup or delete it.`, error);
  }
}
