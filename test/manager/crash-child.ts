/**
 * A process the restart tests kill with SIGKILL. Usage: crash-child.ts <database> <log> <mode>
 * - mode 'started': print "started" as soon as start() resolved (the workflow may not have run at all);
 * - mode 'waiting': print "waiting" once the workflow waits for its 'go' event (step 'reserve' is done).
 * Then it idles until killed.
 */
import { WorkflowManager } from '../../src/index.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { orderWorkflows } from './fixtures.js';

const [database, log, mode] = process.argv.slice(2);
if (database === undefined || log === undefined || (mode !== 'started' && mode !== 'waiting')) {
  throw new Error('usage: crash-child.ts <database> <log> started|waiting');
}
const manager = await WorkflowManager.open({ store: new SqliteStore(database), workflows: orderWorkflows(log) });
await manager.start('order', 'o1', 'book');
if (mode === 'started') {
  process.stdout.write('started\n');
} else {
  await manager.waitForResource('o1', 'go', null);
  process.stdout.write('waiting\n');
}
// Idle until killed: a timer keeps the process alive.
setInterval(() => undefined, 1 << 30);
