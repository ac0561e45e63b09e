/**
 * Workflows shared by the restart tests and the child process they kill (crash-child.ts). Step executions
 * are appended to a log file, so that they can be counted across processes.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { WorkflowManager, event, registerError, step } from '../../src/index.js';
import type { Store } from '../../src/storage/store.js';

/** The workflow types, logging step executions to `log`. */
export function orderWorkflows(log: string) {
  const note = (what: string): void => appendFileSync(log, `${what}\n`);
  const reserve = step('reserve', async (item: string) => {
    note('reserve');
    return `reserved ${item}`;
  });
  const ship = step('ship', async (reservation: string) => {
    note('ship');
    return `${reservation}, shipped`;
  });
  return {
    order: async (item: string): Promise<string> => {
      const reservation = await reserve(item);
      await using go = await event('go', null);
      await go.wait();
      return await ship(reservation);
    },
  };
}

/** How many times each step ran, by name. */
export function executions(log: string): Record<string, number> {
  const counts: Record<string, number> = {};
  if (!existsSync(log)) return counts;
  for (const line of readFileSync(log, 'utf8').split('\n')) if (line !== '') counts[line] = (counts[line] ?? 0) + 1;
  return counts;
}

/** The failure the `decline` workflow throws (registered: it comes back from a stored result as itself). */
export class Declined extends Error {
  override name = 'Declined';
}
registerError(Declined);

/** Workflows that count their step executions in `runs`. */
export function countingWorkflows(runs: Record<string, number>) {
  const counted = (name: string) =>
    step(name, async (value: number) => {
      runs[name] = (runs[name] ?? 0) + 1;
      return value + 1;
    });
  const first = counted('first');
  const second = counted('second');
  return {
    twoSteps: async (start: number): Promise<number> => {
      const middle = await first(start);
      await using go = await event('go', null);
      await go.wait();
      return await second(middle);
    },
    double: async (n: number): Promise<number> => n * 2,
    decline: async (reason: string): Promise<never> => {
      throw new Declined(reason);
    },
  };
}

/**
 * A store's life under a manager: one workflow finishes and one waits; after close and a reopen through
 * `open`, the finished one keeps its result and the waiting one resumes by replay, its completed step not run
 * again.
 */
export async function checkResumeAfterReopen(open: () => Promise<Store>): Promise<void> {
  const runs: Record<string, number> = {};
  const workflows = countingWorkflows(runs);
  const before = await WorkflowManager.open({ store: await open(), workflows, inboxPollMs: 0 });
  await before.start('double', 'd1', 21);
  await before.start('twoSteps', 't1', 1);
  assert.equal(await before.getResult('d1'), 42);
  await before.waitForResource('t1', 'go', null);
  await before.close();
  assert.deepEqual(runs, { first: 1 });

  const after = await WorkflowManager.open({ store: await open(), workflows, inboxPollMs: 0 });
  try {
    assert.equal(await after.getResult('d1'), 42);
    assert.deepEqual((await after.list()).map(({ id, status }) => [id, status]), [['d1', 'completed'], ['t1', 'running']]);
    await after.event('t1', 'go', null).set();
    assert.equal(await after.getResult('t1'), 3);
    assert.deepEqual(runs, { first: 1, second: 1 }, 'the completed step was replayed, not run again');
  } finally {
    await after.close();
  }
}
