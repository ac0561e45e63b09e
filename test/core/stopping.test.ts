/**
 * Stopping never waits for user code: a workflow blocked on a promise Quest does not control is suspended at
 * once, records nothing afterwards, and running steps get a bounded grace period.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, abortSignal, isSuspension, step, task, type History, type HistoryChange, type HistoryRecord } from '../../src/index.js';
import { settle } from '../../src/core/deferred.js';
import { untilSettled } from '../helpers.js';
import { gate, outcome, summary, suspend } from './support.js';

/** A promise that never settles: an in-process event nobody fires, a fetch that never answers. */
const never = (): Promise<never> => new Promise<never>(() => undefined);

// Before the fix these hung: fail them instead.
describe('stopping never waits for user code', { timeout: 10_000 }, () => {
  test('suspend() returns while the workflow awaits a promise that never settles', async () => {
    let waiting = false;
    const prepare = step('prepare', async () => 'ready');
    const history = new MemoryHistory();
    const historian = new Historian('w', async () => {
      await prepare();
      waiting = true;
      await never();
    }, history);
    const running = outcome(historian.run());
    await untilSettled(() => waiting);
    await suspend(historian, running);
    assert.equal(historian.status, 'suspended');
    assert.deepEqual(summary(history), ['step_end main/prepare']);
  });

  test('suspend() returns while a task awaits a promise that never settles', async () => {
    let waiting = false;
    const blocked = task('blocked', async () => {
      waiting = true;
      await never();
    });
    const history = new MemoryHistory();
    const historian = new Historian('w', async () => {
      await blocked();
    }, history);
    const running = outcome(historian.run());
    await untilSettled(() => waiting);
    await suspend(historian, running);
    assert.deepEqual(summary(history), ['task_start main/blocked']);
  });

  test('a task that goes on after the suspension gets the stop error at its next Quest call and records nothing', async () => {
    const release = gate();
    let waiting = false;
    let late: unknown;
    const work = step('work', async () => 'done');
    const worker = task('worker', async () => {
      waiting = true;
      await release.promise;
      try {
        await work();
      } catch (error) {
        late = error;
        throw error;
      }
    });
    const history = new MemoryHistory();
    const historian = new Historian('w', async () => {
      await worker();
    }, history);
    const running = outcome(historian.run());
    await untilSettled(() => waiting);
    await suspend(historian, running);
    const recorded = JSON.stringify(history.snapshot());
    release.open();
    await untilSettled(() => late !== undefined);
    assert.ok(isSuspension(late), 'the late Quest call throws WorkflowSuspendedError');
    await settle();
    assert.equal(JSON.stringify(history.snapshot()), recorded, 'nothing was recorded after suspend() resolved');
  });

  test('a workflow that replays into a wait that never settles can be suspended again', async () => {
    const prepare = step('prepare', async () => 'ready');
    let waits = 0;
    const workflow = async (): Promise<void> => {
      await prepare();
      waits++;
      await never();
    };
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(() => waits === 1);
    await suspend(first, running);

    const again = new Historian('w', workflow, history);
    const replaying = outcome(again.run());
    await untilSettled(() => waits === 2);
    await suspend(again, replaying);
    assert.deepEqual(summary(history), ['step_end main/prepare']);
  });

  test('suspend() returns while a configuration call never settles', async () => {
    let configuring = false;
    const history = new MemoryHistory();
    const historian = new Historian('w', async () => 'never reached', history);
    historian.configure(async function setUp() {
      configuring = true;
      await never();
    });
    const running = outcome(historian.run());
    await untilSettled(() => configuring);
    await suspend(historian, running);
  });

  test('the grace period: a step that honours its AbortSignal ends before suspend() resolves', async () => {
    let started = false;
    let cleanedUp = false;
    const fetchLike = step('fetchLike', async () => {
      const signal = abortSignal();
      started = true;
      // Like a fetch given the signal: on abort it takes a moment to release its connection, then rejects.
      await new Promise<void>((_, reject) =>
        signal.addEventListener('abort', () => {
          setTimeout(() => {
            cleanedUp = true;
            reject(signal.reason as Error);
          }, 20);
        }),
      );
    });
    const historian = new Historian('w', () => fetchLike(), new MemoryHistory());
    const running = outcome(historian.run());
    await untilSettled(() => started);
    // No limit: suspend() resolves because the step returned, not because the grace ran out.
    await historian.suspend({ graceMs: Infinity });
    assert.equal(cleanedUp, true, 'the step finished its cleanup before suspend() resolved');
    const ended = await running;
    assert.ok(!ended.ok && isSuspension(ended.error));
  });

  test('the grace period: suspend() waits for a step that ignores its signal, up to the grace period', async () => {
    const release = gate();
    let started = false;
    let returned = false;
    const stubborn = step('stubborn', async () => {
      started = true;
      await release.promise;
      returned = true;
      return 'late';
    });
    const history = new MemoryHistory();
    const historian = new Historian('w', () => stubborn(), history);
    const running = outcome(historian.run());
    await untilSettled(() => started);
    let suspended = false;
    const suspending = historian.suspend({ graceMs: Infinity }).then(() => {
      suspended = true;
    });
    for (let turn = 0; turn < 20; turn++) await settle();
    assert.equal(suspended, false, 'suspend() is still waiting for the step');
    release.open();
    await suspending;
    assert.equal(returned, true, 'suspend() waited for the step to return');
    assert.equal((await running).ok, false);
    assert.deepEqual(summary(history), ['step_start main/stubborn'], 'its result was dropped, not written');
  });

  test('the grace period is bounded: a step that never returns does not hold suspend(), and its late result is not written', async () => {
    const release = gate();
    let started = false;
    let returned = false;
    const stubborn = step('stubborn', async () => {
      started = true;
      await release.promise;
      returned = true;
      return 'late';
    });
    const history = new MemoryHistory();
    const historian = new Historian('w', () => stubborn(), history);
    const running = outcome(historian.run());
    await untilSettled(() => started);
    await historian.suspend({ graceMs: 1 });
    assert.equal(returned, false, 'suspend() went on without the step');
    assert.equal((await running).ok, false);
    release.open();
    await untilSettled(() => returned);
    await settle();
    assert.deepEqual(summary(history), ['step_start main/stubborn'], 'the late result was dropped');
  });

  test('suspend() resolves only once every commit started before it has ended (a queued batch too)', async () => {
    const history = new SlowHistory();
    const quick = step('quick', async (n: number) => n);
    const both = task('both', async (n: number) => quick(n));
    const historian = new Historian('w', async () => {
      const [a, b] = [both(1), both(2)];
      await a;
      await b;
      await never();
    }, history);
    history.holdNext();
    const running = outcome(historian.run());
    // The first step end waits in a held commit; the second is queued behind it as the next batch.
    await untilSettled(() => history.held !== undefined && history.appended.length === 0);
    for (let turn = 0; turn < 5; turn++) await settle();
    const suspending = historian.suspend();
    await settle(); // suspend() is now draining, waiting for the held commit
    history.release();
    await suspending;
    assert.equal(history.inFlight, 0, 'no commit is still running once suspend() has resolved');
    assert.equal((await running).ok, false);
  });

  test('suspend() refuses a negative grace period', async () => {
    const historian = new Historian('w', async () => 1, new MemoryHistory());
    await assert.rejects(historian.suspend({ graceMs: -1 }), /grace period/);
  });
});

/** A history whose commits take an event-loop turn, and whose next commit can be held by the test. */
class SlowHistory implements History {
  inFlight = 0;
  readonly appended: string[] = [];
  held: (() => void) | undefined;
  private holding = false;
  private readonly inner = new MemoryHistory();

  holdNext(): void {
    this.holding = true;
  }

  release(): void {
    this.held?.();
  }

  load(): Promise<readonly HistoryRecord[]> {
    return this.inner.load();
  }

  commit(change: HistoryChange): Promise<void> {
    this.inFlight++;
    const wait = this.holding
      ? new Promise<void>((resolve) => {
          this.held = resolve;
        })
      : settle();
    this.holding = false;
    return wait.then(() => {
      this.inner.commit(change);
      for (const record of change.append) this.appended.push(`${record.type} ${record.id}`);
      this.inFlight--;
    });
  }

  clear(): void {
    this.inner.clear();
  }
}
