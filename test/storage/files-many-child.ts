/**
 * Starts many workflows at once on a FileStore (each runs two steps and finishes), for files-many.test.ts,
 * which runs it under a low `ulimit -n`. Prints "done <count>" when every result is in.
 * Usage: files-many-child.ts <directory> <count>
 */
import { WorkflowManager, step } from '../../src/index.js';
import { FileStore } from '../../src/storage/files.js';

const [directory = 'store', countText = '1000'] = process.argv.slice(2);
const count = Number(countText);
const plus = step('plus', async (i: number) => i + 1);
const twoSteps = async (i: number): Promise<number> => (await plus(i)) + (await plus(i));
const manager = await WorkflowManager.open({ store: await FileStore.open(directory), workflows: { twoSteps } });
const ids = Array.from({ length: count }, (_, i) => `w${i}`);
await Promise.all(ids.map((id, i) => manager.start('twoSteps', id, i)));
const results = await Promise.all(ids.map((id) => manager.getResult<number>(id)));
const wrong = results.filter((result, i) => result !== 2 * i + 2).length;
await manager.close();
process.stdout.write(`done ${results.length - wrong}\n`);
