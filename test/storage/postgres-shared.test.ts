/**
 * Two WorkflowManagers over one PostgreSQL schema, each with its own store (as two processes would have):
 * a workflow started by a manager with no capacity runs in the other; getResult() in the starter wakes when
 * it finishes; act() in the starter reaches the owner through the inbox; aliases are global; ifExists:
 * 'resume' does not run a workflow twice; a cancel from the non-owner stops the owner's run; the starter sees
 * the resources of a workflow the other runs (resources, waitForResource, a resource stream), from its history.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowManager, alias, event, isQuestError, queue, state, step } from '../../src/index.js';
import type { ResourceSnapshot } from '../../src/core/resource-stream.js';
import { PostgresStore } from '../../src/storage/postgres/index.js';
import { PG_URL, describePostgres, dropSchema, freshSchema } from './postgres-support.js';

const open = (schema: string) => PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 3 });

function workflowsCounting(runs: Record<string, number>) {
  const counted = step('counted', async (id: string) => {
    runs[id] = (runs[id] ?? 0) + 1;
    return id;
  });
  return {
    /** Takes the alias `name`, then sums the numbers put to its public queue `in` until a 0. */
    summer: async (name: string): Promise<number> => {
      await counted(name);
      await using _alias = await alias(name);
      await using input = await queue<number>('in', null);
      let sum = 0;
      for (let n = await input.get(); n !== 0; n = await input.get()) sum += n;
      return sum;
    },
    /** Holds a public state `note` and ann's state `secret` until its public event `done` is set; returns the note. */
    board: async (): Promise<string> => {
      await using note = await state('note', null, 'empty');
      await using _secret = await state('secret', 'ann', 42);
      await using done = await event('done', null);
      await done.wait();
      return note.get();
    },
  };
}

