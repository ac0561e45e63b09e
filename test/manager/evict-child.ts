/**
 * Child process of eviction.test.ts: two workflows wait on queues with maxResident 1, so one is evicted; the
 * child cancels both and prints "cancelled" without closing its manager. It must then exit by itself: a
 * cancelled workflow, evicted or not, no longer keeps the process alive.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { WorkflowManager, queue } from '../../src/index.js';
import { MemoryStore } from '../../src/storage/memory.js';

const workflows = {
  waiter: async (): Promise<number> => {
    await using numbers = await queue<number>('numbers', null);
    return await numbers.get();
  },
};

const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, maxResident: 1 });
for (const id of ['a', 'b']) await manager.start('waiter', id);
await Promise.all(['a', 'b'].map((id) => manager.waitForResource(id, 'numbers', null)));
while (!(await manager.list()).some((info) => info.resident === false)) await nextTurn();
process.stdout.write('evicted\n');
for (const id of ['a', 'b']) await manager.cancel(id);
process.stdout.write('cancelled\n');
