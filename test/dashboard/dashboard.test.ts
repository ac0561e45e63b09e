/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core): sign in, the list, one
 * workflow with its live resources and history, acting through the form, cancel and delete, and what a
 * non-admin may not do. One browser for the file; any console error fails the test that caused it.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, openView, signIn, startDashboard, TOKENS, watchErrors } from './support.js';

describe('the dashboard in Chromium', () => {
  let served: Awaited<ReturnType<typeof startDashboard>>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];

  before(async () => {
    [served, browser] = await Promise.all([startDashboard({ workflowCount: 60 }), launchChromium()]);
    await served.manager.start('gate', 'g1', 'first');
    context = await browser.newContext();
    page = await context.newPage();
    errors = watchErrors(page);
    await signIn(page, served.url, TOKENS.admin);
  });
  after(async () => {
    await browser?.close();
    await served?.close();
  });
  afterEach(() => {
    assert.deepEqual(errors.splice(0), [], 'the page logged errors');
  });

  test('the list shows counts by state, pages server-side, filters by type and searches by id', async () => {
    await openView(page, served.url, '#/');
    await page.getByTestId('count-running').filter({ hasText: '61' }).waitFor();
    assert.equal(await page.getByTestId('page-range').textContent(), '1–50 of 61');
    assert.equal(await page.locator('table.workflows tbody tr').count(), 50);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByTestId('page-range').filter({ hasText: '51–61 of 61' }).waitFor();
    await page.getByLabel('Type').selectOption('gate');
    await page.getByTestId('page-range').filter({ hasText: '1–1 of 1' }).waitFor();
    assert.equal(await page.locator('table.workflows tbody tr').first().getAttribute('data-id'), 'g1');
    await page.getByLabel('Type').selectOption('');
    await page.getByLabel('Search by id').fill('t6');
    await page.getByTestId('page-range').filter({ hasText: '1–2 of 2' }).waitFor(); // t6 and t60
  });

  test('the list pages by the server\'s cursor: the next page stays put while a workflow starts, Previous goes back', async () => {
    await openView(page, served.url, '#/');
    await page.getByTestId('page-range').filter({ hasText: '1–50 of 61' }).waitFor();
    const rows = (): Promise<(string | null)[]> => page.locator('table.workflows tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id')));
    const paged = page.waitForRequest((request) => request.url().endsWith('/v1/workflows') && (request.postData() ?? '').includes('"after"'));
    await page.getByRole('button', { name: 'Next' }).click();
    await paged;
    await page.getByTestId('page-range').filter({ hasText: '51–61 of 61' }).waitFor();
    const second = await rows();
    await served.manager.start('gate', 'late', 'new');
    // The counts take it in at the next poll; the page after the cursor does not move.
    await page.getByTestId('count-running').filter({ hasText: '62' }).waitFor();
    await page.getByTestId('page-range').filter({ hasText: '51–61 of 62' }).waitFor();
    assert.deepEqual(await rows(), second);
    await page.getByRole('button', { name: 'Previous' }).click();
    await page.getByTestId('page-range').filter({ hasText: '1–50 of 62' }).waitFor();
    await page.locator('table.workflows tbody tr[data-id="late"]').waitFor();
    assert.equal((await rows())[0], 'late');
    await served.manager.cancel('late');
  });

  test('the list updates live when a workflow finishes elsewhere', async () => {
    await openView(page, served.url, '#/');
    await page.getByTestId('count-completed').filter({ hasText: /^0$/ }).waitFor();
    await served.manager.event('g1', 'go', null).set();
    await page.getByTestId('count-completed').filter({ hasText: /^1$/ }).waitFor();
  });

  test('a workflow: sending through the form updates its resources and its history live, with forgotten records as gaps', async () => {
    await openView(page, served.url, '#/');
    await page.getByLabel('Search by id').fill('t1');
    await page.getByRole('link', { name: 't1', exact: true }).click();
    const items = page.locator('li[data-resource="items"]');
    await items.waitFor();
    await page.getByTestId('history-summary').waitFor();
    assert.match(await page.locator('.versions').textContent() ?? '', /tally: \(global\) = "2"/);
    for (const n of [5, 7]) {
      await items.getByLabel('Action').selectOption('put');
      await items.getByLabel('Value').fill(String(n));
      await items.getByRole('button', { name: 'Send' }).click();
      await items.getByRole('status').filter({ hasText: 'put → done' }).waitFor();
    }
    await page.getByTestId('view-total').filter({ hasText: '{"value":12}' }).waitFor();
    await page.locator('.timeline .type-checkpoint').filter({ hasText: 'after iteration 2' }).waitFor();
    await page.locator('.timeline .gap').filter({ hasText: /records? forgotten/ }).first().waitFor();
    // An action from outside the page shows too (the stream, not a reload).
    await served.manager.queue<number>('t1', 'items', null).put(30);
    await page.getByTestId('view-total').filter({ hasText: '{"value":42}' }).waitFor();
    // The admin sees only what its identity may see: ann's private queue is not there.
    assert.equal(await page.locator('li[data-resource="note"]').count(), 0);
  });

  test('the server\'s named errors are shown in words', async () => {
    await openView(page, served.url, '#/w/g1');
    await page.getByTestId('outcome').filter({ hasText: 'first passed' }).waitFor();
    await openView(page, served.url, '#/w/no-such-workflow');
    await page.getByRole('alert').filter({ hasText: 'WorkflowNotFoundError (WORKFLOW_NOT_FOUND)' }).first().waitFor();
  });

  test('cancel, then delete after confirming', async () => {
    await openView(page, served.url, '#/w/t2');
    await page.locator('li[data-resource="items"]').waitFor();
    await page.getByRole('button', { name: 'Cancel workflow' }).click();
    await page.getByTestId('outcome').filter({ hasText: 'WORKFLOW_CANCELLED' }).waitFor();
    await page.getByTestId('state').filter({ hasText: 'cancelled' }).waitFor();
    // By keyboard: the question focuses the safe choice, keeping it returns to the button.
    const focusOn = (text: string): Promise<unknown> => page.waitForFunction(`document.activeElement?.textContent === ${JSON.stringify(text)}`);
    await page.getByRole('button', { name: 'Delete workflow…' }).click();
    await focusOn('Keep it');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Delete workflow…' }).waitFor();
    await focusOn('Delete workflow…');
    assert.equal(await served.manager.has('t2'), true);
    await page.keyboard.press('Enter');
    await page.keyboard.press('Shift+Tab');
    await focusOn('Yes, delete');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Workflows' }).waitFor();
    assert.equal(await served.manager.has('t2'), false);
  });

  test('a non-admin sees no list, no history and no admin actions, and the server refuses them', async () => {
    const other = await browser.newPage();
    const otherErrors = watchErrors(other);
    try {
      await signIn(other, served.url, TOKENS.ann);
      await other.getByText('Listing workflows needs the admin role').waitFor();
      await other.getByLabel('Workflow id or alias').fill('t3');
      await other.getByRole('button', { name: 'Open' }).click();
      await other.locator('li[data-resource="note"]').waitFor(); // ann's own private queue
      assert.equal(await other.getByRole('button', { name: 'Cancel workflow' }).count(), 0);
      assert.equal(await other.getByRole('button', { name: 'Delete workflow…' }).count(), 0);
      assert.equal(await other.locator('.history').count(), 0);
      assert.equal(await other.getByRole('link', { name: 'Insights' }).count(), 0);
      const refused = await other.evaluate(async (token) => {
        const response = await fetch('/v1/cancel', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ id: 't3' }) });
        return { status: response.status, body: (await response.json()) as { error: { fields: { code: string } } } };
      }, TOKENS.ann);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.fields.code, 'FORBIDDEN');
      assert.equal(await served.manager.has('t3'), true);
      assert.deepEqual(otherErrors, []);
    } finally {
      await other.close();
    }
  });

  test('a wrong token is refused at sign-in with the server\'s error', async () => {
    const other = await browser.newPage();
    try {
      await other.goto(`${served.url}/ui/`);
      await other.getByLabel('Token').fill('not-a-valid-token');
      await other.getByRole('button', { name: 'Sign in' }).click();
      await other.getByRole('alert').filter({ hasText: 'UnauthenticatedError (UNAUTHENTICATED)' }).waitFor();
    } finally {
      await other.close();
    }
  });

  test('insights show the versions live histories replay and the plots', async () => {
    await openView(page, served.url, '#/insights');
    await page.getByRole('cell', { name: 'tally' }).waitFor();
    await page.getByRole('img', { name: /Workflows started: \d+ in all/ }).waitFor();
    await page.getByRole('img', { name: /Largest running histories/ }).waitFor();
  });
});
