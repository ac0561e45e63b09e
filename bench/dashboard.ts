/**
 * The dashboard in Chromium (Debian's, through playwright-core, as the tests drive it), on a SQLite store:
 * - time to first render of the workflow list with 10,000 workflows (navigation start to the first page of
 *   rows on screen), against the `workflows` call alone from Node (the protocol's share of it);
 * - time from an outside `act` (a queue put through the manager) to the change on screen (the stream's
 *   snapshot rendered), against the same change reaching a Node QuestClient's resource stream.
 * Aims: under 1 s and under 100 ms.
 *
 *   npm run bench:dashboard                 # 10,000 workflows, 9 page loads, 30 acts
 *   npm run bench:dashboard -- --workflows=100000 --loads=5
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { QuestClient } from '../src/client/client.js';
import { buildDashboard } from '../src/dashboard/build.js';
import { WorkflowManager } from '../src/manager/workflow-manager.js';
import { bearerTokens } from '../src/server/auth.js';
import { QuestServer } from '../src/server/server.js';
import { SqliteStore } from '../src/storage/sqlite.js';
import { launchChromium, workflows } from '../test/dashboard/support.js';
import { formatDuration, formatInt, machineLoad, median, now, numberOption, scratchDirectory } from './harness.js';
import { seedFinished } from './workloads.js';

const WORKFLOWS = numberOption('workflows', 10_000);
const LOADS = numberOption('loads', 9);
const ACTS = numberOption('acts', 30);
const TOKEN = 'bench-dashboard-token';

function p95(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] ?? NaN;
}

const dir = scratchDirectory('quest-bench-dashboard-');
const ui = join(dir, 'ui');
await buildDashboard(ui);
const store = await SqliteStore.open(join(dir, 'bench.sqlite'));
let seeded = now();
await seedFinished(store, WORKFLOWS, 'w');
seeded = now() - seeded;
const manager = await WorkflowManager.open({ store, workflows, inboxPollMs: 0 });
await manager.start('tally', 'live');
const server = new QuestServer(manager, { authenticate: bearerTokens({ [TOKEN]: { identity: 'root', roles: ['admin'] } }), store, dashboard: ui });
const { url } = await server.listen(0, '127.0.0.1');
const browser = await launchChromium();
console.log(`${formatInt(WORKFLOWS + 1)} workflows on SQLite (seeded in ${formatDuration(seeded)}); ${machineLoad()}`);

try {
  // The protocol's share: the `workflows` call for the first page, from Node (each after the kept list and counts
  // expired); on SQLite a paged read (the page, and the counts from one GROUP BY). Then the next page by the
  // answer's cursor, and a filtered page by offset (which reads the whole list, kept from then on).
  const client = new QuestClient(url, { token: TOKEN });
  const calls: number[] = [];
  const cursored: number[] = [];
  const warm: number[] = [];
  for (let n = 0; n < LOADS; n++) {
    await new Promise((resolve) => setTimeout(resolve, 1000 + 4 * Math.max(calls.at(-1) ?? 0, warm.at(-1) ?? 0)));
    let started = now();
    const first = await client.workflows({ limit: 50 });
    calls.push(now() - started);
    started = now();
    await client.workflows({ limit: 50, offset: 50, ...(first.next === undefined ? {} : { after: first.next }) });
    cursored.push(now() - started);
    started = now();
    await client.workflows({ limit: 50, offset: 50, type: 'tally' });
    warm.push(now() - started);
  }

  // First render of the list: a fresh tab (token already in its sessionStorage) until 50 rows show.
  const context = await browser.newContext();
  await context.addInitScript(`sessionStorage.setItem('quest.dashboard.token', ${JSON.stringify(TOKEN)})`);
  const renders: number[] = [];
  for (let n = 0; n < LOADS; n++) {
    // Cold: the server's kept list and counts have expired (the counts are read again; the list, if read whole).
    await new Promise((resolve) => setTimeout(resolve, 1000 + 4 * Math.max(median(calls), median(warm))));
    const page = await context.newPage();
    await page.goto(`${url}/ui/#/`, { waitUntil: 'commit' });
    await page.locator('table.workflows tbody tr:nth-child(50)').waitFor();
    renders.push(await page.evaluate(() => performance.now()));
    await page.close();
  }

  // An outside act to the change on screen: the page stamps Date.now() when the state's view shows the value.
  const page = await context.newPage();
  await page.goto(`${url}/ui/#/w/live`);
  await page.getByTestId('view-total').waitFor();
  const stream = client.resourceStream('live');
  const acts: number[] = [];
  const streamed: number[] = [];
  let total = 0;
  for (let n = 1; n <= ACTS; n++) {
    total += n;
    const expected = `{"value":${total}}`;
    // A string, not a function: tsx would wrap named functions in a helper the page does not have.
    const shown = page.evaluate<number>(`new Promise((resolve) => {
      const observer = new MutationObserver(() => {
        if (document.querySelector('[data-testid="view-total"]')?.textContent === ${JSON.stringify(expected)}) {
          observer.disconnect();
          resolve(Date.now());
        }
      });
      observer.observe(document.body, { subtree: true, childList: true, characterData: true });
    })`);
    await page.evaluate('new Promise((resolve) => requestAnimationFrame(resolve))'); // the observer is in place
    const sent = Date.now();
    await manager.queue<number>('live', 'items', null).put(n);
    for (;;) {
      const next = await stream.next();
      if (next.done === true) throw new Error('the stream ended');
      if (JSON.stringify(next.value.resources.find((r) => r.name === 'total')?.view) === expected) break;
    }
    streamed.push(Date.now() - sent);
    acts.push((await shown) - sent);
  }
  await stream.return();

  console.log(`list, first render in Chromium (${LOADS} fresh tabs, server list not kept): median ${formatDuration(median(renders))}, max ${formatDuration(Math.max(...renders))}  [aim < 1 s]`);
  console.log(`  reference: the \`workflows\` call alone from Node: median ${formatDuration(median(calls))} for the first page, ${formatDuration(median(cursored))} for the next by its cursor, ${formatDuration(median(warm))} for a filtered page by offset (the whole list, read then kept)`);
  console.log(`outside act to the change on screen (${ACTS} puts): median ${formatDuration(median(acts))}, p95 ${formatDuration(p95(acts))}  [aim < 100 ms]`);
  console.log(`  reference: the same change on a Node QuestClient stream: median ${formatDuration(median(streamed))}, p95 ${formatDuration(p95(streamed))}`);
  console.log(machineLoad());
} finally {
  await browser.close();
  await server.close();
  await manager.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
