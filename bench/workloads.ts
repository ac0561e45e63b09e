/** The workflows the store benchmarks share: N trivial steps in a row, and the check of their result. */
import { step } from '../src/index.js';

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
