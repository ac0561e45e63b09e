/**
 * The file-system helpers of the file store: durable writes (fsync of data and directory), reads that treat a
 * missing file as absent, and per-key serial queues so that writes to one file never interleave.
 *
 * File descriptors are bounded so that thousands of workflows writing at once stay far below the usual
 * `ulimit -n` of 1024: the short-lived files these helpers open (temp files, reads, truncations) share
 * {@link TRANSIENT_FILES} slots in the process, and concurrent fsyncs of one directory are coalesced into one
 * (group commit: a sync that starts after a rename makes it durable, whoever asked for it). The long-lived
 * history logs are bounded by each store (FileStoreOptions.maxOpenFiles, ./log-slots.ts).
 */
import { open, readFile, rename, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { StorageError, isQuestError } from '../../core/errors.js';

export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

/** A counting semaphore: at most `size` holders at once, the others wait in order. */
export class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  /** How many are waiting for a slot. */
  get waiters(): number {
    return this.waiting.length;
  }

  acquire(): Promise<void> {
    if (this.used < this.size) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Give a slot back: handed straight to the first waiter, if any. */
  release(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.used--;
    else next();
  }

  async with<T>(job: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await job();
    } finally {
      this.release();
    }
  }
}

/**
 * Short-lived files open at once in this process (each helper call holds one slot and at most one file). Enough
 * to keep the disk busy; with 128 logs per store and a few directory handles it stays under a `ulimit -n` of 256.
 */
export const TRANSIENT_FILES = 32;
const transientFiles = new Slots(TRANSIENT_FILES);

/** Per directory: the sync in progress, and the one waiting to start after it (which later requests join). */
const directorySyncs = new Map<string, { running: Promise<void> | null; next: Promise<void> | null }>();

/**
 * Make a rename, creation or removal in `directory` durable (its entry lives in the directory, not the file).
 * Requests made while a sync of the same directory runs share the one sync that starts after it.
 */
export function syncDirectory(directory: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals its metadata changes itself.
  if (process.platform === 'win32') return Promise.resolve();
  let syncs = directorySyncs.get(directory);
  if (syncs === undefined) {
    syncs = { running: null, next: null };
    directorySyncs.set(directory, syncs);
  }
  if (syncs.next !== null) return syncs.next;
  const state = syncs;
  const start = async (): Promise<void> => {
    state.next = null;
    const running = fsyncDirectory(directory);
    state.running = running;
    try {
      await running;
    } finally {
      state.running = null;
      if (state.next === null && directorySyncs.get(directory) === state) directorySyncs.delete(directory);
    }
  };
  if (state.running === null) return start();
  // The sync running may have started before the caller's change: wait for it, then sync again.
  const next = state.running.then(start, start);
  state.next = next;
  return next;
}

async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replace `path` with `text` all at once: a crash leaves the old file or the new one, never a mix. */
export async function writeFileAtomically(directory: string, path: string, text: string | Buffer): Promise<void> {
  const temp = `${path}.tmp`;
  await transientFiles.with(async () => {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  });
  await syncDirectory(directory);
}

/** Cut `path` to `length` bytes. */
export function truncateFile(path: string, length: number): Promise<void> {
  return transientFiles.with(() => truncate(path, length));
}

/** Remove `path` durably; a missing file is fine. */
export async function removeFile(directory: string, path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  await syncDirectory(directory);
}

export async function readIfExists(path: string): Promise<Buffer | null> {
  try {
    return await transientFiles.with(() => readFile(path));
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
}

/** The size of `path` in bytes, or null when it does not exist. */
export async function fileSize(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
}

/** Write all of `data` (a write may be short, e.g. near a full disk). */
export async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

/** Run `job`, turning any failure that is not already a Quest error into a StorageError about `what`. */
export async function guard<T>(what: string, job: () => Promise<T>): Promise<T> {
  try {
    return await job();
  } catch (error) {
    if (isQuestError(error)) throw error;
    throw new StorageError(`Could not ${what}: ${error instanceof Error ? error.message : String(error)}`, error);
  }
}

/** Runs jobs one after another (per history, per entry, per alias), so that writes to one file never interleave. */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Resolves once every job queued so far has settled. */
  idle(): Promise<void> {
    return this.tail;
  }
}

/** A SerialQueue per key, dropped when it runs empty. */
export class KeyedQueues {
  private readonly queues = new Map<string, SerialQueue>();

  run<T>(key: string, job: () => Promise<T>): Promise<T> {
    const queue = this.queues.get(key) ?? new SerialQueue();
    this.queues.set(key, queue);
    const result = queue.run(job);
    const tail = queue.idle();
    void tail.then(() => {
      if (queue.idle() === tail) this.queues.delete(key);
    });
    return result;
  }

  async idle(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.idle()));
  }
}
