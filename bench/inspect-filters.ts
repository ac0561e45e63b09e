/**
 * The server's `workflows` call with the filters the store pages since the eleventh round (a search, the
 * suspended and damaged statuses), on SQLite with N finished workflows, against the same filter answered from the
 * whole list (what every such call did before; still what a call with an offset and no cursor does), in the same
 * run. Each call is made cold (the server's kept list and counts expired), from a Node client over a real socket;
 * besides its time, the longest the server's event loop was blocked meanwhile (every workflow of the manager
 * waits that long).
 *
 *   npm run bench:inspect-filters                          # 100,000 workflows, median of 5 calls each
 *   npm run bench:inspect-filters -- --workflows=1000000 --calls=3 --paged-only
 *
 * `--paged-only` leaves out the whole-list calls (at a million, each takes about 20 s and is kept 80 s after).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { QuestClient } from '../src/client/client.js';
import { WorkflowManager } from '../src/manager/workflow-manager.js';
import { bearerTokens } from '../src/server/auth.js';
import { QuestServer } from '../src/server/server.js';
import { SqliteStore } from '../src/storage/sqlite.js';
import type { InspectRequests } from '../src/protocol/inspect.js';

type WorkflowQuery = InspectRequests['workflows'];
import { formatDuration, formatInt, machineLoad, median, now, numberOption, scratchDirectory } from './harness.js';
import { seedFinished } from './workloads.js';

const WORKFLOWS = numberOption('workflows', 100_000);
const CALLS = numberOption('calls', 5);
const TOKEN = 'bench-inspect-token';
const SUSPENDED = 3;
const PAGED_ONLY = process.argv.includes('--paged-only');

const dir = scratchDirectory('quest-bench-inspect-');
const store = await SqliteStore.open(join(dir, 'bench.sqlite'));
let seeded = now();
// Finished workflows, and a few running ones of a type the manager does not know (it holds them suspended).
await seedFinished(store, WORKFLOWS, 'order-');
const base = Date.now() - WORKFLOWS * 1000;
for (let n = 0; n < SUSPENDED; n++) {
  await store.putWorkflow({ id: `lost-${n}`, type: 'retired', args: [], state: 'running', startedAt: base + n * 7_000, deleteOnFinish: false });
}
seeded = now() - seeded;
// The warnings about the suspended ones' unknown type are expected here.
const manager = await WorkflowManager.open({ store, workflows: { tally: async () => 1 }, inboxPollMs: 0, logger: { warn: () => undefined } });
const server = new QuestServer(manager, { authenticate: bearerTokens({ [TOKEN]: { identity: 'root', roles: ['admin'] } }), store });
const { url } = await server.listen(0, '127.0.0.1');
const client = new QuestClient(url, { token: TOKEN });
console.log(`${formatInt(WORKFLOWS + SUSPENDED)} workflows on SQLite (seeded in ${formatDuration(seeded)}); ${machineLoad()}`);

let longest = 0;

/** One cold call: its time, and the event loop's longest block meanwhile (ms: a 1 ms interval's longest gap). */
async function timed(query: WorkflowQuery): Promise<{ ms: number; blocked: number; total: number }> {
  // The kept list and counts expire after 1 s, or 4 times what they took to read.
  await new Promise((resolve) => setTimeout(resolve, 1000 + 4 * longest));
  let blocked = 0;
  let tick = now();
  const ticker = setInterval(() => {
    blocked = Math.max(blocked, now() - tick);
    tick = now();
  }, 1);
  const started = now();
  const answer = await client.workflows(query);
  const ms = now() - started;
  clearInterval(ticker);
  blocked = Math.max(blocked, now() - tick);
  longest = Math.max(longest, ms);
  return { ms, blocked, total: answer.total };
}

const filters: Array<[string, WorkflowQuery]> = [
  ['a search that finds nothing', { search: 'nobody' }],
  ['a search that finds one old workflow', { search: `order-${Math.floor(WORKFLOWS / 7)}` }],
  ['a search that finds every workflow', { search: 'order-' }],
  [`status suspended (${SUSPENDED} held)`, { status: 'suspended' }],
  ['status damaged (none)', { status: 'damaged' }],
];

try {
  for (const [what, filter] of filters) {
    const paged: Awaited<ReturnType<typeof timed>>[] = [];
    const whole: Awaited<ReturnType<typeof timed>>[] = [];
    for (let n = 0; n < CALLS; n++) {
      paged.push(await timed({ ...filter, limit: 50 }));
      // An offset without a cursor is answered from the whole list, as every such filter was before.
      if (!PAGED_ONLY) whole.push(await timed({ ...filter, limit: 50, offset: 1 }));
    }
    const row = (calls: typeof paged): string =>
      `${formatDuration(median(calls.map((c) => c.ms))).padStart(8)} (event loop blocked up to ${formatDuration(median(calls.map((c) => c.blocked)))})`;
    console.log(`${what.padEnd(40)} total ${formatInt(paged[0]!.total).padStart(9)}: paged ${row(paged)}${PAGED_ONLY ? '' : `; whole list ${row(whole)}`}`);
  }
  console.log(machineLoad());
} finally {
  await server.close();
  await manager.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
