/**
 * Workflows shared by the restart tests and the child process they kill (crash-child.ts). Step executions
 * are appended to a log file, so that they can be counted across processes.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { event, registerError, step } from '../../src/index.js';

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
