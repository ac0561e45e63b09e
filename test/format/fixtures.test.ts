import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FORMAT_VERSION, Historian, MemoryHistory, UnsupportedFormatError, CorruptHistoryError, upgradeRecord, type HistoryRecord, type WorkflowFunction } from '../../src/index.js';
import { replayed } from '../core/support.js';
import { fixtureWorkflows, type Fixture, type FixtureEvent } from '../fixtures/workflows.js';

const root = join(import.meta.dirname, '..', 'fixtures');
const fixtures = readdirSync(root)
  .filter((entry) => entry.startsWith('format-'))
  .flatMap((folder) =>
    readdirSync(join(root, folder))
      .filter((file) => file.endsWith('.json'))
      .map((file) => ({ name: `${folder}/${file}`, fixture: JSON.parse(readFileSync(join(root, folder, file), 'utf8')) as Fixture })),
  );

test('there is a fixture of the current record format', () => {
  assert.ok(fixtures.some(({ fixture }) => fixture.format === FORMAT_VERSION));
});

for (const { name, fixture } of fixtures) {
  test(`replays the stored history ${name} (${fixture.description}) and finishes it`, async () => {
    const history = new MemoryHistory();
    history.commit({ append: fixture.records.map(upgradeRecord), remove: [] });
    const workflow = fixtureWorkflows[fixture.workflow];
    assert.ok(workflow, `unknown fixture workflow ${fixture.workflow}`);
    const historian = new Historian(name, workflow, history, { stallTimeoutMs: 500 });
    const result = historian.run(...(fixture.args as never[]));
    for (const [resource, identity, action, ...args] of fixture.then) {
      await historian.waitForResource(resource, identity);
      await historian.act(resource, identity, action, ...args);
    }
    assert.deepEqual(await result, fixture.expected);
  });
}

test('a record from a newer format is refused with UnsupportedFormatError', () => {
  const record = { v: FORMAT_VERSION + 1, seq: 1, t: 0, task: 'main', id: 'main/x', type: 'step_end' };
  assert.throws(() => upgradeRecord(record), UnsupportedFormatError);
});

test('a damaged record is refused with CorruptHistoryError', () => {
  assert.throws(() => upgradeRecord({ seq: 1 }), CorruptHistoryError);
  assert.throws(() => upgradeRecord({ v: 1, seq: 1, t: 0, task: 'main', id: 'x', type: 'nonsense' }), CorruptHistoryError);
  assert.throws(() => upgradeRecord('not a record' as unknown as HistoryRecord), CorruptHistoryError);
});

test('a format 1 version record is read as workflow-wide, and its history replays without recording it again', async () => {
  const found = fixtures.find(({ name }) => name === 'format-1/tournament.json');
  assert.ok(found, 'the format 1 tournament fixture');
  const { fixture } = found;
  const records = fixture.records.map(upgradeRecord);
  const versions = records.filter((record) => record.type === 'version');
  assert.deepEqual(versions.map(({ fn, name, version }) => ({ fn, name, version })), [{ fn: null, name: 'bonus', version: '2' }]);

  const history = new MemoryHistory();
  history.commit({ append: records, remove: [] });
  const historian = new Historian('tournament', fixtureWorkflows.tournament as WorkflowFunction<never[], unknown>, history, { stallTimeoutMs: 500 });
  const result = historian.run(...(fixture.args as never[]));
  for (const [resource, identity, action, ...args] of fixture.then.slice(0, -1)) {
    await historian.waitForResource(resource, identity);
    await historian.act(resource, identity, action, ...args);
  }
  await replayed(historian);
  // collect declares bonus 2, which the workflow-wide record already gives it: nothing new is recorded.
  assert.deepEqual(history.snapshot().filter((record) => record.type === 'version').map((record) => record.seq), versions.map((record) => record.seq));
  const [resource, identity, action, ...args] = fixture.then.at(-1) as FixtureEvent;
  await historian.act(resource, identity, action, ...args);
  assert.deepEqual(await result, fixture.expected);
});
