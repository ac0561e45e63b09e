/**
 * The dashboard says in words which running workflows the server has evicted from memory while idle
 * (ManagerOptions.maxResident): "running · evicted, resumes on demand". Real Chromium through playwright-core.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { untilSettled } from '../helpers.js';
import { launchChromium, openView, signIn, startDashboard, TOKENS, watchErrors } from './support.js';

let served: Awaited<ReturnType<typeof startDashboard>>;
let browser: Browser;
let page: Page;
let errors: string[];

before(async () => {
  [served, browser] = await Promise.all([startDashboard({ maxResident: 1 }), launchChromium()]);
  page = await (await browser.newContext()).newPage();
  errors = watchErrors(page);
  await signIn(page, served.url, TOKENS.admin);
});
after(async () => {
  await browser?.close();
  await served?.close();
});

test('the list shows a running workflow evicted from memory as "running · evicted, resumes on demand", and a resident one as running only', async () => {
  for (const id of ['g1', 'g2']) await served.manager.start('gate', id, id);
  await untilSettled(async () => (await served.manager.list()).some((info) => info.resident === false));
  const cold = (await served.manager.list()).find((info) => info.resident === false)?.id as string;
  const warm = cold === 'g1' ? 'g2' : 'g1';

  await openView(page, served.url, '#/');
  const coldRow = page.locator(`table.workflows tr[data-id="${cold}"]`);
  await coldRow.getByTestId('residency').waitFor();
  assert.equal((await coldRow.locator('td').nth(2).textContent())?.trim(), 'running · evicted, resumes on demand');
  const warmRow = page.locator(`table.workflows tr[data-id="${warm}"]`);
  assert.equal((await warmRow.locator('td').nth(2).textContent())?.trim(), 'running');
  assert.deepEqual(errors.splice(0), [], 'the page logged errors');
});

test("opening an evicted workflow's view resumes it (its resource stream keeps it in memory): the view shows it running, its resources live", async () => {
  // With maxResident 1, g3 goes once another workflow (g4) is more recently active.
  for (const id of ['g3', 'g4']) await served.manager.start('gate', id, id);
  await untilSettled(async () => (await served.manager.list()).find((info) => info.id === 'g3')?.resident === false);
  // From the list, as a user would come (the server's kept list then has g3: the view reads its facts there).
  await openView(page, served.url, '#/');
  await page.locator('table.workflows tr[data-id="g3"]').getByTestId('residency').waitFor();
  await page.getByRole('link', { name: 'g3', exact: true }).click();
  await page.locator('li[data-resource="go"]').waitFor();
  await page.getByTestId('state').filter({ hasText: 'running' }).waitFor();
  await page.getByTestId('residency').waitFor({ state: 'detached' });
  assert.notEqual((await served.manager.list()).find((info) => info.id === 'g3')?.resident, false, 'the stream keeps it resident');
  assert.deepEqual(errors.splice(0), [], 'the page logged errors');
});
