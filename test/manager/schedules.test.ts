import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowManager, nextFiring, schedule, scheduleId, step, unschedule } from '../../src/index.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { VirtualClock } from '../../src/testing/index.js';
import { untilSettled } from '../helpers.js';

const directory = mkdtempSync(join(tmpdir(), 'quest-schedules-'));
after(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;
const fresh = (): string => join(directory, `schedules-${++files}.sqlite`);

const START = Date.UTC(2027, 0, 1, 0, 0, 0);
const HOUR = 3600_000;

function reportWorkflows(runs: string[]) {
  const note = step('note', async (label: string, at: string) => {
    runs.push(`${label}@${at}`);
  });
  return {
    async report(label: string): Promise<string> {
      await note(label, new Date(START).toISOString());
      return label;
    },
  };
}

/** Ids of the workflows the schedule started so far, sorted. */
async function firings(manager: WorkflowManager<never>, name: string): Promise<string[]> {
  return (await manager.list()).map(({ id }) => id).filter((id) => id.startsWith(`${name}@`)).sort();
}

test('nextFiring follows a cron expression in its time zone, or a fixed interval', () => {
  assert.equal(nextFiring({ cron: '0 3 * * *', type: 't' }, START), Date.UTC(2027, 0, 1, 3));
  assert.equal(nextFiring({ cron: '0 3 * * *', timezone: 'Europe/Paris', type: 't' }, START), Date.UTC(2027, 0, 1, 2));
  assert.equal(nextFiring({ everyMs: 90_000, type: 't' }, START), START + 90_000);
});

test('a cron schedule starts one workflow per firing; a restart neither skips nor doubles a firing', async (t) => {
  const clock = new VirtualClock({ start: START });
  t.after(clock.install());
  const database = fresh();
  const runs: string[] = [];
  const workflows = reportWorkflows(runs);
  const first = await WorkflowManager.open({ store: new SqliteStore(database), workflows });
  assert.equal(await schedule(first, 'hourly', { cron: '0 * * * *', type: 'report', args: ['hourly'] }), 'schedule:hourly');
  // Scheduling again (an application does at every start) changes nothing.
  await schedule(first, 'hourly', { cron: '0 * * * *', type: 'report', args: ['hourly'] });
  await untilSettled(() => clock.pending > 0);
  await clock.advance(HOUR);
  await untilSettled(async () => (await firings(first as never, 'hourly')).length === 1);
  await untilSettled(() => clock.nextAt === START + 2 * HOUR);
  await first.close();

  // Three firing times pass while no process runs the schedule: the next manager starts each, once.
  await clock.advance(3 * HOUR);
  const second = await WorkflowManager.open({ store: new SqliteStore(database), workflows });
  await untilSettled(async () => (await firings(second as never, 'hourly')).length === 4);
  await untilSettled(() => clock.nextAt === START + 5 * HOUR);
  assert.deepEqual(await firings(second as never, 'hourly'), [1, 2, 3, 4].map((h) => `hourly@${new Date(START + h * HOUR).toISOString()}`));
  for (const id of await firings(second as never, 'hourly')) assert.equal(await second.getResult(id), 'hourly');
  assert.equal(runs.length, 4, 'each firing ran once');
  assert.deepEqual((await second.list()).filter(({ id }) => id === scheduleId('hourly')).map(({ status }) => status), ['running']);

  await unschedule(second, 'hourly');
  await clock.advance(5 * HOUR);
  assert.equal((await firings(second as never, 'hourly')).length, 4, 'no firing after unschedule');
  await second.close();
});

test('an interval schedule fires every everyMs; bad specs are refused before anything starts', async (t) => {
  const clock = new VirtualClock({ start: START, auto: true });
  t.after(clock.install());
  const runs: string[] = [];
  const manager = await WorkflowManager.open({ store: new SqliteStore(fresh()), workflows: reportWorkflows(runs) });
  await schedule(manager, 'pulse', { everyMs: 60_000, type: 'report', args: ['pulse'] });
  await untilSettled(async () => (await firings(manager as never, 'pulse')).length >= 3);
  const [one, two] = await firings(manager as never, 'pulse');
  assert.equal(one, `pulse@${new Date(START + 60_000).toISOString()}`);
  assert.equal(two, `pulse@${new Date(START + 120_000).toISOString()}`);
  await unschedule(manager, 'pulse');
  assert.equal(await manager.has(scheduleId('pulse')), false, 'unschedule forgets the schedule');
  // Scheduled again under the same name: a new schedule, from now.
  const fired = (await firings(manager as never, 'pulse')).length;
  await schedule(manager, 'pulse', { everyMs: 3_600_000, type: 'report', args: ['pulse'] });
  await untilSettled(async () => (await firings(manager as never, 'pulse')).length > fired);
  await unschedule(manager, 'pulse');

  await assert.rejects(schedule(manager, 'bad', { cron: 'every day', type: 'report' }), { code: 'INVALID_ARGUMENT', message: /Invalid cron expression/ });
  await assert.rejects(schedule(manager, 'bad', { everyMs: 0, type: 'report' }), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(schedule(manager, 'bad', { cron: '* * * * *', everyMs: 5, type: 'report' }), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(schedule(manager, 'bad', { everyMs: 5, type: 'nosuch' }), { code: 'INVALID_ARGUMENT', message: /does not have/ });
  assert.equal(await manager.has(scheduleId('bad')), false);
  assert.deepEqual(manager.types, ['report'], 'the schedule type is not listed among the application\'s types');
  await manager.close();
});
