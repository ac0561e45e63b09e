/**
 * The workflows the benchmarks share: N trivial steps in a row (and the check of their result), and a workflow
 * that waits on its own queue; and a store filled with finished workflows.
 */
import { queue, step } from '../src/index.js';
import type { Store } from '../src/storage/store.js';

const trivial = step('trivial', async (i: number) => i);

/** A workflow that awaits `count` trivial steps in a loop; returns the sum of 0 … count - 1. */
export async function trivialSteps(count: number): Promise<number> {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += await trivial(i);
  return sum;
}

/** Throw unless `sum` is what trivialSteps(count) returns. */
export function checkSum(count: number, sum: number): void {
  if (sum !== (count * (count - 1)) / 2) throw new Error(`a steps workflow returned ${sum}`);
}

/** Waits on its own queue 'q' for numbers until it gets 0; returns their sum (the waiting workflow of bench/scale.ts). */
export async function queueWaiter(): Promise<number> {
  await using numbers = await queue<number>('q', null);
  let sum = 0;
  for (let n = await numbers.get(); n !== 0; n = await numbers.get()) sum += n;
  return sum;
}

/**
 * Store `count` finished workflows as the manager leaves them (ids `prefix` + n, one second apart up to now,
 * types 'gate' for every third and 'tally' otherwise), written concurrently (the store commits them in groups),
 * 10,000 at a time (a million promises at once would hold a million entries).
 */
export async function seedFinished(store: Store, count: number, prefix: string): Promise<void> {
  const base = Date.now() - count * 1000;
  for (let from = 0; from < count; from += 10_000) {
    await Promise.all(
      Array.from({ length: Math.min(10_000, count - from) }, (_, k) => {
        const n = from + k;
        return store.putWorkflow({ id: `${prefix}${n}`, type: n % 3 === 0 ? 'gate' : 'tally', args: [], state: 'completed', startedAt: base + n * 1000, finishedAt: base + n * 1000 + 500, result: n, deleteOnFinish: false });
      }),
    );
  }
}
