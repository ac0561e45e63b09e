/**
 * Bounded history for workflows that loop forever over incoming events.
 *
 * A workflow that reads events at its top level keeps every one of them in its history: the events are what
 * replay needs to rebuild the loop's local state. `loop()` makes that state explicit instead: each iteration
 * is a step-like scope whose end is a *checkpoint* holding the state the next iteration starts from. The
 * checkpoint replaces the previous one, the iteration's records are pruned, and an outside event consumed
 * inside the iteration leaves the history with it (see Forgetting.closeFrame). Replay starts from the checkpoint, so
 * its cost no longer depends on how many events the loop has handled.
 *
 * History of a loop over a queue fed from outside, at any moment: the queue's open record, one checkpoint,
 * the records of the iteration in progress, and the outside events not consumed yet.
 */
import { checkName, requireContext } from './context.js';
import { InvalidArgumentError } from './errors.js';
import type { CheckpointRecord } from './records.js';
import { valueOf } from './outcome.js';
import { endIfCancelled, outcomeToRecord, runBody } from './step.js';

const DONE: unique symbol = Symbol('quest.loop.done');

/** Returned by a loop body to end the loop with `value`. */
export interface LoopDone<R> {
  readonly [DONE]: true;
  readonly value: R;
}

/** End a {@link loop} with `value` (return it from the body). */
export function done<R>(value: R): LoopDone<R> {
  return { [DONE]: true, value };
}

function isDone<R>(value: unknown): value is LoopDone<R> {
  return typeof value === 'object' && value !== null && DONE in value;
}

/**
 * Run `body` again and again, each iteration receiving the state the previous one returned (the first gets
 * `initial`), until it returns `done(value)`; resolves with `value`. The state must be serializable: it is
 * the only thing the loop remembers of past iterations. An iteration that was running when the workflow
 * stopped runs again on resume (its completed steps replay); a completed iteration never runs again.
 *
 * @example
 * const total = await loop('orders', { count: 0, cents: 0 }, async (totals) => {
 *   const order = await orders.get();                 // an outside event, forgotten once handled
 *   if (order === 'close') return done(totals);
 *   await ship(order);                                // a step
 *   return { count: totals.count + 1, cents: totals.cents + order.cents };
 * });
 */
export async function loop<S, R>(name: string, initial: S, body: (state: S, iteration: number) => Promise<S | LoopDone<R>> | S | LoopDone<R>): Promise<R> {
  checkName('loop', name);
  if (typeof body !== 'function') throw new InvalidArgumentError('loop() needs a body function.');
  const context = requireContext(`loop(${JSON.stringify(name)})`);
  const { run, task, scope } = context;
  task.check();
  const id = scope.nextId(name);
  let state = initial;
  let iteration = 0;
  let checkpointSeq: number | undefined;
  if (run.replay !== null) {
    const at = run.replay.find('checkpoint', id);
    if (at >= 0) {
      const checkpoint = (await task.track(run.replay.claim(at))) as CheckpointRecord;
      scope.frame?.seqs.push(checkpoint.seq);
      if (checkpoint.done) return valueOf(checkpoint) as R;
      state = valueOf(checkpoint) as S;
      iteration = checkpoint.iteration;
      checkpointSeq = checkpoint.seq;
    }
  }
  for (;;) {
    iteration++;
    const current = iteration;
    const result = await runBody(context, `${id}/#${current}`, () => body(state, current), [], false);
    const finished = result.ok && isDone<R>(result.outcome);
    if (finished) result.outcome = (result.outcome as LoopDone<R>).value;
    await run.waitLive(`end of iteration ${current} of loop ${id}`);
    endIfCancelled(context, result);
    const recorded = outcomeToRecord(result);
    // The previous checkpoint leaves with this one; forgotten first, so that completeFrame no longer counts it
    // as a record replay would claim.
    if (checkpointSeq !== undefined) run.forget([checkpointSeq]);
    const remove = run.forgetting.completeFrame(result.frame);
    const durable = run.writeDurable(task.id, scope.frame, {
      type: 'checkpoint', id, iteration: current, done: finished || !result.ok, ...recorded,
    }, remove);
    checkpointSeq = run.lastSeq;
    if (durable !== undefined) await durable;
    if (!result.ok) throw result.outcome;
    if (finished) return result.outcome as R;
    state = result.outcome as S;
  }
}

