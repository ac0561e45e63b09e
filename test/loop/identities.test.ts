/**
 * loop() over identity-scoped resources: a queue per player (`queue(name, identity)`, opened once or in each
 * iteration), a multiQueue over several identities (read across iterations, or opened for one round with
 * `remove()` and singleResponse), and an identityQueue (each outside put gets a fresh identity). In each:
 * the history stays bounded, and across suspensions no event is lost and none is applied twice (checked on the
 * loop state and on an effect log written by a step).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Historian,
  ResourceNotFoundError,
  abortSignal,
  done,
  identityQueue,
  loop,
  multiQueue,
  queue,
  step,
  type Queue,
} from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { Runner, TrackedHistory, assertEffects, gate, outcome, summary, suspend, value, visible, type Gate } from './support.js';

const PLAYERS = ['ann', 'bob', 'cy'] as const;

/**
 * A step that writes `entry` into the effect log; optionally held on a gate (once per hold key). An attempt cut
 * off by a suspension sees its AbortSignal and writes nothing (the documented idiom).
 */
function effectLog(holdKey: (entry: string) => string = (entry) => entry) {
  const log: string[] = [];
  const attempts = new Map<string, number>();
  const holds = new Map<string, Gate>();
  const record = step('record', async (entry: string) => {
    const signal = abortSignal();
    const key = holdKey(entry);
    attempts.set(key, (attempts.get(key) ?? 0) + 1);
    const hold = holds.get(key);
    if (hold !== undefined) {
      holds.delete(key);
      await hold.promise;
    }
    if (signal.aborted) throw signal.reason;
    log.push(entry);
    return entry;
  });
  return { log, attempts, holds, record };
}

interface Turns {
  turn: number;
  moves: string[];
}

