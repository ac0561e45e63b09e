/** Unit tests of the pure views behind `quest history` and `quest resources`. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, event, queue, state, step, identityQueue } from '../../src/index.js';
import type { HistoryRecord } from '../../src/core/records.js';
import type { RecordFields } from '../../src/core/outcome.js';
import { serialize } from '../../src/core/serializer.js';
import { actionSpec, findVisible, rebuildResources, visibleResources } from '../../src/inspect/resources.js';
import { historyItems, prunedCount, prunedLine, recordDetails } from '../../src/inspect/history-view.js';
import { untilSettled } from '../helpers.js';

type Fields = RecordFields & { task?: string };

/** A record of format 1 at `seq`. */
function rec(seq: number, fields: Fields): HistoryRecord {
  return { v: 1, seq, t: 1_700_000_000_000 + seq, task: 'main', ...fields } as HistoryRecord;
}

const pub = (name: string) => ({ name, identity: null });
const own = (name: string, identity: string) => ({ name, identity });
const undef = serialize(undefined);

describe('history view: pruned records as seq gaps', () => {
  test('a gap between two records, and before the first one, is the number of records pruned there', () => {
    const records = [
      rec(3, { type: 'step_end', id: 'main/a', result: 1 }),
      rec(4, { type: 'step_start', id: 'main/b' }),
      rec(18, { type: 'step_end', id: 'main/b', result: 2 }),
      rec(19, { type: 'step_start', id: 'main/c' }),
    ];
    const items = historyItems(records);
    assert.deepEqual(
      items.map((item) => (item.type === 'pruned' ? `pruned ${item.count} (${item.from}-${item.to})` : `record ${item.seq}`)),
      ['pruned 2 (1-2)', 'record 3', 'record 4', 'pruned 13 (5-17)', 'record 18', 'record 19'],
    );
    assert.equal(prunedCount(records), 15);
    assert.equal(prunedLine({ type: 'pruned', count: 14, from: 5, to: 18 }), '… 14 records pruned …');
    assert.equal(prunedLine({ type: 'pruned', count: 1, from: 5, to: 5 }), '… 1 record pruned …');
  });

  test('no gap, no pruned line; an empty history has none either', () => {
    const records = [rec(1, { type: 'step_start', id: 'main/a' }), rec(2, { type: 'step_end', id: 'main/a', result: undef })];
    assert.deepEqual(historyItems(records), records);
    assert.equal(prunedCount(records), 0);
    assert.deepEqual(historyItems([]), []);
  });

  test('the gaps of a real history: the inside of a completed step', async () => {
    const inner = step('inner', async (n: number) => n + 1);
    const outer = step('outer', async () => (await inner(1)) + (await inner(2)));
    const history = new MemoryHistory();
    const historian = new Historian('w', async () => {
      const value = await outer();
      await using words = await queue<string>('words', null);
      return `${value} ${await words.get()}`;
    }, history);
    const result = historian.run();
    await historian.waitForResource('words', null);
    await historian.suspend();
    await result.catch(() => undefined);
    const records = history.snapshot();
    // outer's start and its two inner steps (4 records) are gone; outer's end stays.
    assert.deepEqual(historyItems(records).map((item) => item.type), ['pruned', 'step_end', 'resource_open']);
    assert.equal(prunedCount(records), 5);
  });

  test('details name the outcome, the resource, the action and its arguments', () => {
    assert.equal(recordDetails(rec(1, { type: 'step_end', id: 'main/a', result: 42 })), 'result=42');
    assert.equal(recordDetails(rec(1, { type: 'step_end', id: 'main/a', result: undef })), '');
    assert.equal(recordDetails(rec(1, { type: 'task_end', id: 'main/t', error: { name: 'TypeError', message: 'bad' } })), 'error=TypeError: bad');
    assert.equal(recordDetails(rec(1, { type: 'resource_open', id: 'main/state:s', resource: own('s', 'ann'), kind: 'state', init: 'x' })), 'state s@ann  init="x"');
    assert.equal(
      recordDetails(rec(1, { type: 'external', task: '', id: 'main/queue:q', resource: pub('q'), action: 'put', args: [42], result: undef })),
      'put on q  args=[42]',
    );
    assert.equal(
      recordDetails(rec(1, { type: 'internal', id: 'main/q.get', resource: pub('q'), action: 'get', args: [], result: 42 })),
      'get on q  args=[]  result=42',
    );
    assert.equal(recordDetails(rec(1, { type: 'version', task: '', id: '', fn: 'parse', name: '', version: '2' })), 'parse: (global) = "2"');
    assert.equal(recordDetails(rec(1, { type: 'version', task: '', id: '', fn: 'parse', name: 'parser', version: '3' })), 'parse: parser = "3"');
    // Format 1 versions were workflow-wide.
    assert.equal(recordDetails(rec(1, { type: 'version', task: '', id: '', fn: null, name: '', version: '2' })), '(workflow) = "2"');
    assert.equal(recordDetails(rec(1, { type: 'version', task: '', id: '', fn: null, name: 'parser', version: '3' })), 'parser = "3"');
    assert.equal(recordDetails(rec(1, { type: 'alias', id: 'main/alias:lobby', alias: 'lobby', open: true })), 'open alias lobby');
  });
});

