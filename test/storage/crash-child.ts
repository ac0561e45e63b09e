/**
 * Child process of crash.test.ts: commits to several histories as fast as it can and prints every commit once
 * it is acknowledged, until the parent kills it with SIGKILL.
 *
 * Usage: node --import tsx test/storage/crash-child.ts <files|sqlite|s3|dynamodb> <location>
 * (a directory for files and SQLite; `<endpoint>#<prefix or table>` for S3 and DynamoDB, see cloud-locations.ts)
 *
 * Output, one line each: `start <history> <last seq found>` before a history's first commit, then
 * `ack <history> <seq>` after each commit resolves. Commit `s` appends record `s` and, when `s` is even,
 * removes record `s - 1`, so the parent can tell exactly which records must be there.
 */
import { join } from 'node:path';
import type { HistoryRecord } from '../../src/core/records.js';
import type { Store } from '../../src/storage/store.js';
import { FileStore } from '../../src/storage/files.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { openCloudStore } from './cloud-locations.js';

/** Histories written at once. */
export const CRASH_HISTORIES = 4;
/** A child stops by itself after this many commits per history, in case nobody kills it. */
const MAX_COMMITS = 20_000;

/** The record commit `seq` appends: its padding varies so that lines and rows straddle page boundaries. */
export function crashRecord(history: number, seq: number): HistoryRecord {
  return { v: 1, seq, t: seq, task: 'main', id: `main/s${seq}`, type: 'step_end', result: { history, pad: 'x'.repeat((seq * 7919) % 3000) } };
}

/** The history ids: one of them odd, to crash-test file-name encoding too. */
export function crashHistoryId(history: number): string {
  return history === 0 ? 'crash/ü 0' : `crash-${history}`;
}

async function openStore(backend: string, directory: string): Promise<Store> {
  if (backend === 'files') return FileStore.open(directory);
  if (backend === 'sqlite') return new SqliteStore(join(directory, 'quest.sqlite'));
  if (backend === 's3' || backend === 'dynamodb') return openCloudStore(backend, directory);
  throw new Error(`unknown backend ${backend}`);
}

/**
 * Write `line` and wait until it is in the pipe. Node writes to a pipe asynchronously: a line still queued in
 * this process dies with it at SIGKILL, and the parent would see a commit land that it never saw acknowledged.
 * The next commit starts only once the parent can read the previous acknowledgement.
 */
function emit(line: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(line, (error) => (error ? reject(error) : resolve())));
}

async function writeLoop(store: Store, index: number): Promise<void> {
  const history = store.history(crashHistoryId(index));
  const records = await history.load();
  let seq = records.at(-1)?.seq ?? 0;
  await emit(`start ${index} ${seq}\n`);
  for (const stop = seq + MAX_COMMITS; seq < stop;) {
    seq++;
    await history.commit({ append: [crashRecord(index, seq)], remove: seq % 2 === 0 ? [seq - 1] : [] });
    await emit(`ack ${index} ${seq}\n`);
  }
}

async function main(): Promise<void> {
  const [backend = '', directory = ''] = process.argv.slice(2);
  // If the parent dies, nobody will kill us: leave when our stdin (its pipe) closes.
  process.stdin.on('end', () => process.exit(2));
  process.stdin.resume();
  const store = await openStore(backend, directory);
  await Promise.all(Array.from({ length: CRASH_HISTORIES }, (_, index) => writeLoop(store, index)));
  await store.close();
  process.exit(0);
}

if (process.argv[1]?.endsWith('crash-child.ts')) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
