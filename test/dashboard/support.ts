/**
 * Helpers of the dashboard tests: the page built from sources into a temporary directory (the same
 * buildDashboard() that `npm run build` runs), a real server on SQLite with tokens, and Debian's Chromium
 * driven by playwright-core (never a downloaded browser).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { done, loop, queue, state, step, versioned, event } from '../../src/index.js';
import { buildDashboard } from '../../src/dashboard/build.js';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { bearerTokens } from '../../src/server/auth.js';
import { QuestServer } from '../../src/server/server.js';
import { SqliteStore } from '../../src/storage/sqlite.js';

/** Where Debian's chromium package puts the browser (.ci/run installs it when missing). */
export const CHROMIUM = '/usr/bin/chromium';

/** The flags of DEVELOPERS.md: headless, no sandbox (containers), nothing fetched in the background. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** Tokens of the dashboard tests. */
export const TOKENS = { admin: 'admin-token-dashboard', ann: 'ann-token-dashboard' } as const;

/** Workflows that give the dashboard something to show: a loop that forgets, versions, public and private resources. */
export const workflows = {
  /** Adds the numbers put on `items` (a negative one ends it); each iteration's step is forgotten. */
  tally: versioned('2', async function tally(): Promise<number> {
    await using items = await queue<number>('items', null);
    await using total = await state('total', null, 0);
    await using _note = await queue<string>('note', 'ann');
    return await loop('add', 0, async (sum) => {
      const n = await items.get();
      if (n < 0) return done(sum);
      const next = await step('add', async (a: number, b: number) => a + b)(sum, n);
      await total.set(next);
      return next;
    });
  }),
  /** Waits for `go`, then completes. */
  gate: async (label: string): Promise<string> => {
    await using go = await event('go', null);
    await go.wait();
    return `${label} passed`;
  },
};

/** A manager on a SQLite file, serving the dashboard built from sources. */
export async function startDashboard(options: { workflowCount?: number; pastWorkflows?: number; maxResident?: number } = {}): Promise<{
  url: string;
  manager: WorkflowManager<typeof workflows>;
  server: QuestServer;
  close(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'quest-dashboard-'));
  const ui = join(dir, 'ui');
  await buildDashboard(ui, { minify: false });
  const store = await SqliteStore.open(join(dir, 'app.sqlite'));
  // Finished workflows of the past two days, written as the manager would have left them (for the plots).
  for (let n = 0; n < (options.pastWorkflows ?? 0); n++) {
    const startedAt = Date.now() - 48 * 3600_000 + Math.floor(((n * 7919) % 1000) * 47 * 3.6) * 1000;
    await store.putWorkflow({ id: `past-${n}`, type: 'gate', args: ['past'], state: n % 9 === 0 ? 'failed' : 'completed', startedAt, finishedAt: startedAt + 60_000 * (1 + (n % 30)), result: 'past passed', deleteOnFinish: false });
  }
  const manager = await WorkflowManager.open({ store, workflows, inboxPollMs: 0, ...(options.maxResident === undefined ? {} : { maxResident: options.maxResident }) });
  for (let n = 1; n <= (options.workflowCount ?? 0); n++) await manager.start('tally', `t${n}`);
  const server = new QuestServer(manager, {
    authenticate: bearerTokens({ [TOKENS.admin]: { identity: 'root', roles: ['admin'] }, [TOKENS.ann]: { identity: 'ann' } }),
    store,
    dashboard: ui,
  });
  const { url } = await server.listen(0, '127.0.0.1');
  return {
    url,
    manager,
    server,
    close: async () => {
      await server.close();
      await manager.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Collect the page's console errors and uncaught exceptions (a test fails on any). Chromium also logs every
 * HTTP answer with a 4xx status as "Failed to load resource": those are the server's named refusals the
 * tests provoke on purpose (and check on screen), so they are left out; a 5xx is not.
 */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) return;
    errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  return errors;
}

/** Sign in on a fresh page of the dashboard. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/ui/`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Signed in as').waitFor();
}

/** Load the dashboard afresh at `hash` (the tab keeps its sign-in: sessionStorage survives navigation). */
export async function openView(page: Page, url: string, hash: string): Promise<void> {
  await page.goto('about:blank');
  await page.goto(`${url}/ui/${hash}`);
}
