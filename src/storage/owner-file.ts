/**
 * The owner of a store directory (FileStore), in numbered owner files: `owner.<n>.json`, one StoreOwner each.
 * The file with the highest number says who owns the directory (or, with `releasedAt`, that nobody does).
 *
 * Why numbers: taking over a dead owner must be atomic, and "replace the file if it still says X" is not an
 * operation a file system has. Creating a file that does not exist yet is (a hard link fails with EEXIST), so
 * every acquisition creates the NEXT number: of several processes that found owner n gone, exactly one creates
 * n + 1. A process whose view was older (it creates a lower number, one cleaned up meanwhile) sees a higher
 * file when it lists the directory again right after, and withdraws. Numbers are never reused while the
 * directory lives: a release writes a `released` file one higher rather than deleting the owner's.
 *
 * The record is written to a temporary file, fsynced and hard-linked into place, so an owner file never
 * exists half-written. Older numbers are removed by each new owner.
 */
import { link, open, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../core/errors.js';
import { isStoreOwner, ownerIsGone, storeOwnedError } from './owner.js';
import type { StoreOwner } from './store.js';

const OWNER_FILE = /^owner\.(\d+)\.json$/;
/** Acquisitions lost to other processes (each then sees the winner, so this is never reached in practice). */
const MAX_ATTEMPTS = 20;

/** An owner file's content: the owner, and when it let go (the `released` file of a release). */
interface OwnerRecord extends StoreOwner {
  releasedAt?: number;
}

/** The ownership of one directory by this process; see the module comment. */
export class OwnerFile {
  private released = false;

  private constructor(
    private readonly directory: string,
    /** The number of our owner file. */
    private readonly generation: number,
    private readonly owner: StoreOwner,
  ) {}

  /**
   * Own `directory` as `owner`: StoreOwnedError (naming the owner) while a live process owns it; a dead
   * owner on this host is taken over (see `ownerIsGone`). `store` names the store in errors.
   */
  static async acquire(directory: string, owner: StoreOwner, store: string): Promise<OwnerFile> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const top = await newestOwner(directory);
      if (top === 'changed') continue;
      const held = top !== undefined && top.record.releasedAt === undefined ? top.record : undefined;
      if (held !== undefined && held.id === owner.id) return new OwnerFile(directory, top?.generation ?? 0, owner);
      if (held !== undefined && !ownerIsGone(held)) {
        throw storeOwnedError(store, held, `delete the owner.*.json files in ${directory}`);
      }
      const next = (top?.generation ?? 0) + 1;
      if (!(await createOwnerFile(directory, next, owner))) continue;
      const generations = await ownerGenerations(directory);
      if (generations.some((generation) => generation > next)) {
        await removeIfExists(ownerPath(directory, next));
        continue;
      }
      for (const older of generations.filter((generation) => generation < next)) await removeIfExists(ownerPath(directory, older));
      await syncDirectory(directory);
      return new OwnerFile(directory, next, owner);
    }
    throw new StorageError(`Could not take ownership of ${store}: other processes keep taking it over.`);
  }

  /** The current owner of `directory` (alive or not), or undefined when none or released. */
  static async current(directory: string): Promise<StoreOwner | undefined> {
    for (;;) {
      const top = await newestOwner(directory);
      if (top === 'changed') continue;
      return top === undefined || top.record.releasedAt !== undefined ? undefined : top.record;
    }
  }

  /** Let go: a `released` file one higher, then ours removed. Nothing happens the second time. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const record: OwnerRecord = { ...this.owner, releasedAt: Date.now() };
    // EEXIST: someone took the store over (they found us gone); it is theirs now, nothing to release.
    if (!(await createOwnerFile(this.directory, this.generation + 1, record))) return;
    await removeIfExists(ownerPath(this.directory, this.generation));
    await syncDirectory(this.directory);
  }
}

function ownerPath(directory: string, generation: number): string {
  return join(directory, `owner.${generation}.json`);
}

/** The numbers of the owner files in `directory`, ascending. */
async function ownerGenerations(directory: string): Promise<number[]> {
  const generations: number[] = [];
  for (const name of await readdir(directory)) {
    const match = OWNER_FILE.exec(name);
    if (match?.[1] !== undefined) generations.push(Number(match[1]));
  }
  return generations.sort((a, b) => a - b);
}

/** The highest owner file and its record; 'changed' when it vanished as we read it (a new owner cleaned up). */
async function newestOwner(directory: string): Promise<{ generation: number; record: OwnerRecord } | undefined | 'changed'> {
  const generation = (await ownerGenerations(directory)).at(-1);
  if (generation === undefined) return undefined;
  const path = ownerPath(directory, generation);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return 'changed';
    throw error;
  }
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    record = undefined;
  }
  if (!isStoreOwner(record)) {
    throw new StorageError(`The owner file ${path} is damaged. If no process uses the store, delete the owner.*.json files.`);
  }
  return { generation, record };
}

/** Create owner file `generation` holding `record`, complete or not at all; false when it exists already. */
async function createOwnerFile(directory: string, generation: number, record: OwnerRecord): Promise<boolean> {
  const temp = join(directory, `owner.${record.id}.tmp`);
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(JSON.stringify(record), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, ownerPath(directory, generation));
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  } finally {
    await removeIfExists(temp);
  }
}

async function removeIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}

/** Make the creations and removals in `directory` durable. */
async function syncDirectory(directory: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals its metadata changes itself.
  if (process.platform === 'win32') return;
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}
