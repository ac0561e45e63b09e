/** Test helpers: wait for conditions instead of sleeping. */
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Resolve once `condition()` is true, checking after each turn of the event loop; fail after `turns` turns
 * (a turn is cheap, so the bound is about detecting a hang, not about time).
 */
export async function untilSettled(condition: () => boolean, turns = 10_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (condition()) return;
    await nextTurn();
  }
  throw new Error('condition never became true');
}
