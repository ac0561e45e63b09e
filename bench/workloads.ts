/**
 * The workflows the benchmarks share: N trivial steps in a row (and the check of their result), and a workflow
 * that waits on its own queue.
 */
import { queue, step } from '../src/index.js';

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