describe('resource reconstruction from a history', () => {
  test('opens, closes and events re-applied in order give each resource its content', () => {
    const records = [
      rec(1, { type: 'resource_open', id: 'main/queue:q', resource: pub('q'), kind: 'queue' }),
      rec(2, { type: 'resource_open', id: 'main/state:s', resource: pub('s'), kind: 'state', init: 'start' }),
      rec(3, { type: 'resource_open', id: 'main/event:e', resource: pub('e'), kind: 'event' }),
      rec(4, { type: 'resource_open', id: 'main/queue:gone', resource: pub('gone'), kind: 'queue' }),
      rec(5, { type: 'external', task: '', id: 'main/queue:q', resource: pub('q'), action: 'put', args: ['a'], result: undef }),
      rec(6, { type: 'external', task: '', id: 'main/queue:q', resource: pub('q'), action: 'put', args: ['b'], result: undef }),
      rec(7, { type: 'internal', id: 'main/q.get', resource: pub('q'), action: 'get', args: [], result: 'a' }),
      rec(8, { type: 'internal', id: 'main/s.set', resource: pub('s'), action: 'set', args: ['later'], result: undef }),
      rec(9, { type: 'external', task: '', id: 'main/event:e', resource: pub('e'), action: 'set', args: [], result: undef }),
      rec(10, { type: 'resource_close', id: 'main/queue:gone', resource: pub('gone') }),
    ];
    const { resources, warnings } = rebuildResources(records);
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      resources.map(({ name, identity, kind, view }) => ({ name, identity, kind, view })),
      [
        { name: 'q', identity: null, kind: 'queue', view: { size: 1, items: ['b'] } },
        { name: 's', identity: null, kind: 'state', view: { value: 'later' } },
        { name: 'e', identity: null, kind: 'event', view: { isSet: true } },
      ],
    );
  });

  test('an identity sees the public resources and its own, never another identity\'s', () => {
    const records = [
      rec(1, { type: 'resource_open', id: 'main/state:board', resource: pub('board'), kind: 'state', init: 'hello' }),
      rec(2, { type: 'resource_open', id: 'main/queue:mailbox', resource: own('mailbox', 'ann'), kind: 'queue' }),
      rec(3, { type: 'resource_open', id: 'main/state:diary', resource: own('diary', 'bob'), kind: 'state', init: 'secret' }),
      rec(4, { type: 'external', task: '', id: 'main/queue:mailbox', resource: own('mailbox', 'ann'), action: 'put', args: ['hi'], result: undef }),
    ];
    const names = (identity: string | null) => visibleResources(records, identity).map((resource) => resource.name);
    assert.deepEqual(names(null), ['board']);
    assert.deepEqual(names('ann'), ['board', 'mailbox']);
    assert.deepEqual(names('bob'), ['board', 'diary']);
    assert.deepEqual(names('carol'), ['board']);
    // An outside caller reaches its own resource before a public one of the same name.
    const both = [{ name: 'x', identity: null }, { name: 'x', identity: 'ann' }];
    assert.equal(findVisible(both, 'x', 'ann')?.identity, 'ann');
    assert.equal(findVisible(both, 'x', 'bob')?.identity, null);
    assert.equal(findVisible(both, 'y', 'ann'), undefined);
  });

  test('a resource closed and opened again shows its new content only', () => {
    const records = [
      rec(1, { type: 'resource_open', id: 'main/queue:q', resource: pub('q'), kind: 'queue' }),
      rec(2, { type: 'external', task: '', id: 'main/queue:q', resource: pub('q'), action: 'put', args: [1], result: undef }),
      rec(3, { type: 'resource_close', id: 'main/queue:q', resource: pub('q') }),
      rec(4, { type: 'resource_open', id: 'main/queue:q#2', resource: pub('q'), kind: 'queue' }),
    ];
    const [only] = rebuildResources(records).resources;
    assert.deepEqual(only?.view, { size: 0, items: [] });
    assert.equal(only?.openId, 'main/queue:q#2');
  });

  test('records that cannot be applied are skipped and reported', () => {
    const records = [
      rec(1, { type: 'external', task: '', id: 'main/queue:q', resource: pub('q'), action: 'put', args: [1], result: undef }),
      rec(2, { type: 'resource_open', id: 'main/thing:t', resource: pub('t'), kind: 'thing' }),
      rec(3, { type: 'resource_open', id: 'main/queue:e', resource: pub('e'), kind: 'queue' }),
      rec(4, { type: 'internal', id: 'main/e.get', resource: pub('e'), action: 'get', args: [], result: 1 }),
    ];
    const { resources, warnings } = rebuildResources(records);
    assert.deepEqual(resources.map((resource) => [resource.name, resource.view]), [['t', null], ['e', { size: 0, items: [] }]]);
    assert.equal(warnings.length, 3);
    assert.match(warnings.join('\n'), /record 1: put on q, which is not open/);
    assert.match(warnings.join('\n'), /"thing"/);
    assert.match(warnings.join('\n'), /record 4: get on e would wait/);
  });

  test('the rebuilt resources match what the running workflow shows, for every kind', async () => {
    const history = new MemoryHistory();
    const historian = new Historian('w', async () => {
      await using jobs = await queue<number>('jobs', null);
      await using note = await state<string>('note', 'ann', 'first');
      await using ready = await event('ready', null);
      await using people = await identityQueue<string>('people');
      await note.set('second');
      await ready.wait();
      await ready.clear();
      const first = await jobs.get();
      const [, person] = await people.get();
      await using done = await event('done', null);
      await done.wait();
      return `${first} ${person}`;
    }, history);
    const result = historian.run();
    await historian.waitForResource('ready', null);
    for (const job of [1, 2, 3]) await historian.act('jobs', null, 'put', job);
    await historian.act('people', null, 'put', 'zoe');
    await historian.act('people', null, 'put', 'yan');
    await historian.act('ready', null, 'set');
    await historian.waitForResource('done', null);
    await untilSettled(async () => (await historian.resources(null)).some((resource) => resource.name === 'people' && (resource.view as { size: number }).size === 1));
    const identities = [null, 'ann', 'bob'];
    const live = await Promise.all(identities.map((identity) => historian.resources(identity)));
    // Suspending writes what the run still buffered (workflow-side records go out with the next durable write).
    await historian.suspend();
    await result.catch(() => undefined);
    identities.forEach((identity, n) => {
      const rebuilt = visibleResources(history.snapshot(), identity).map(({ name, identity: owner, kind, view }) => ({ name, identity: owner, kind, view }));
      assert.deepEqual(rebuilt, live[n], `as seen by ${String(identity)}`);
    });
    assert.deepEqual(live[1]?.find((resource) => resource.name === 'note')?.view, { value: 'second' });
    assert.equal(live[2]?.find((resource) => resource.name === 'note'), undefined);
  });

  test('action specs by kind', () => {
    assert.equal(actionSpec('queue', 'put')?.blocking, false);
    assert.equal(actionSpec('queue', 'get')?.blocking, true);
    assert.equal(actionSpec('event', 'wait')?.blocking, true);
    assert.equal(actionSpec('state', 'get')?.mutates, false);
    assert.equal(actionSpec('queue', 'frob'), undefined);
    assert.equal(actionSpec('thing', 'put'), undefined);
  });
});
