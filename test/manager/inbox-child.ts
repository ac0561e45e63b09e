/**
 * The README's script for a process that runs a workflow fed by `quest send` (section "The `quest` command
 * line"), with the database as argument and a line "ready" once the workflow waits. Nothing but the manager
 * keeps this process alive while it waits. Usage: inbox-child.ts <database>
 */
import { WorkflowManager, queue } from '../../src/index.js';
import { SqliteStore } from '../../src/storage/sqlite.js';

async function greet(): Promise<string> {
  await using names = await queue<string>('names', null);
  return `hello ${await names.get()}`;
}

const [database = 'app.sqlite'] = process.argv.slice(2);
const manager = await WorkflowManager.open({ store: await SqliteStore.open(database), workflows: { greet } });
await manager.startWith('greet', 'greeter', [], { ifExists: 'resume' });
await manager.waitForResource('greeter', 'names', null);
process.stdout.write('ready\n');
console.log(await manager.getResult('greeter')); // waits for `quest send greeter names put '"ann"'`
await manager.close();
