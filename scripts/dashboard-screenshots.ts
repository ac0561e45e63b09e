/**
 * The dashboard's screenshots under docs/ (the README shows one): a server with a few workflows in various
 * states on SQLite, Debian's Chromium, and one PNG per main view, plus the list at phone width.
 *
 *   npm run screenshots:dashboard
 */
import { join } from 'node:path';
import { launchChromium, signIn, startDashboard, TOKENS } from '../test/dashboard/support.js';

const out = (name: string): string => join(import.meta.dirname, '..', 'docs', name);

const served = await startDashboard({ workflowCount: 24, pastWorkflows: 400 });
const browser = await launchChromium();
try {
  const { manager } = served;
  for (let n = 1; n <= 6; n++) await manager.start('gate', `order-${n}`, `order ${n}`);
  for (let n = 1; n <= 4; n++) await manager.event(`order-${n}`, 'go', null).set();
  for (let n = 1; n <= 6; n++) await manager.queue<number>('t1', 'items', null).put(n * 7);
  await manager.queue<number>('t3', 'items', null).put(-1);
  await manager.cancel('t4');
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await signIn(page, served.url, TOKENS.admin);
  await page.getByTestId('count-running').filter({ hasText: /^24$/ }).waitFor();
  await page.screenshot({ path: out('dashboard-list.png') });

  await page.goto(`${served.url}/ui/#/w/t1`);
  await page.getByTestId('view-total').filter({ hasText: '{"value":147}' }).waitFor();
  await page.locator('.timeline .gap').first().waitFor();
  await page.screenshot({ path: out('dashboard-workflow.png'), fullPage: true });

  await page.goto(`${served.url}/ui/#/insights`);
  await page.getByRole('img', { name: /Largest running histories/ }).waitFor();
  await page.screenshot({ path: out('dashboard-insights.png'), fullPage: true });

  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  await signIn(phone, served.url, TOKENS.admin);
  await phone.locator('table.workflows tbody tr').first().waitFor();
  await phone.screenshot({ path: out('dashboard-phone.png') });
  console.log('docs/dashboard-{list,workflow,insights,phone}.png written');
} finally {
  await browser.close();
  await served.close();
}
