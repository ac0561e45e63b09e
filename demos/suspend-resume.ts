/**
 * A durable workflow suspended mid-way and resumed by replay, in one process, on the in-memory history.
 * Run: npm run demo
 */
import { Historian, MemoryHistory, queue, step, isSuspension } from '../src/index.js';

const executed: string[] = [];

const greet = step('greet', async (name: string) => {
  executed.push(`greet ${name}`);
  return `Hello, ${name}!`;
});

/** Collect three words from outside, greeting each: each greeting is a recorded step. */
async function greeter(): Promise<string[]> {
  await using words = await queue<string>('words', null);
  const greetings: string[] = [];
  while (greetings.length < 3) greetings.push(await greet(await words.get()));
  return greetings;
}

const history = new MemoryHistory();
let historian = new Historian('greeter-1', greeter, history);
let result = historian.run();
result.catch((error: unknown) => {
  if (!isSuspension(error)) throw error;
  console.log('run 1: suspended');
});

await historian.waitForResource('words', null);
await historian.act('words', null, 'put', 'Ada');
await historian.act('words', null, 'put', 'Grace');
while (executed.length < 2) await new Promise((resolve) => setImmediate(resolve));
console.log(`run 1: executed ${JSON.stringify(executed)}; suspending with ${history.size} records in the history`);
await historian.suspend();

console.log('run 2: resuming by replay (no greeting runs twice)');
historian = new Historian('greeter-1', greeter, history);
result = historian.run();
await historian.waitForResource('words', null);
await historian.act('words', null, 'put', 'Barbara');
console.log('run 2: result', await result);
console.log(`steps executed across both runs: ${JSON.stringify(executed)}; history left: ${history.size} records`);
