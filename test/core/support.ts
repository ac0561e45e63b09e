/** Shared helpers of the core tests: outcomes of runs, controllable promises, history summaries. */
import assert from 'node:assert/strict';
import { isSuspension, type Historian, type MemoryHistory } from '../../src/index.js';

/** A promise resolved from the test, to hold a step body (not the workflow) at a point of our choosing. */
export interface Gate<T = void> {
  readonly promise: Promise<T>;
  open(value: T): void;
}

export function gate<T = void>(): Gate<T> {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** What a run ended with, as a value (never rejects): `{ ok, value }` or `{ ok: false, error }`. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export function outcome<R>(run: Promise<R>): Promise<Outcome<R>> {
  return run.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}

/** Suspend `historian` and check that its run ended with a suspension (not a failure or a result). */
export async function suspend(historian: Pick<Historian, 'suspend'>, run: Promise<Outcome<unknown>>): Promise<void> {
  await historian.suspend();
  const ended = await run;
  assert.equal(ended.ok, false, 'a suspended run must not produce a result');
  if (!ended.ok && !isSuspension(ended.error)) throw ended.error;
}

/** The error a run failed with; fails the test when it succeeded. */
export async function failure(run: Promise<unknown>): Promise<Error> {
  const ended = await outcome(run);
  if (ended.ok) assert.fail(`expected the run to fail, it returned ${JSON.stringify(ended.value)}`);
  assert.ok(ended.error instanceof Error, 'runs fail with Error instances');
  return ended.error;
}

/** `type id` of every record, in order: compact enough to assert whole histories. */
export function summary(history: MemoryHistory): string[] {
  return history.snapshot().map((record) => `${record.type} ${record.id}`);
}

/** Names (`name` or `name@identity`) of the resources `identity` sees now. */
export async function visible(historian: { resources(identity: string | null): Promise<Array<{ name: string; identity: string | null }>> }, identity: string | null): Promise<string[]> {
  return (await historian.resources(identity))
    .map((resource) => (resource.identity === null ? resource.name : `${resource.name}@${resource.identity}`))
    .sort();
}

/** True when each identity of `identities` sees the resource `expected(identity)` (a name as `visible` gives it). */
export async function everyIdentity(
  historian: Parameters<typeof visible>[0],
  identities: readonly string[],
  expected: (identity: string) => string,
): Promise<boolean> {
  for (const identity of identities) {
    if (!(await visible(historian, identity)).includes(expected(identity))) return false;
  }
  return true;
}

/** Resolves once `historian` has replayed its history (its resource streams start after replay). */
export async function replayed(historian: Pick<Historian, 'resourceStream'>): Promise<void> {
  const stream = historian.resourceStream(null);
  await stream.next();
  stream.end();
}
