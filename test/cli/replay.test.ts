/** `quest replay`: the code of a module checked against the live histories of a database, read only. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { schedule } from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { workflows } from './fixtures/workflows.js';
import { FIXTURE_MODULE, inTempDir, prepareDatabase, quest } from './support.js';

const CHANGED_MODULE = 'test/cli/fixtures/changed-workflows.ts';

async function digest(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

test('quest replay: the same code replays every live history of a type; a careless change is reported, and nothing is written', () =>
  inTempDir(async (directory) => {
    const db = join(directory, 'quest.sqlite');
    await prepareDatabase(db);
    const before = await digest(db);

    const same = await quest('replay', FIXTURE_MODULE, 'secrets', '--db', db);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /^s1\s+ok\s+\d+\s+replayed$/m);
    assert.match(same.stdout, /1 history replays with this code/);

    const changed = await quest('replay', CHANGED_MODULE, 'secrets', '--db', db, '--json');
    assert.equal(changed.code, 1, changed.stderr);
    const [report] = JSON.parse(changed.stdout) as Array<{ id: string; ok: boolean; outcome: string; error: string }>;
    assert.equal(report?.id, 's1');
    assert.equal(report?.ok, false);
    assert.equal(report?.outcome, 'diverged');
    assert.match(report?.error ?? '', /NonDeterminismError: Replay expected the open of queue main\/queue:mailbox/);

    // Types not asked about are not checked; an unknown id or type is bad usage.
    const collect = await quest('replay', CHANGED_MODULE, 'collect', '--db', db, '--id', 'c1');
    assert.equal(collect.code, 0, collect.stderr);
    assert.equal((await quest('replay', FIXTURE_MODULE, 'collect', '--db', db, '--id', 'nope')).code, 2);
    assert.equal((await quest('replay', FIXTURE_MODULE, 'nosuchtype', '--db', db)).code, 2);

    assert.equal(await digest(db), before, 'quest replay changed no byte of the database');
  }));

test('quest replay checks the histories of schedules (quest.schedule) against this version of Quest', () =>
  inTempDir(async (directory) => {
    const db = join(directory, 'schedules.sqlite');
    const store = await SqliteStore.open(db);
    const manager = await WorkflowManager.open({ store, workflows, inboxPollMs: 0 });
    await schedule(manager, 'daily', { cron: '0 3 * * *', type: 'quick', args: [1] });
    // The schedule has recorded the deadline of its first firing and sleeps.
    await untilSettled(async () => (await store.history('schedule:daily').load()).some((r) => r.type === 'step_end' && r.id.endsWith('sleep.until')));
    await manager.close();
    const checked = await quest('replay', FIXTURE_MODULE, 'quest.schedule', '--db', db, '--json');
    assert.equal(checked.code, 0, checked.stderr);
    const [report] = JSON.parse(checked.stdout) as Array<{ id: string; ok: boolean; unfinishedSteps: string[] }>;
    assert.equal(report?.id, 'schedule:daily');
    assert.equal(report?.ok, true);
    assert.deepEqual(report?.unfinishedSteps, ['main/firings/#1/sleep'], 'the schedule sleeps until its first firing');
  }));
