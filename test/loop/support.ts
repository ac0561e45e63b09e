/**
 * Helpers of the loop() tests: histories that report every commit (so "at all times" means after every
 * durable change, not at a few sample points), histories whose commits the test can hold, gates, and
 * run outcomes. Everything waits on conditions; nothing sleeps.
 */
import assert from 'node:assert/strict';
import {
  MemoryHistory,
  isSuspension,
  Historian,
  type History,
  type HistoryChange,
  type HistoryRecord,
} from '../../src/index.js';

/** A promise the test resolves, to hold a step body (or a commit) at a point of its choosing. */
export interface Gate<T = void> {
  readonly promise: Promise<T>;
  readonly opened: boolean;
  open(value: T): void;
}

export function gate<T = void>(): Gate<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  const result = {
    promise,
    opened: false,
    open(value: T) {
      result.opened = true;
      resolve(value);
    },
  };
  return result;
}

/** What a run ended with, as a value (never rejects). */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export function outcome<R>(run: Promise<R>): Promise<Outcome<R>> {
  return run.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** Suspend and check that the run ended with a suspension (not a result, not another error). */
export async function suspend(historian: Pick<Historian, 'suspend'>, run: Promise<Outcome<unknown>>): Promise<void> {
  await historian.suspend();
  const ended = await run;
  if (ended.ok) assert.fail(`a suspended run must not produce a result, got ${JSON.stringify(ended.value)}`);
  if (!isSuspension(ended.error)) throw ended.error;
}

/** The value a run returned; fails the test with the run's error otherwise. */
export async function value<R>(run: Promise<Outcome<R>>): Promise<R> {
  const ended = await run;
  if (!ended.ok) throw ended.error;
  return ended.value;
}

/** `type id` of every record, in order. */
export function summary(history: MemoryHistory): string[] {
  return history.snapshot().map((record) => `${record.type} ${record.id}`);
}

/**
 * A MemoryHistory that watches every commit: the largest size it ever had after a commit (MemoryHistory
 * applies a commit synchronously, so between two commits nobody can observe another size), the number of
 * records each `load()` returned, the latest loop checkpoint, and copies of the history after each commit
 * when asked (crash points).
 */
export class TrackedHistory extends MemoryHistory {
  /** Largest number of records after any commit so far. */
  maxSize = 0;
  /** Records returned by each load(): what each run had to replay. */
  readonly loads: number[] = [];
  /** Iteration of the latest checkpoint committed, of any loop (0: none yet). */
  checkpointIteration = 0;
  /** Iteration of the latest checkpoint committed, by loop op id. */
  readonly checkpoints = new Map<string, number>();
  /** Copies of the whole history after each commit, when `keepCopies` is set. */
  readonly copies: HistoryRecord[][] = [];
  keepCopies = false;
  private waiters: Array<{ ready: () => boolean; resolve: () => void }> = [];

  override load(): Promise<readonly HistoryRecord[]> {
    this.loads.push(this.size);
    return super.load();
  }

  override commit(change: HistoryChange): void {
    super.commit(change);
    if (this.size > this.maxSize) this.maxSize = this.size;
    for (const record of change.append) {
      if (record.type !== 'checkpoint') continue;
      this.checkpointIteration = record.iteration;
      this.checkpoints.set(record.id, record.iteration);
    }
    if (this.keepCopies) this.copies.push(structuredClone(this.snapshot()));
    if (this.waiters.length > 0) {
      const waiting = this.waiters;
      this.waiters = [];
      for (const waiter of waiting) {
        if (waiter.ready()) waiter.resolve();
        else this.waiters.push(waiter);
      }
    }
  }

  /**
   * Resolves once the checkpoint of iteration `iteration` (or a later one) is durable: of the loop with op id
   * `loopId`, or of whichever loop wrote the latest checkpoint.
   */
  checkpointed(iteration: number, loopId?: string): Promise<void> {
    const ready = loopId === undefined ? () => this.checkpointIteration >= iteration : () => (this.checkpoints.get(loopId) ?? 0) >= iteration;
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ ready, resolve }));
  }

  /** Reset the per-phase maximum (e.g. after resuming). */
  resetMax(): void {
    this.maxSize = this.size;
  }
}

