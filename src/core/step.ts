/**
 * Steps: the unit of work Quest remembers. A step's result is recorded when it ends; everything recorded
 * inside it is forgotten then (pruned), and a replay returns the recorded result without running it again.
 */
import { StepFrame, Scope, checkName, contextStorage, requireContext, type WorkflowContext } from './context.js';
import type { StepEndRecord } from './records.js';
import { endScope } from './scope-end.js';
import { errorOutcome, outcomeOf, valueOf } from './run.js';

/** An async function turned into a step: same arguments, same result, recorded. */
export type Step<A extends unknown[], R> = (...args: A) => Promise<Awaited<R>>;

/**
 * Turn an async function into a step. Inside a workflow, calling the step:
 * - when the history has the step's end, returns the recorded result (or throws the recorded error, rebuilt
 *   as the same class when it is registered or built in) **without running the function**;
 * - otherwise runs it, records its result (durably, before returning) and forgets everything recorded inside.
 * A step that was running when the workflow stopped runs again on resume (at-least-once): make it idempotent.
 *
 * Name steps explicitly when bundlers may rename functions. Step ids are the path of enclosing task and step
 * names plus the name, with `#2`, `#3`... for repeats in the same scope, and must be the same on every replay.
 *
 * @example
 * const charge = step('charge', async (orderId: string, cents: number) => payments.charge(orderId, cents));
 * const receipt = await charge('o-1', 500); // runs once; replays return the recorded receipt
 */
export function step<A extends unknown[], R>(name: string, fn: (...args: A) => R): Step<A, R>;
export function step<A extends unknown[], R>(fn: (...args: A) => R): Step<A, R>;
export function step<A extends unknown[], R>(nameOrFn: string | ((...args: A) => R), maybeFn?: (...args: A) => R): Step<A, R> {
  const [name, fn] = typeof nameOrFn === 'string' ? [nameOrFn, maybeFn] : [nameOrFn.name, nameOrFn];
  if (typeof fn !== 'function') throw new TypeError('step() needs a function: step(name, fn) or step(fn).');
  checkName('step', name);
  return (...args: A) => runStep(requireContext(`step ${JSON.stringify(name)}`), name, fn, args) as Promise<Awaited<R>>;
}

async function runStep<A extends unknown[], R>(context: WorkflowContext, name: string, fn: (...args: A) => R, args: A): Promise<unknown> {
  const { run, task, scope } = context;
  task.check();
  const id = scope.nextId(name);
  let startSeq: number | undefined;
  let restarted = false;
  if (run.replay !== null) {
    const replay = run.replay;
    const endAt = replay.find('step_end', id);
    if (endAt >= 0) {
      const record = (await task.track(replay.claim(endAt))) as StepEndRecord;
      scope.frame?.seqs.push(record.seq);
      return valueOf(record);
    }
    const startAt = replay.find('step_start', id);
    if (startAt >= 0) {
      startSeq = (await task.track(replay.claim(startAt))).seq;
      restarted = true;
    } else {
      await task.track(replay.waitLive(`step ${id}`));
    }
  }
  const frame = new StepFrame(id, scope.frame);
  if (startSeq === undefined) {
    run.write(task.id, frame, { type: 'step_start', id });
  } else {
    frame.seqs.push(startSeq);
  }
  const stepScope = new Scope(id, frame);
  const replayDuringBody = restarted ? run.replay : null;
  replayDuringBody?.bodyStarted();
  let ok = true;
  let outcome: unknown;
  try {
    outcome = await task.wait(Promise.resolve(contextStorage.run({ run, task, scope: stepScope }, fn, ...args)));
  } catch (error) {
    ok = false;
    outcome = error;
  } finally {
    replayDuringBody?.bodyEnded();
  }
  await endScope({ run, task, scope: stepScope });
  if (run.stopReason !== undefined) throw run.stopReason;
  if (task.stopReason !== undefined) {
    // Cancelled, not finished: forget the step entirely so that a replay does not run its body again.
    run.forget(frame.seqs);
    throw task.stopReason;
  }
  await run.waitLive(`end of step ${id}`);
  let recorded;
  try {
    recorded = ok ? outcomeOf(outcome) : errorOutcome(outcome);
  } catch (serializationError) {
    ok = false;
    outcome = serializationError;
    recorded = errorOutcome(serializationError);
  }
  const durable = run.writeDurable(task.id, scope.frame, { type: 'step_end', id, ...recorded }, frame.seqs);
  if (durable !== undefined) await durable;
  if (!ok) throw outcome;
  return outcome;
}
