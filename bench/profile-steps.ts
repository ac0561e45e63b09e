/**
 * The sequential-step hot path alone, for profiling: a workflow awaits N trivial steps in a loop, repeated.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/quest-prof --import tsx bench/profile-steps.ts [--n=10000] [--repeat=30]
 *   npx tsx bench/cpuprofile-summary.ts /tmp/quest-prof/<file>.cpuprofile
 *
 *   npx tsx bench/profile-steps.ts --promises     promises (and other async resources) created per step
 *   npx tsx bench/profile-steps.ts --baseline     the same loop without Quest (plain async function calls),
 *                                                 with and without an AsyncLocalStorage in use, for scale
 *   ... --null-history                            a history that keeps nothing: the engine's own cost, without
 *                                                 the storage's (and without the garbage of kept records)
 */
import { AsyncLocalStorage, createHook } from 'node:async_hooks';
import { Historian, MemoryHistory, step } from '../src/index.js';
import type { History, HistoryRecord } from '../src/index.js';
import { formatInt, formatRate, now } from './harness.js';

function option(name: string, fallback: number): number {
  const found = process.argv.find((arg) => arg.startsWith(`--${name}=`));
  return found === undefined ? fallback : Number(found.slice(name.length + 3));
}

const n = option('n', 10_000);
const repeat = option('repeat', 30);

const trivial = step('trivial', async (i: number) => i);

async function workflow(count: number): Promise<number> {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += await trivial(i);
  return sum;
}

/** Keeps nothing (the workflow never resumes): isolates the engine from the storage. */
class NullHistory implements History {
  load(): Promise<readonly HistoryRecord[]> {
    return Promise.resolve([]);
  }
  commit(): void {}
  clear(): void {}
}

const nullHistory = process.argv.includes('--null-history');

async function questRun(count: number): Promise<number> {
  const historian = new Historian('profile', workflow, nullHistory ? new NullHistory() : new MemoryHistory());
  const start = now();
  await historian.run(count);
  return now() - start;
}

async function plainLoop(count: number): Promise<number> {
  const body = async (i: number): Promise<number> => i;
  const start = now();
  let sum = 0;
  for (let i = 0; i < count; i++) sum += await body(i);
  if (sum < 0) throw new Error('unreachable');
  return now() - start;
}

async function countPromises(): Promise<void> {
  await questRun(1_000); // warm up (and make Quest's AsyncLocalStorage install its hooks)
  const counts = new Map<string, number>();
  const hook = createHook({
    init(_id, type) {
      counts.set(type, (counts.get(type) ?? 0) + 1);
    },
  });
  hook.enable();
  await questRun(n);
  hook.disable();
  const rows = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  console.log(`async resources created while running ${formatInt(n)} steps (per step):`);
  for (const [type, count] of rows) console.log(`  ${type.padEnd(16)} ${(count / n).toFixed(2)}`);
}

async function baseline(): Promise<void> {
  for (let i = 0; i < 3; i++) await plainLoop(n);
  const without = await plainLoop(n * 10);
  const storage = new AsyncLocalStorage<number>();
  const withStorage = await storage.run(1, () => plainLoop(n * 10));
  console.log(`plain async loop, ${formatInt(n * 10)} awaits of an async function:`);
  console.log(`  no AsyncLocalStorage in use: ${formatRate((n * 10 * 1000) / without)}/s (${((without * 1000) / (n * 10)).toFixed(3)} µs each)`);
  console.log(`  inside AsyncLocalStorage.run: ${formatRate((n * 10 * 1000) / withStorage)}/s (${((withStorage * 1000) / (n * 10)).toFixed(3)} µs each)`);
}

async function main(): Promise<void> {
  if (process.argv.includes('--promises')) return countPromises();
  if (process.argv.includes('--baseline')) return baseline();
  let total = 0;
  // CPU time too: on a shared machine it is less disturbed by other processes than wall time.
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < repeat; i++) total += await questRun(n);
  const cpu = process.cpuUsage(cpuBefore);
  console.log(`${nullHistory ? '[null history] ' : ''}${formatInt(n * repeat)} steps in ${repeat} runs of ${formatInt(n)}: ${formatRate((n * repeat * 1000) / total)} steps/s, ` +
    `${((total * 1000) / (n * repeat)).toFixed(2)} µs/step wall, ${((cpu.user + cpu.system) / (n * repeat)).toFixed(2)} µs/step CPU`);
}

await main();
