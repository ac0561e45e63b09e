/**
 * Schedules, child workflows and workflow deadlines on a PostgresStore: their state lives in workflow entries
 * and histories, so a reopen of the schema neither skips nor doubles a firing, and keeps a deadline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowManager, event, schedule, startChild } from '../../src/index.js';
import { PostgresStore } from '../../src/storage/postgres/index.js';
import { VirtualClock } from '../../src/testing/index.js';
import { untilSettled } from '../helpers.js';
import { PG_URL, describePostgres, dropSchema, freshSchema } from './postgres-support.js';

const open = (schema: string) => PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 3 });
const START = Date.UTC(2027, 0, 1);
const HOUR = 3600_000;

const workflows = {
  async tick(label: string): Promise<string> {
    return label;
  },
  async parent(): Promise<string> {
    const child = await startChild<string>('waiter', [], { id: 'the-child' });
    return `child said ${await child.result()}`;
  },
  async waiter(): Promise<string> {
    await using go = await event('go', null);
    await go.wait();
    return 'go';
  },
};

describePostgres('schedules, children and deadlines on PostgreSQL', () => {
  test('a reopen neither skips nor doubles a firing, keeps a deadline, and the parent waits on the same child', async (t) => {
    const clock = new VirtualClock({ start: START });
    t.after(clock.install());
    const schema = freshSchema('sched');
    // Closed however the test ends: a manager left open would keep the process alive.
    const managers: WorkflowManager<typeof workflows>[] = [];
    try {
      const first = await WorkflowManager.open({ store: await open(schema), workflows });
      managers.push(first);
      await schedule(first, 'hourly', { cron: '0 * * * *', type: 'tick', args: ['t'] });
      await first.startWith('waiter', 'late', [], { timeoutMs: 90 * 60_000 });
      await first.start('parent', 'p1');
      await first.waitForResource('the-child', 'go', null);
      await untilSettled(() => clock.nextAt === START + HOUR);
      await clock.advance(HOUR);
      await untilSettled(async () => (await first.list()).some(({ id }) => id.startsWith('hourly@')));
      await first.close();

      await clock.advance(2 * HOUR);
      const second = await WorkflowManager.open({ store: await open(schema), workflows });
      managers.push(second);
      const fired = async () => (await second.list()).map(({ id }) => id).filter((id) => id.startsWith('hourly@')).sort();
      await untilSettled(async () => (await fired()).length === 3);
      assert.deepEqual(await fired(), [1, 2, 3].map((h) => `hourly@${new Date(START + h * HOUR).toISOString()}`));
      await assert.rejects(second.getResult('late'), { code: 'TIMEOUT' });
      await second.waitForResource('the-child', 'go', null);
      await second.event('the-child', 'go', null).set();
      assert.equal(await second.getResult('p1'), 'child said go');
      assert.equal((await second.list()).filter(({ type }) => type === 'waiter').length, 2, 'one child, one timed workflow: nothing started twice');
      await second.close();
    } finally {
      for (const manager of managers) await manager.close();
      await dropSchema(schema);
    }
  });
});
