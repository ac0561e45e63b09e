import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, NotSerializableError, deserialize, queue, registerType, serialize, step, type Json } from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { outcome, suspend, visible } from './support.js';

class Money {
  constructor(readonly cents: number, readonly currency: string) {}
  add(other: Money): Money {
    return new Money(this.cents + other.cents, this.currency);
  }
}
registerType({ name: 'test.Money', type: Money, encode: (m) => ({ cents: m.cents, currency: m.currency }), decode: (d) => {
  const { cents, currency } = d as { cents: number; currency: string };
  return new Money(cents, currency);
} });

/** Serialize, go through JSON text as a storage backend would, and deserialize. */
function roundTrip(value: unknown): unknown {
  const data = serialize(value);
  return deserialize(JSON.parse(JSON.stringify(data)) as Json);
}

describe('serializer', () => {
  test('JSON data round-trips unchanged', () => {
    const value = { s: 'text', n: 1.5, t: true, f: false, nil: null, list: [1, 'two', [3]], nested: { deep: { deeper: [] } } };
    assert.deepEqual(roundTrip(value), value);
  });

  test('Date, Map, Set, BigInt, undefined and special numbers round-trip', () => {
    const date = new Date('2026-11-26T10:00:00.123Z');
    const back = roundTrip({
      date,
      invalid: new Date(Number.NaN),
      map: new Map<unknown, unknown>([['a', 1], [2, new Set([3])]]),
      set: new Set(['x', 'y']),
      big: 12345678901234567890n,
      missing: undefined,
      inList: [undefined, 1],
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      negInf: Number.NEGATIVE_INFINITY,
      negZero: -0,
      bytes: new Uint8Array([0, 255, 7]),
    }) as Record<string, unknown>;
    assert.ok(back.date instanceof Date && back.date.getTime() === date.getTime());
    assert.ok(back.invalid instanceof Date && Number.isNaN(back.invalid.getTime()));
    assert.deepEqual(back.map, new Map<unknown, unknown>([['a', 1], [2, new Set([3])]]));
    assert.deepEqual(back.set, new Set(['x', 'y']));
    assert.equal(back.big, 12345678901234567890n);
    assert.ok(Object.hasOwn(back, 'missing') && back.missing === undefined, 'an undefined property stays, as undefined');
    assert.deepEqual(back.inList, [undefined, 1]);
    assert.ok(Number.isNaN(back.nan));
    assert.equal(back.inf, Number.POSITIVE_INFINITY);
    assert.equal(back.negInf, Number.NEGATIVE_INFINITY);
    assert.ok(Object.is(back.negZero, -0));
    assert.deepEqual(back.bytes, new Uint8Array([0, 255, 7]));
    assert.equal(roundTrip(undefined), undefined);
  });

  test('a registered class comes back as an instance of that class, also nested', () => {
    const back = roundTrip({ wallet: new Map([['ann', new Money(150, 'EUR')]]), list: [new Money(1, 'USD')] }) as {
      wallet: Map<string, Money>;
      list: Money[];
    };
    const money = back.wallet.get('ann');
    assert.ok(money instanceof Money);
    assert.equal(money.add(new Money(50, 'EUR')).cents, 200);
    assert.ok(back.list[0] instanceof Money);
    assert.throws(() => registerType({ name: 'test.Money', type: class Other {}, encode: () => 0, decode: () => ({}) }), TypeError);
  });

  test('objects that have a "$q" key of their own are not mistaken for tags', () => {
    const tricky = { $q: 'Date', v: '2026-01-01T00:00:00.000Z' };
    assert.deepEqual(roundTrip(tricky), tricky);
    const nested = { outer: { $q: 'undefined' }, list: [{ $q: 'Type:test.Money', v: { cents: 1, currency: 'X' } }] };
    assert.deepEqual(roundTrip(nested), nested);
    assert.deepEqual(roundTrip({ $q: { $q: 'BigInt' } }), { $q: { $q: 'BigInt' } });
  });

  test('cycles, functions, symbols and unregistered classes fail with NotSerializableError naming the path', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    assert.throws(() => serialize(cyclic), (error: unknown) => error instanceof NotSerializableError && /circular reference at value\.self/.test(error.message));
    const cyclicList: unknown[] = [];
    cyclicList.push({ back: cyclicList });
    assert.throws(() => serialize(cyclicList), NotSerializableError);
    assert.throws(() => serialize({ handler: { onClick() {} } }), (error: unknown) => error instanceof NotSerializableError && /function at value\.handler\.onClick/.test(error.message));
    assert.throws(() => serialize([Symbol('s')]), (error: unknown) => error instanceof NotSerializableError && /symbol at value\[0\]/.test(error.message));
    class Unregistered {}
    assert.throws(() => serialize({ thing: new Unregistered() }), (error: unknown) => error instanceof NotSerializableError && /instance of Unregistered/.test(error.message));
    // A shared (not cyclic) reference is fine.
    const shared = { n: 1 };
    assert.deepEqual(roundTrip([shared, shared]), [{ n: 1 }, { n: 1 }]);
  });

  test('a value of a type this process has not registered fails clearly when read', () => {
    assert.throws(() => deserialize({ $q: 'Type:nobody.Knows', v: 1 }), NotSerializableError);
  });

  test('a step result with rich values replays as the same values', async () => {
    let runs = 0;
    const load = step('load', async () => {
      runs++;
      return { when: new Date('2026-05-05T00:00:00Z'), totals: new Map([['ann', new Money(5, 'EUR')]]), tags: new Set(['a']), big: 10n ** 20n, none: undefined };
    });
    const results: unknown[] = [];
    const workflow = async () => {
      results.push(await load());
      await using go = await queue<null>('go', null);
      await go.get();
    };
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(async () => (await visible(first, null)).length === 1);
    await suspend(first, running);
    // Stored records are plain JSON.
    const stored = JSON.parse(JSON.stringify(history.snapshot())) as unknown;
    assert.deepEqual(stored, history.snapshot());

    const second = new Historian('w', workflow, history);
    const done = second.run();
    await untilSettled(async () => (await visible(second, null)).length === 1);
    await second.act('go', null, 'put', null);
    await done;
    assert.equal(runs, 1);
    assert.deepEqual(results[1], results[0]);
    assert.ok((results[1] as { totals: Map<string, Money> }).totals.get('ann') instanceof Money);
  });
});

test('bytes are encoded and decoded without Node\'s Buffer too (QuestClient runs in browsers), to the same text', () => {
  const bytes = new Uint8Array([0, 1, 2, 250, 255, 128, 64]);
  const withBuffer = serialize(bytes);
  const saved = globalThis.Buffer;
  Reflect.deleteProperty(globalThis, 'Buffer');
  try {
    assert.deepEqual(serialize(bytes), withBuffer);
    assert.deepEqual(deserialize(withBuffer), bytes);
  } finally {
    globalThis.Buffer = saved;
  }
});
