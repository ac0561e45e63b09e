import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Historian, MemoryHistory, getVersion, isQuestError, queue, step, versioned } from '../../src/index.js';
import { replayHistory } from '../../src/testing/index.js';
import { fixtureWorkflows, type Fixture } from '../fixtures/workflows.js';
import { gate, outcome, suspend } from '../core/support.js';

const charge = step('charge', async (cents: number) => ({ cents, receipt: `r-${cents}` }));

async function checkoutV1(order: string): Promise<string> {
  await using approvals = await queue<boolean>('approval', null);
  if (!(await approvals.get())) return 'rejected';
  const receipt = await charge(500);
  await using shipping = await queue<string>('shipping', null);
  return `${order} ${receipt.receipt} ${await shipping.get()}`;
}

/** A stored history of checkoutV1, suspended while waiting for the shipping address. */
async function storedHistory(): Promise<unknown[]> {
  const history = new MemoryHistory();
  const historian = new Historian('order-1', checkoutV1, history);
  const run = outcome(historian.run('order-1'));
  await historian.waitForResource('approval', null);
  await historian.act('approval', null, 'put', true);
  await historian.waitForResource('shipping', null);
  await suspend(historian, run);
  // As a store or `quest history --json` hands it over: plain JSON.
  return JSON.parse(JSON.stringify(history.snapshot())) as unknown[];
}

test('replayHistory: the same code replays a stored history to its end, running nothing live', async () => {
  const records = await storedHistory();
  const report = await replayHistory(checkoutV1 as never, records, { args: ['order-1'] });
  assert.deepEqual({ ok: report.ok, outcome: report.outcome, records: report.records }, { ok: true, outcome: 'replayed', records: records.length });
});

test('replayHistory reports the first non-determinism of changed code, naming the record and the call', async () => {
  const records = await storedHistory();
  // A deploy that charges before asking for approval: the stored history took the approval first.
  const chargeFirst = async (order: string): Promise<string> => {
    const receipt = await charge(500);
    await using approvals = await queue<boolean>('approval', null);
    return (await approvals.get()) ? `${order} ${receipt.receipt}` : 'rejected';
  };
  const report = await replayHistory(chargeFirst as never, records, { args: ['order-1'], stallTimeoutMs: 100 });
  assert.equal(report.ok, false);
  assert.equal(report.outcome, 'diverged');
  assert.ok(isQuestError(report.error, 'NON_DETERMINISM'), `expected NonDeterminismError, got ${String(report.error)}`);
  assert.match((report.error as Error).message, /expected the open of queue main\/queue:approval/);
});

test('replayHistory accepts a change made behind a version, which is what versions are for', async () => {
  const records = await storedHistory();
  const checkoutV2 = versioned('2', async function checkout(order: string): Promise<string> {
    await using approvals = await queue<boolean>('approval', null);
    if (!(await approvals.get())) return 'rejected';
    const receipt = await charge(getVersion() < '2' ? 500 : 450);
    await using shipping = await queue<string>('shipping', null);
    return `${order} ${receipt.receipt} ${await shipping.get()}`;
  });
  const report = await replayHistory(checkoutV2 as never, records, { args: ['order-1'] });
  assert.equal(report.ok, true, String(report.error));
});

test('replayHistory does not run a step that had started and not ended; it lists it', async () => {
  const held = gate();
  let executions = 0;
  const slow = step('slow', async () => {
    executions++;
    await held.promise;
    return 'done';
  });
  const workflow = async () => slow();
  const history = new MemoryHistory();
  const historian = new Historian('slow', workflow, history);
  const run = outcome(historian.run());
  while (executions === 0) await new Promise((resolve) => setImmediate(resolve));
  await suspend(historian, run);
  const report = await replayHistory(workflow as never, history.snapshot());
  assert.deepEqual({ ok: report.ok, outcome: report.outcome, unfinishedSteps: report.unfinishedSteps }, { ok: true, outcome: 'replayed', unfinishedSteps: ['main/slow'] });
  assert.equal(executions, 1, 'the step body did not run again');
  held.open();
});

test('replayHistory checks the stored fixtures of every record format against the current code', async () => {
  const root = join(import.meta.dirname, '..', 'fixtures');
  const names = readdirSync(root).filter((folder) => folder.startsWith('format-')).flatMap((folder) => readdirSync(join(root, folder)).map((file) => `${folder}/${file}`));
  assert.ok(names.length >= 15, `fixtures found: ${names.join(', ')}`);
  for (const name of names) {
    const fixture = JSON.parse(readFileSync(join(root, name), 'utf8')) as Fixture;
    const report = await replayHistory(fixtureWorkflows[fixture.workflow] as never, fixture.records, { args: fixture.args });
    assert.equal(report.ok, true, `${name}: ${String(report.error)}`);
  }
});

test('replayHistory refuses a damaged record as a divergence', async () => {
  const report = await replayHistory((async () => 1) as never, [{ seq: 1 }]);
  assert.equal(report.outcome, 'diverged');
  assert.ok(isQuestError(report.error, 'CORRUPT_HISTORY'));
});
