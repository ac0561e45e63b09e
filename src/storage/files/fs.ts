/**
 * The file-system helpers of the file store: durable writes (fsync of data and directory), reads that treat a
 * missing file as absent, and per-key serial queues so that writes to one file never interleave.
 */
import { open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { StorageError, isQuestError } from '../../core/errors.js';

export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

/** Make a rename, creation or removal in `directory` durable (its entry lives in the directory, not the file). */
export async function syncDirectory(directory: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals its metadata changes itself.
  if (process.platform === 'win32') return;
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
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  await syncDirectory(directory);
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
    return await readFile(path);
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
