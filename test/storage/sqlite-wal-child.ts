/**
 * Child process of sqlite-wal.test.ts: opens a SqliteStore, commits `count` records to history 'w' one
 * transaction after the other, prints "committed <count>", then kills itself with SIGKILL (nothing closed).
 *
 * Usage: node --import tsx test/storage/sqlite-wal-child.ts <path> <count>
 */
import type { HistoryRecord } from '../../src/core/records.js';
import { SqliteStore } from '../../src/storage/sqlite.js';

const [path, countText] = process.argv.slice(2);
if (path === undefined || countText === undefined) throw new Error('usage: sqlite-wal-child.ts <path> <count>');
const count = Number(countText);
const store = new SqliteStore(path);
for (let seq = 1; seq <= count; seq++) {
  const record: HistoryRecord = { v: 1, seq, t: 1_700_000_000_000 + seq, task: 'main', id: `main/step-${seq}`, type: 'step_end', result: seq };
  await store.history('w').commit({ append: [record], remove: [] });
}
process.stdout.write(`committed ${count}\n`);
process.kill(process.pid, 'SIGKILL');
