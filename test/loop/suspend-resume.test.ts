/**
 * loop() across suspension and crashes: however the workflow stops inside a loop over outside events, a
 * resume (a new Historian over the same history) loses no event and applies none twice.
 *
 * The workflow: each iteration takes an event from a public queue, applies it in the step `apply` (which
 * writes the event into an effect log, the side effect under test) and confirms it in the step `ack`; the loop
 * state lists the events seen and their sum. Checked at the end of every scenario:
 * - the loop state lists every input event exactly once, in order, and the sum is exact;
 * - the effect log equals the input sequence (an attempt cut off by a suspension checks its AbortSignal and
 *   does not apply: the documented idiom for effects that must not run after a suspension).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, abortSignal, done, isSuspension, loop, queue, step, type History } from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { HeldHistory, TrackedHistory, gate, historyOf, outcome, summary, suspend, value, type Gate, type Outcome } from './support.js';

interface Ledger {
  seen: number[];
  sum: number;
}

/** The workflow and everything the test observes of it. One per simulated process (effects are per process). */
function ledgerScenario() {
  const effects: number[] = [];
  const applyAttempts = new Map<number, number>();
  const ackAttempts = new Map<number, number>();
  const applyHolds = new Map<number, Gate>();
  const ackHolds = new Map<number, Gate>();
  const observed = { waitingIteration: 0, abortedAttempts: 0 };
  const apply = step('apply', async (n: number) => {
    const signal = abortSignal();
    applyAttempts.set(n, (applyAttempts.get(n) ?? 0) + 1);
    const hold = applyHolds.get(n);
    if (hold !== undefined) {
      applyHolds.delete(n);
      await hold.promise;
    }
    if (signal.aborted) {
      observed.abortedAttempts++;
      throw signal.reason;
    }
    effects.push(n);
    return n * 10;
  });
  const ack = step('ack', async (n: number) => {
    ackAttempts.set(n, (ackAttempts.get(n) ?? 0) + 1);
    const hold = ackHolds.get(n);
    if (hold !== undefined) {
      ackHolds.delete(n);
      await hold.promise;
    }
    return n;
  });
  const workflow = async (): Promise<Ledger> => {
    await using events = await queue<number>('events', null);
    return await loop('ledger', { seen: [], sum: 0 } as Ledger, async (ledger: Ledger, iteration) => {
      observed.waitingIteration = iteration;
      const n = await events.get();
      if (n < 0) return done(ledger);
      const tenfold = await apply(n);
      await ack(n);
      return { seen: [...ledger.seen, n], sum: ledger.sum + tenfold };
    });
  };
  return { workflow, effects, applyAttempts, ackAttempts, applyHolds, ackHolds, observed };
}

type Scenario = ReturnType<typeof ledgerScenario>;

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sumOf = (events: readonly number[]): number => events.reduce((total, n) => total + 10 * n, 0);

/** Runs the ledger workflow over one history and restarts it with a new Historian on demand. */
class Driver {
  historian: Historian<never[], Ledger>;
  running: Promise<Outcome<Ledger>>;
  /**
   * A new workflow opens its queue only once it runs: until then an outside put fails with ResourceNotFoundError,
   * so the first puts wait for the queue. A resumed run needs no such wait: act() waits while it replays.
   */
  private ready: Promise<unknown>;
  constructor(
    readonly scenario: Scenario,
    readonly history: History,
    private readonly checkpoints?: TrackedHistory,
  ) {
    this.historian = new Historian('ledger', scenario.workflow, history);
    this.running = outcome(this.historian.run());
    this.ready = this.historian.waitForResource('events', null).catch(() => undefined);
  }

  async put(n: number): Promise<unknown> {
    await this.ready;
    return this.historian.act('events', null, 'put', n);
  }

  /** Put events one at a time, each once the previous one's iteration is checkpointed. */
  async feed(events: readonly number[]): Promise<void> {
    for (const n of events) {
      await this.put(n);
      await this.checkpointed(n);
    }
  }

  /** Event n is handled by iteration n (one event per iteration, in order). */
  checkpointed(n: number): Promise<void> {
    if (this.checkpoints === undefined) throw new Error('this driver has no TrackedHistory');
    return this.checkpoints.checkpointed(n);
  }

  async suspend(): Promise<void> {
    await suspend(this.historian, this.running);
  }

  /** A new Historian over the same history (a resume in the same process, or in a new one with `scenario`). */
  resume(scenario: Scenario = this.scenario, history: History = this.history): void {
    this.historian = new Historian('ledger', scenario.workflow, history);
    this.running = outcome(this.historian.run());
    this.ready = Promise.resolve();
  }

