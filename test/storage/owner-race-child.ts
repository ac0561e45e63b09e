/**
 * Child process of ownership.test.ts: takes ownership of a store when told to, reports, and keeps it until
 * its stdin ends (a winner that exited early would leave a dead owner for a slower racer to take over).
 *
 * Usage: node --import tsx test/storage/owner-race-child.ts <sqlite|files> <path>
 * Prints "ready" once loaded, waits for a line on stdin ("go"), then tries and prints "won" or
 * "refused <message>" (anything else: "error <message>"); exits when stdin ends.
 */
import { createInterface } from 'node:readline';
import { isQuestError } from '../../src/core/errors.js';
import { FileStore } from '../../src/storage/files.js';
import { newStoreOwner } from '../../src/storage/owner.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import type { Store } from '../../src/storage/store.js';

const [kind, path] = process.argv.slice(2);
if (path === undefined || (kind !== 'sqlite' && kind !== 'files')) throw new Error('usage: owner-race-child.ts <sqlite|files> <path>');

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
process.stdout.write('ready\n');
await lines.next();
let store: Store | undefined;
try {
  if (kind === 'sqlite') {
    const sqlite = await SqliteStore.open(path);
    store = sqlite;
    await sqlite.acquireOwnership(newStoreOwner());
  } else {
    store = await FileStore.open(path);
  }
  process.stdout.write('won\n');
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stdout.write(isQuestError(error, 'STORE_OWNED') ? `refused ${message}\n` : `error ${message}\n`);
}
while (!(await lines.next()).done);
await store?.close();