describe('loop(): a queue per player', () => {
  /** Players move in turn; each has a private queue opened once, before the loop. */
  function turnGame(effects: ReturnType<typeof effectLog>) {
    return async (): Promise<Turns> => {
      const queues = new Map<string, Queue<number>>();
      for (const player of PLAYERS) queues.set(player, await queue<number>('move', player));
      try {
        return await loop('turns', { turn: 0, moves: [] } as Turns, async (state: Turns) => {
          const player = PLAYERS[state.turn % PLAYERS.length] as string;
          const move = await (queues.get(player) as Queue<number>).get();
          if (move < 0) return done(state);
          await effects.record(`${player}:${move}`);
          return { turn: state.turn + 1, moves: [...state.moves, `${player}:${move}`] };
        });
      } finally {
        for (const each of queues.values()) await each.close();
      }
    };
  }

  const expected = (turns: number): string[] =>
    Array.from({ length: turns }, (_, t) => `${PLAYERS[t % PLAYERS.length] as string}:${t}`);

  test('moves sent with each identity reach only that player\'s queue; 300 turns one at a time keep at most 8 records', async () => {
    const effects = effectLog();
    const game = new Runner(turnGame(effects));
    await game.historian.waitForResource('move', 'cy');
    // Nobody else sees a player's queue.
    await assert.rejects(game.act('move', null, 'put', 1), ResourceNotFoundError);
    await assert.rejects(game.act('move', 'dan', 'put', 1), ResourceNotFoundError);
    for (let t = 0; t < 300; t++) {
      await game.act('move', PLAYERS[t % 3] as string, 'put', t);
      await game.history.checkpointed(t + 1);
    }
    // 3 opens + checkpoint + iteration start + the move + its get + the record step's end.
    assert.equal(game.history.maxSize, 8);
    await game.act('move', 'ann', 'put', -1);
    assert.deepEqual((await game.result()).moves, expected(300));
    assert.deepEqual(effects.log, expected(300));
  });

  test('moves queued ahead in the players\' queues survive restarts at several points', async () => {
    const effects = effectLog();
    const game = new Runner(turnGame(effects));
    await game.historian.waitForResource('move', 'cy');
    const put = (t: number) => game.act('move', PLAYERS[t % 3] as string, 'put', t);
    const cut = gate();
    effects.holds.set('cy:11', cut);
    // Every player sends their moves for turns 0..11 ahead of time: they wait in their queues.
    for (const player of PLAYERS) for (let t = PLAYERS.indexOf(player); t < 12; t += 3) await put(t);
    await game.history.checkpointed(5);
    await game.restart(); // at an arbitrary point, with moves in the queues
    await untilSettled(() => effects.attempts.get('cy:11') === 1);
    await game.restart(); // inside the iteration of turn 11, its record step running
    cut.open();
    await game.history.checkpointed(12);
    for (let t = 12; t < 18; t++) await put(t); // sent after the restarts, while it runs
    await game.history.checkpointed(18);
    await game.restart(); // waiting in get, between turns
    await game.act('move', 'ann', 'put', -1);
    assert.deepEqual((await game.result()).moves, expected(18));
    // The record of turn 11 was cut off before writing its entry, then ran again. The first restart came at an
    // arbitrary moment of the run (moves were waiting): one record may have run twice there (at-least-once).
    assertEffects(effects.log, expected(18), 1);
    assert.equal(effects.attempts.get('cy:11'), 2);
  });

  test('a player\'s queue opened inside each iteration: visible on their turn only, and again after a restart', async () => {
    const effects = effectLog();
    const workflow = async (): Promise<Turns> =>
      loop('turns', { turn: 0, moves: [] } as Turns, async (state: Turns) => {
        const player = PLAYERS[state.turn % PLAYERS.length] as string;
        await using answer = await queue<number>('answer', player);
        const move = await answer.get();
        if (move < 0) return done(state);
        await effects.record(`${player}:${move}`);
        return { turn: state.turn + 1, moves: [...state.moves, `${player}:${move}`] };
      });
    const game = new Runner(workflow);
    const play = async (t: number) => {
      const player = PLAYERS[t % 3] as string;
      await game.historian.waitForResource('answer', player);
      await game.act('answer', player, 'put', t);
      await game.history.checkpointed(t + 1);
    };
    for (let t = 0; t < 30; t++) await play(t);
    // The queue of the player whose turn it is, only: 30 % 3 = 0, ann's turn.
    assert.deepEqual(await visible(game.historian, 'ann'), ['answer@ann']);
    await assert.rejects(game.act('answer', 'bob', 'put', 1), ResourceNotFoundError);
    // Durable now: the checkpoint only (the next iteration's start and ann's open are buffered until the next
    // durable write); the suspension writes them.
    assert.deepEqual(summary(game.history), ['checkpoint main/turns']);
    await suspend(game.historian, game.running);
    assert.deepEqual(summary(game.history), ['checkpoint main/turns', 'step_start main/turns/#31', 'resource_open main/turns/#31/queue:answer']);
    game.resume(); // waiting for ann's answer
    for (let t = 30; t < 33; t++) await play(t);
    effects.holds.set('ann:33', gate());
    await game.historian.waitForResource('answer', 'ann');
    await game.act('answer', 'ann', 'put', 33);
    await untilSettled(() => effects.attempts.get('ann:33') === 1);
    await game.restart(); // ann's answer taken, its record running: the answer is taken again after the resume
    await game.history.checkpointed(34);
    for (let t = 34; t < 60; t++) await play(t);
    // checkpoint + start + open + answer + get + the record step's end (its close is written at the end, with the checkpoint).
    assert.equal(game.history.maxSize, 6);
    await game.historian.waitForResource('answer', 'ann');
    await game.act('answer', 'ann', 'put', -1);
    assert.deepEqual((await game.result()).moves, expected(60));
    assert.deepEqual(effects.log, expected(60));
  });
});