  async finish(): Promise<Ledger> {
    await this.put(-1);
    return value(this.running);
  }
}

function checkLedger(ledger: Ledger, events: readonly number[]): void {
  assert.deepEqual(ledger.seen, events, 'every event reaches the loop state once, in order');
  assert.equal(ledger.sum, sumOf(events));
}

describe('loop(): suspension at chosen points inside an iteration', () => {
  test('suspended while the iteration waits in get: the resume restarts only that iteration', async () => {
    const scenario = ledgerScenario();
    const history = new TrackedHistory();
    const driver = new Driver(scenario, history, history);
    await driver.feed(range(1, 3));
    await untilSettled(() => scenario.observed.waitingIteration === 4);
    await driver.suspend();
    assert.deepEqual(summary(history), ['resource_open main/queue:events', 'checkpoint main/ledger', 'step_start main/ledger/#4']);
    driver.resume();
    await driver.feed(range(4, 6));
    checkLedger(await driver.finish(), range(1, 6));
    assert.deepEqual(scenario.effects, range(1, 6));
    for (const n of range(1, 6)) assert.equal(scenario.applyAttempts.get(n), 1);
  });

  test('suspended after the get, while a step of the iteration is blocked: the event is taken again, applied once', async () => {
    const scenario = ledgerScenario();
    const history = new TrackedHistory();
    const driver = new Driver(scenario, history, history);
    await driver.feed(range(1, 3));
    const hold = gate();
    scenario.applyHolds.set(4, hold);
    await driver.put(4);
    await untilSettled(() => scenario.applyAttempts.get(4) === 1);
    await driver.suspend();
    // The event and the get that took it stay until the iteration ends; the step had not ended.
    assert.deepEqual(summary(history), [
      'resource_open main/queue:events',
      'checkpoint main/ledger',
      'step_start main/ledger/#4',
      'external main/queue:events',
      'internal main/ledger/#4/events.get',
      'step_start main/ledger/#4/apply',
    ]);
    // The cut-off attempt goes on once its promise resolves: it sees the abort and applies nothing.
    hold.open();
    await untilSettled(() => scenario.observed.abortedAttempts === 1);
    driver.resume();
    await driver.checkpointed(4);
    assert.equal(scenario.applyAttempts.get(4), 2, 'the step that was running runs again on resume');
    await driver.feed(range(5, 6));
    checkLedger(await driver.finish(), range(1, 6));
    assert.deepEqual(scenario.effects, range(1, 6));
  });

  test('suspended after a step of the iteration completed, while the next one is blocked: the completed step is not run again', async () => {
    const scenario = ledgerScenario();
    const history = new TrackedHistory();
    const driver = new Driver(scenario, history, history);
    await driver.feed(range(1, 3));
    const hold = gate();
    scenario.ackHolds.set(4, hold);
    await driver.put(4);
    await untilSettled(() => scenario.ackAttempts.get(4) === 1);
    await driver.suspend();
    assert.deepEqual(summary(history), [
      'resource_open main/queue:events',
      'checkpoint main/ledger',
      'step_start main/ledger/#4',
      'external main/queue:events',
      'internal main/ledger/#4/events.get',
      'step_end main/ledger/#4/apply',
      'step_start main/ledger/#4/ack',
    ]);
    hold.open();
    driver.resume();
    await driver.checkpointed(4);
    assert.equal(scenario.applyAttempts.get(4), 1, 'apply replays from its recorded end');
    assert.equal(scenario.ackAttempts.get(4), 2, 'ack was running: it runs again');
    await driver.feed(range(5, 6));
    checkLedger(await driver.finish(), range(1, 6));
    assert.deepEqual(scenario.effects, range(1, 6));
  });

  test('suspended with several events queued in the history: all are delivered after the resume, in order', async () => {
    const scenario = ledgerScenario();
    const history = new TrackedHistory();
    const driver = new Driver(scenario, history, history);
    await driver.feed(range(1, 3));
    const hold = gate();
    scenario.applyHolds.set(4, hold);
    for (const n of range(4, 8)) await driver.put(n);
    await untilSettled(() => scenario.applyAttempts.get(4) === 1);
    await driver.suspend();
    assert.equal(summary(history).filter((line) => line.startsWith('external')).length, 5, 'events 4..8 are in the history');
    hold.open();
    driver.resume();
    await driver.checkpointed(8);
    await driver.feed(range(9, 10));
    checkLedger(await driver.finish(), range(1, 10));
    assert.deepEqual(scenario.effects, range(1, 10));
  });

  test('suspended between iterations, while the checkpoint write is in flight: the suspension waits for it', async () => {
    const scenario = ledgerScenario();
    const history = new HeldHistory();
    const driver = new Driver(scenario, history);
    for (const n of range(1, 3)) {
      await driver.put(n);
      await untilSettled(() => scenario.observed.waitingIteration === n + 1);
    }
    const held = history.holdNext((change) => change.append.some((record) => record.type === 'checkpoint' && record.iteration === 4));
    await driver.put(4);
    await held;
    const suspending = driver.suspend();
    history.held?.open();
    await suspending;
    assert.deepEqual(summary(history.memory), ['resource_open main/queue:events', 'checkpoint main/ledger']);
    driver.resume();
    for (const n of range(5, 6)) {
      await driver.put(n);
      await untilSettled(() => scenario.observed.waitingIteration === n + 1);
    }
    checkLedger(await driver.finish(), range(1, 6));
    assert.deepEqual(scenario.effects, range(1, 6));
    assert.equal(scenario.applyAttempts.get(4), 1);
  });

  test('crash between iterations (the checkpoint write never lands): the iteration replays its steps, nothing twice', async () => {
    const first = ledgerScenario();
    const history = new HeldHistory();
    const driver = new Driver(first, history);
    for (const n of range(1, 3)) {
      await driver.put(n);
      await untilSettled(() => first.observed.waitingIteration === n + 1);
    }
    const held = history.holdNext((change) => change.append.some((record) => record.type === 'checkpoint' && record.iteration === 4));
    await driver.put(4);
    await held;
    // What storage holds at the crash: everything but the checkpoint of iteration 4.
    const image = historyOf(history.memory.snapshot());
    assert.deepEqual(summary(image).slice(-3), ['internal main/ledger/#4/events.get', 'step_end main/ledger/#4/apply', 'step_end main/ledger/#4/ack']);
    // The old process is gone; let its run end so that the test leaves nothing behind.
    const suspending = driver.suspend();
    history.held?.open();
    await suspending;

    const second = ledgerScenario();
    const restarted = new Driver(second, image, image);
    await restarted.checkpointed(4);
    assert.deepEqual(second.effects, [], 'iteration 4 ran again, but apply and ack replayed from their records');
    await restarted.feed(range(5, 6));
    checkLedger(await restarted.finish(), range(1, 6));
    assert.deepEqual([...first.effects, ...second.effects], range(1, 6));
  });

  test('twenty restarts, one every few events, at alternating points', async () => {
    const scenario = ledgerScenario();
    const history = new TrackedHistory();
    const driver = new Driver(scenario, history, history);
    let n = 0;
    for (let round = 0; round < 20; round++) {
      await driver.feed(range(n + 1, n + 2));
      n += 2;
      n++;
      if (round % 2 === 0) {
        // Inside the iteration, the step blocked.
        const hold = gate();
        scenario.applyHolds.set(n, hold);
        await driver.put(n);
        await untilSettled(() => scenario.applyAttempts.get(n) === 1);
        await driver.suspend();
        hold.open();
      } else {
        // Waiting in get, with the event already put but not yet taken is impossible to hold; suspend before it.
        await untilSettled(() => scenario.observed.waitingIteration === n);
        await driver.suspend();
        driver.resume();
        await driver.put(n);
        await driver.checkpointed(n);
        continue;
      }
      driver.resume();
      await driver.checkpointed(n);
    }
    checkLedger(await driver.finish(), range(1, n));
    assert.deepEqual(scenario.effects, range(1, n));
  });
});

