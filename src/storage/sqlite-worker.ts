/**
 * The worker threads of a SqliteStore (its background checkpoints: ./sqlite-checkpoints.ts; its list reads:
 * ./sqlite-list-reads.ts), each a CommonJS script evaluated from a string, so that it needs no file of its own
 * whether Quest runs from its TypeScript sources or its build.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Start `source` in a worker thread, with `workerData` and `module`: where better-sqlite3 is, for its
 * `require(workerData.module)`. Unreferenced: it keeps the process alive only while its owner refs it.
 */
export function startSqliteWorker(source: string, workerData: Record<string, unknown>): Worker {
  const worker = new Worker(source, {
    eval: true,
    // Plain JavaScript: none of the process's flags (say, a TypeScript loader) need to load in the worker.
    execArgv: [],
    workerData: { ...workerData, module: createRequire(import.meta.url).resolve('better-sqlite3') },
  });
  worker.unref();
  return worker;
}