describe('loop(): multiQueue over several identities', () => {
  test('one round per iteration, singleResponse: one vote from each player per round, across restarts', async () => {
    const effects = effectLog();
    const ROUNDS = 6;
    const workflow = async () =>
      loop('rounds', [] as Array<Record<string, number>>, async (rounds: Array<Record<string, number>>, iteration) => {
        if (rounds.length === ROUNDS) return done(rounds);
        await using votes = await multiQueue<number>('vote', PLAYERS, { singleResponse: true });
        const tally: Record<string, number> = {};
        for await (const [player, vote] of votes) {
          await effects.record(`${iteration}:${player}:${vote}`);
          tally[player] = vote;
        }
        return [...rounds, tally];
      });
    const game = new Runner(workflow);
    const vote = async (round: number, player: string) => {
      await game.historian.waitForResource('vote', player);
      await game.act('vote', player, 'put', round * 10 + PLAYERS.indexOf(player as (typeof PLAYERS)[number]));
    };
    for (let round = 1; round <= ROUNDS; round++) {
      // Votes arrive in a different order each round.
      const order = round % 2 === 0 ? [...PLAYERS].reverse() : [...PLAYERS];
      await vote(round, order[0] as string);
      // singleResponse: once the vote is taken, that player's queue is removed; a second vote is refused.
      await untilSettled(async () => !(await visible(game.historian, order[0] as string)).includes('vote@' + (order[0] as string)));
      await assert.rejects(game.act('vote', order[0] as string, 'put', 99), ResourceNotFoundError);
      if (round === 2) await game.restart(); // one vote in, two to come
      if (round === 4) {
        const hold = gate();
        effects.holds.set(`4:${order[1] as string}:${40 + PLAYERS.indexOf(order[1] as (typeof PLAYERS)[number])}`, hold);
        await vote(round, order[1] as string);
        await untilSettled(() => effects.holds.size === 0);
        await game.restart(); // the second vote's record step running
        hold.open();
      } else {
        await vote(round, order[1] as string);
      }
      await vote(round, order[2] as string);
      await game.history.checkpointed(round);
      if (round === 5) await game.restart(); // between rounds
    }
    const expectedRounds = Array.from({ length: ROUNDS }, (_, r) => ({ ann: (r + 1) * 10, bob: (r + 1) * 10 + 1, cy: (r + 1) * 10 + 2 }));
    assert.deepEqual(await game.result(), expectedRounds);
    // Each vote logged once (the cut-off record ran again but had not logged: it was held before logging).
    assert.equal(effects.log.length, ROUNDS * PLAYERS.length);
    assert.equal(new Set(effects.log).size, effects.log.length);
  });

  test('one round per iteration with remove(): players send several numbers, then -1 leaves the round', async () => {
    const effects = effectLog();
    const workflow = async () =>
      loop('rounds', [] as number[], async (sums: number[], iteration) => {
        if (sums.length === 4) return done(sums);
        await using numbers = await multiQueue<number>('number', PLAYERS);
        let sum = 0;
        for await (const [player, n] of numbers) {
          if (n < 0) {
            await numbers.remove(player);
            continue;
          }
          await effects.record(`${iteration}:${player}:${n}`);
          sum += n;
        }
        return [...sums, sum];
      });
    const game = new Runner(workflow);
    const send = async (player: string, n: number) => {
      await game.historian.waitForResource('number', player);
      await game.act('number', player, 'put', n);
    };
    for (let round = 1; round <= 4; round++) {
      for (const player of PLAYERS) await send(player, round);
      await send('ann', 100 * round);
      await send('ann', -1);
      await untilSettled(async () => !(await visible(game.historian, 'ann')).includes('number@ann'));
      await assert.rejects(game.act('number', 'ann', 'put', 5), ResourceNotFoundError);
      if (round === 2 || round === 3) await game.restart(); // mid-round, ann gone, bob and cy still in
      await send('bob', -1);
      await send('cy', 1000);
      await send('cy', -1);
      await game.history.checkpointed(round);
    }
    assert.deepEqual(await game.result(), [1, 2, 3, 4].map((r) => 3 * r + 100 * r + 1000));
    assert.equal(effects.log.length, 4 * 5);
    assert.equal(new Set(effects.log).size, effects.log.length);
  });

  test('one multiQueue read across iterations: bounded (at most 8 records), exact after restarts', async () => {
    const effects = effectLog();
    const workflow = async () => {
      await using numbers = await multiQueue<number>('number', PLAYERS);
      return await loop('sum', { count: 0, sum: 0 }, async (state: { count: number; sum: number }) => {
        const next = await numbers.next();
        if (next === undefined || next[1] < 0) return done(state);
        await effects.record(`${next[0]}:${next[1]}`);
        return { count: state.count + 1, sum: state.sum + next[1] };
      });
    };
    const game = new Runner(workflow);
    await game.historian.waitForResource('number', 'cy');
    let sent = 0;
    for (let i = 1; i <= 300; i++) {
      await game.act('number', PLAYERS[i % 3] as string, 'put', i);
      sent += i;
      await game.history.checkpointed(i);
      if (i % 100 === 50) await game.restart();
    }
    // 3 opens + checkpoint + iteration start + the number + its get + the record step's end.
    assert.equal(game.history.maxSize, 8);
    await game.act('number', 'bob', 'put', -1);
    assert.deepEqual(await game.result(), { count: 300, sum: sent });
    assert.equal(effects.log.length, 300);
  });

  test(
    'one multiQueue opened before the loop, remove() inside an iteration, then a restart: the removal replays',
    async () => {
      const workflow = async () => {
        await using numbers = await multiQueue<number>('number', PLAYERS);
        return await loop('sum', 0, async (sum: number) => {
          const next = await numbers.next();
          if (next === undefined) return done(sum);
          const [player, n] = next;
          if (n < 0) await numbers.remove(player);
          return n < 0 ? sum : sum + n;
        });
      };
      const history = new TrackedHistory();
      let historian = new Historian('game', workflow, history, { stallTimeoutMs: 200 });
      let running = outcome(historian.run());
      await historian.waitForResource('number', 'cy');
      await historian.act('number', 'ann', 'put', 1);
      await historian.act('number', 'bob', 'put', -1);
      await history.checkpointed(2);
      await suspend(historian, running);
      historian = new Historian('game', workflow, history, { stallTimeoutMs: 200 });
      running = outcome(historian.run());
      await historian.act('number', 'ann', 'put', -1);
      await historian.act('number', 'cy', 'put', 5);
      await historian.act('number', 'cy', 'put', -1);
      assert.equal(await value(running), 6);
    },
  );
});