/**
 * The events of the exhaustive scenarios, in the batches the producer puts them (a batch is put all at once,
 * the next one once the last event of the batch is checkpointed), so that crash points fall while events wait
 * in the queue, while an iteration runs, and between iterations.
 */
const BATCHES = [[1], [2, 3, 4], [5], [6, 7], [8]];
const ALL = BATCHES.flat();

describe('loop(): a stop at every point of a run', () => {
  /**
   * A run without interruption, keeping a copy of the history after each commit while the events are fed (the
   * crash images), with what the producer and the effect log knew at each.
   */
  async function referenceRun() {
    const scenario = ledgerScenario();
    const history = new TrackedHistory();
    history.keepCopies = true;
    const acknowledged: number[] = [];
    const applied: number[] = [];
    const original = history.commit.bind(history);
    let puts = 0;
    let applies = 0;
    let commits = 0;
    history.commit = (change) => {
      original(change);
      commits++;
      for (const record of change.append) {
        if (record.type === 'external') puts++;
        if (record.type === 'step_end' && record.id.endsWith('/apply')) applies++;
      }
      if (history.keepCopies) {
        acknowledged.push(puts);
        applied.push(applies);
      }
    };
    const driver = new Driver(scenario, history, history);
    for (const batch of BATCHES) {
      await Promise.all(batch.map((n) => driver.put(n)));
      await driver.checkpointed(batch.at(-1) as number);
    }
    history.keepCopies = false;
    checkLedger(await driver.finish(), ALL);
    // Image i: `acknowledged[i]` events had been acknowledged to the producer (their act resolved) and the first
    // `applied[i]` effects of the first process were durable (their step's end recorded).
    return { copies: history.copies, acknowledged, applied, effects: scenario.effects, commits };
  }

  test('crash after every commit: a new process resumes from that image, resends what was not acknowledged; nothing lost or twice', async () => {
    const reference = await referenceRun();
    assert.ok(reference.copies.length >= 25, `only ${reference.copies.length} crash points`);
    for (const [i, image] of reference.copies.entries()) {
      const acknowledged = reference.acknowledged[i] as number;
      const durableEffects = reference.effects.slice(0, reference.applied[i]);
      const scenario = ledgerScenario();
      const history = historyOf(image);
      const driver = new Driver(scenario, history, history);
      // The producer resends every event it was not told was recorded, in its batches.
      for (const batch of BATCHES) {
        const rest = batch.filter((n) => n > acknowledged);
        if (rest.length === 0) continue;
        await Promise.all(rest.map((n) => driver.put(n)));
        await driver.checkpointed(batch.at(-1) as number);
      }
      await driver.checkpointed(ALL.length);
      const ledger = await driver.finish();
      const context = `crash image ${i}: ${JSON.stringify(summary(historyOf(image)))}`;
      assert.deepEqual(ledger.seen, ALL, context);
      assert.equal(ledger.sum, sumOf(ALL), context);
      assert.deepEqual([...durableEffects, ...scenario.effects], ALL, context);
    }
  });

  test('suspension right after every commit: the resumed run delivers every event once', async () => {
    // Every commit of an uninterrupted run, the workflow's end included.
    const total = (await referenceRun()).commits;
    for (let at = 1; at <= total; at++) {
      const scenario = ledgerScenario();
      const history = new TrackedHistory();
      let commits = 0;
      const original = history.commit.bind(history);
      history.commit = (change) => {
        original(change);
        // Not from inside the storage call itself: as soon as it returns. (The first commit comes after the
        // history has loaded, so `current` is set by then.)
        if (++commits === at) queueMicrotask(() => void current.historian.suspend());
      };
      const current = new Driver(scenario, history, history);
      let restarts = 0;
      const restart = async () => {
        const ended = await current.running;
        if (ended.ok || !isSuspension(ended.error)) throw ended.ok ? new Error(`finished early (suspension at commit ${at})`) : ended.error;
        current.resume();
        restarts++;
      };
      /** Put events; those rejected by the suspension are resent after the resume. */
      const put = async (events: readonly number[]) => {
        const results = await Promise.allSettled(events.map((n) => current.put(n)));
        const rejected = results.findIndex((result) => result.status === 'rejected');
        if (rejected < 0) return;
        // Acknowledged events form a prefix; the rest failed with the suspension and changed nothing.
        for (const result of results.slice(rejected)) {
          assert.equal(result.status, 'rejected', `suspension at commit ${at}: a put after a rejected one succeeded`);
          if (result.status === 'rejected') assert.ok(isSuspension(result.reason), String(result.reason));
        }
        await restart();
        await Promise.all(events.slice(rejected).map((n) => current.put(n)));
      };
      for (const batch of BATCHES) {
        await put(batch);
        const last = batch.at(-1) as number;
        const stopped = await Promise.race([history.checkpointed(last).then(() => false), current.running.then(() => true)]);
        if (stopped) {
          await restart();
          await history.checkpointed(last);
        }
      }
      await put([-1]);
      let ended = await current.running;
      if (!ended.ok && isSuspension(ended.error)) {
        await restart();
        ended = await current.running;
      }
      if (!ended.ok) throw ended.error;
      assert.equal(restarts, 1, `the suspension after commit ${at} stopped the run once`);
      checkLedger(ended.value, ALL);
      assert.deepEqual(scenario.effects, ALL, `suspension after commit ${at}`);
    }
  });
});