/** A fresh in-memory history holding copies of `records` (a crash image: what storage held at that point). */
export function historyOf(records: readonly HistoryRecord[]): TrackedHistory {
  const history = new TrackedHistory();
  history.commit({ append: structuredClone(records) as HistoryRecord[], remove: [] });
  history.maxSize = history.size;
  return history;
}

/**
 * A history whose commits complete when the test says so (like a slow disk), for the moments between a
 * change leaving the engine and becoming durable. Unheld commits apply at once.
 */
export class HeldHistory implements History {
  readonly memory = new MemoryHistory();
  private holdIf: ((change: HistoryChange) => boolean) | undefined;
  /** The commit being held, if any: open its gate to apply it. */
  held: Gate | undefined;
  /** Resolves when a commit is held. */
  private heldSignal: Gate | undefined;

  load(): Promise<readonly HistoryRecord[]> {
    return this.memory.load();
  }

  clear(): void {
    this.memory.clear();
  }

  /** Hold the next commit that satisfies `predicate`; resolves when it arrives. */
  holdNext(predicate: (change: HistoryChange) => boolean): Promise<void> {
    this.holdIf = predicate;
    this.heldSignal = gate();
    return this.heldSignal.promise;
  }

  commit(change: HistoryChange): Promise<void> | void {
    if (this.holdIf === undefined || !this.holdIf(change)) {
      this.memory.commit(change);
      return undefined;
    }
    this.holdIf = undefined;
    const held = gate();
    this.held = held;
    this.heldSignal?.open();
    return held.promise.then(() => this.memory.commit(change));
  }
}

/** 1 + 2 + ... + n, exactly (numbers up to 2^53). */
export function triangle(n: number): number {
  return (n * (n + 1)) / 2;
}

/** Names (`name` or `name@identity`) of the resources `identity` sees now. */
export async function visible(historian: Pick<Historian, 'resources'>, identity: string | null): Promise<string[]> {
  return (await historian.resources(identity))
    .map((resource) => (resource.identity === null ? resource.name : `${resource.name}@${resource.identity}`))
    .sort();
}

/**
 * Check an effect log written by steps against the expected sequence. A suspension at an arbitrary moment can
 * fall after a step body finished but before its end was recorded: that step runs again on resume (Quest's
 * documented at-least-once for a step running at suspension), so its effect appears twice in a row. Allow at
 * most `arbitraryStops` such repeats; everything else must match exactly (nothing lost, nothing else twice).
 */
export function assertEffects<T>(log: readonly T[], expected: readonly T[], arbitraryStops: number): void {
  const once = log.filter((entry, i) => i === 0 || entry !== log[i - 1]);
  assert.deepEqual(once, expected, 'every effect, in order');
  assert.ok(log.length - once.length <= arbitraryStops, `${log.length - once.length} repeated effects for ${arbitraryStops} arbitrary stops`);
}

/** A workflow run by a Historian that can be suspended and resumed over the same history. */
export class Runner<R> {
  historian!: Historian<never[], R>;
  running!: Promise<Outcome<R>>;
  constructor(
    private readonly workflow: () => Promise<R>,
    readonly history = new TrackedHistory(),
    private readonly workflowId = 'loop',
  ) {
    this.resume();
  }

  act(name: string, identity: string | null, action: string, ...args: unknown[]): Promise<unknown> {
    return this.historian.act(name, identity, action, ...args);
  }

  /** Suspend the run and resume it from its history. */
  async restart(): Promise<void> {
    await suspend(this.historian, this.running);
    this.resume();
  }

  /** Start a new run over the history. */
  resume(): void {
    this.historian = new Historian(this.workflowId, this.workflow, this.history);
    this.running = outcome(this.historian.run());
  }

  result(): Promise<R> {
    return value(this.running);
  }
}