describe('loop(): identityQueue', () => {
  test('each outside put gets a fresh identity; the loop serves each once, across restarts; at most 6 records', async () => {
    const effects = effectLog((entry) => entry.slice(entry.lastIndexOf(':') + 1));
    const workflow = async () => {
      await using requests = await identityQueue<string>('request');
      return await loop('serve', {} as Record<string, string>, async (served: Record<string, string>) => {
        const [identity, text] = await requests.get();
        if (text === 'stop') return done(served);
        await effects.record(`${identity}:${text}`);
        return { ...served, [identity]: text.toUpperCase() };
      });
    };
    const game = new Runner(workflow);
    await game.historian.waitForResource('request', null);
    const identities = new Map<string, string>();
    const request = async (text: string, caller: string | null = null) => {
      const identity = await game.act('request', caller, 'put', text);
      assert.equal(typeof identity, 'string');
      identities.set(identity as string, text);
      return identity as string;
    };
    for (let i = 0; i < 100; i++) {
      await request(`r${i}`, i % 2 === 0 ? null : 'someone');
      await game.history.checkpointed(i + 1);
    }
    // open + checkpoint + iteration start + the request + its get + the record step's end.
    assert.equal(game.history.maxSize, 6);
    // Requests queued ahead, then a restart: their identities were recorded with them.
    for (let i = 100; i < 110; i++) await request(`r${i}`);
    await game.restart();
    await game.history.checkpointed(110);
    const hold = gate();
    effects.holds.set('held', hold);
    await request('held');
    await untilSettled(() => effects.attempts.get('held') === 1);
    await game.restart(); // the record step of `held` running
    hold.open();
    await game.history.checkpointed(111);
    await game.act('request', null, 'put', 'stop');
    const served = await game.result();
    assert.equal(identities.size, 111, 'every put got its own identity');
    assert.deepEqual(served, Object.fromEntries([...identities].map(([identity, text]) => [identity, text.toUpperCase()])));
    // The first restart came while queued requests were being served (an arbitrary moment): the record step
    // whose body had just finished may run again (at-least-once); the loop state above counts each once.
    assertEffects(effects.log, [...identities].map(([identity, text]) => `${identity}:${text}`), 1);
  });
});