/** Resolves once workflow `id` runs in `manager` with its queue `in` open (it may still be on its way there). */
async function openIn(manager: WorkflowManager<ReturnType<typeof workflowsCounting>>, id: string): Promise<void> {
  for (;;) {
    try {
      await manager.waitForResource(id, 'in', null);
      return;
    } catch (error) {
      if (!isQuestError(error, 'WORKFLOW_SUSPENDED')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** Run `body` with two managers over a fresh schema: `runner` runs workflows, `starter` runs none (maxWorkflows 0). */
async function withPair(body: (managers: { runner: WorkflowManager<ReturnType<typeof workflowsCounting>>; starter: WorkflowManager<ReturnType<typeof workflowsCounting>>; runs: Record<string, number>; schema: string }) => Promise<void>): Promise<void> {
  const schema = freshSchema('shared');
  const runs: Record<string, number> = {};
  const workflows = workflowsCounting(runs);
  const runner = await WorkflowManager.open({ store: await open(schema), workflows, leases: { leaseMs: 2000 } });
  const starter = await WorkflowManager.open({ store: await open(schema), workflows, leases: { leaseMs: 2000, maxWorkflows: 0 } });
  try {
    await body({ runner, starter, runs, schema });
  } finally {
    await starter.close();
    await runner.close();
    await dropSchema(schema);
  }
}

describePostgres('two managers over one PostgreSQL store', () => {
  test('a workflow started where there is no capacity runs in the other manager; act and getResult reach it from the starter', async () => {
    await withPair(async ({ runner, starter, runs }) => {
      const handle = await starter.start('summer', 's1', 'lobby');
      assert.equal(handle.created, true);
      await openIn(runner, 's1');
      assert.deepEqual((await starter.list()).map(({ id, status }) => [id, status]), [['s1', 'running']], 'running in the other manager');
      await starter.act('s1', 'in', null, 'put', 2);
      await starter.queue<number>('lobby', 'in', null).put(3);
      // A take answers a value, which would stay in the other process: refused before anything is taken.
      await assert.rejects(starter.act('s1', 'in', null, 'get'), (error: Error) => isQuestError(error, 'INVALID_ARGUMENT') && /answers a value/.test(error.message));
      await starter.act('lobby', 'in', null, 'put', 0);
      assert.equal(await handle.result(), 5);
      assert.equal(await runner.getResult('s1'), 5);
      assert.deepEqual(runs, { lobby: 1 });
    });
  });

  test('an event left pending for a workflow that just finished elsewhere waits a lease period for its settlement, then is rejected', async () => {
    await withPair(async ({ runner, starter, schema }) => {
      await runner.start('summer', 's1', 'lobby');
      await openIn(runner, 's1');
      await runner.act('s1', 'in', null, 'put', 0);
      assert.equal(await runner.getResult('s1'), 0);
      const finishedAt = Date.now();
      // The runner is gone; to the starter, this event looks like one the runner applied (finishing the
      // workflow) and had not settled yet.
      await runner.close();
      const sender = await open(schema);
      try {
        const id = await sender.postEvent({ workflowId: 's1', resource: 'in', identity: null, action: 'put', args: [0] });
        await starter.deliverInbox();
        const early = await sender.eventOutcome(id);
        if (Date.now() - finishedAt < 1500) assert.deepEqual(early, { status: 'pending' }, 'not rejected by the other process at once');
        let outcome = early;
        while (outcome?.status === 'pending') {
          await new Promise((resolve) => setTimeout(resolve, 100));
          await starter.deliverInbox();
          outcome = await sender.eventOutcome(id);
        }
        assert.equal(outcome?.status === 'rejected' && outcome.code, 'WORKFLOW_FINISHED');
      } finally {
        await sender.close();
      }
    });
  });

  test('aliases are global: a workflow in one manager cannot take an alias a workflow of the other holds', async () => {
    await withPair(async ({ runner, starter }) => {
      await runner.start('summer', 'a', 'shared-name');
      await openIn(runner, 'a');
      // Started by the starter, run by the runner (the only one with capacity): its alias is refused.
      await starter.start('summer', 'b', 'shared-name');
      await assert.rejects(starter.getResult('b'), (error: unknown) => isQuestError(error, 'DUPLICATE_ALIAS'));
      await starter.act('shared-name', 'in', null, 'put', 0);
      assert.equal(await starter.getResult('a'), 0);
    });
  });

  test("start with ifExists: 'resume' from either manager returns the workflow without running it twice; a duplicate start is refused", async () => {
    await withPair(async ({ runner, starter, runs }) => {
      await runner.start('summer', 'w', 'w-name');
      await openIn(runner, 'w');
      const again = await starter.startWith('summer', 'w', ['w-name'], { ifExists: 'resume' });
      assert.equal(again.created, false);
      await assert.rejects(starter.start('summer', 'w', 'w-name'), (error: unknown) => isQuestError(error, 'DUPLICATE_WORKFLOW'));
      await starter.act('w', 'in', null, 'put', 0);
      assert.equal(await again.result(), 0);
      assert.deepEqual(runs, { 'w-name': 1 });
    });
  });

  test('the manager that does not run a workflow sees its resources from its stored history: resources, waitForResource', async () => {
    await withPair(async ({ runner, starter }) => {
      await starter.start('board', 'b1');
      // Its event is opened last: once the stored history has it, the states are stored too.
      const done = await starter.waitForResource('b1', 'done', null);
      assert.deepEqual([done.name, done.kind], ['done', 'event']);
      assert.deepEqual(await starter.resources('b1', null), await runner.resources('b1', null), 'the same as where it runs, for nobody');
      assert.deepEqual(await starter.resources('b1', 'ann'), await runner.resources('b1', 'ann'), 'and for ann, who sees her secret');
      assert.deepEqual((await starter.resources('b1', 'ann')).map((r) => [r.name, r.identity, r.view]), [['note', null, { value: 'empty' }], ['secret', 'ann', { value: 42 }], ['done', null, { isSet: false }]]);
      await starter.act('b1', 'note', null, 'set', 'hello');
      assert.deepEqual((await starter.resources('b1', null))[0]?.view, { value: 'hello' }, 'an applied act shows at once');
      await starter.act('b1', 'done', null, 'set');
      assert.equal(await starter.getResult('b1'), 'hello');
      await assert.rejects(starter.resources('b1', null), (error: unknown) => isQuestError(error, 'WORKFLOW_FINISHED'));
    });
  });

  test('a resource stream from the manager that does not run the workflow sends a snapshot per change it polls, and ends when the workflow does', async () => {
    await withPair(async ({ runner, starter }) => {
      await starter.start('board', 'b2');
      await runner.waitForResource('b2', 'done', null);
      const stream = await starter.resourceStream('b2', null);
      const views = async (): Promise<{ change: string; views: unknown[] }> => {
        for (;;) {
          const next = await stream.next();
          assert.equal(next.done, false, 'the stream goes on while the workflow runs');
          const { change, resources } = next.value as ResourceSnapshot;
          // The history may be stored in more than one write as the run gets to its event: wait for both
          // resources nobody's identity sees (ann's secret is not among them).
          if (resources.length === 2) return { change, views: resources.map((r) => r.view) };
        }
      };
      const first = await views();
      assert.deepEqual(first.views, [{ value: 'empty' }, { isSet: false }]);
      await starter.act('b2', 'note', null, 'set', 'changed');
      assert.deepEqual(await views(), { change: 'act', views: [{ value: 'changed' }, { isSet: false }] });
      await starter.act('b2', 'done', null, 'set');
      for (let next = await stream.next(); next.done !== true; next = await stream.next());
      assert.equal(await starter.getResult('b2'), 'changed');
    });
  });

  test('a cancel from the manager that does not run the workflow stops its run in the other one', async () => {
    await withPair(async ({ runner, starter }) => {
      await starter.start('summer', 'c', 'c-name');
      await openIn(runner, 'c');
      await starter.cancel('c');
      await assert.rejects(runner.getResult('c'), (error: unknown) => isQuestError(error, 'WORKFLOW_CANCELLED'));
      await assert.rejects(starter.getResult('c'), (error: unknown) => isQuestError(error, 'WORKFLOW_CANCELLED'));
    });
  });
});
