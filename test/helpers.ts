/** Test helpers: wait for conditions instead of sleeping; a fresh temporary directory. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Resolve once `condition()` is true, checking after each turn of the event loop; fail after `turns` turns
 * (a turn is cheap, so the bound is about detecting a hang, not about time).
 */
export async function untilSettled(condition: () => boolean | Promise<boolean>, turns = 10_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (await condition()) return;
    await nextTurn();
  }
  throw new Error('condition never became true');
}

/** mulberry32: a small seeded generator, so that a failing randomized run can be repeated from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Run `body` in a fresh temporary directory, removed afterwards. */
export async function inTempDir<T>(body: (directory: string) => Promise<T>): Promise<T> {
  const directory = await mkdtemp(join(tmpdir(), 'quest-test-'));
  try {
    return await body(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
