/**
 * Steps: the unit of work Quest remembers. A step's result is recorded when it ends; everything recorded
 * inside it is forgotten then (pruned), and a replay returns the recorded result without running it again.
 */
import { StepFrame, Scope, checkName, contextStorage, currentContext, notInWorkflow, type WorkflowContext } from './context.js';
import { InvalidArgumentError, isQuestError, isSuspension } from './errors.js';
import { sleep } from './sleep.js';
import { checkTimeout, withStepTimeout } from './timeout.js';
import type { Outcome, StepEndRecord } from './records.js';
import { endScope } from './scope-end.js';
import { errorOutcome, outcomeOf, valueOf } from './outcome.js';

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
export function step<A extends unknown[], R>(name: string, fn: (...args: A) => R, options?: StepOptions): Step<A, R>;
export function step<A extends unknown[], R>(fn: (...args: A) => R, options?: StepOptions): Step<A, R>;
export function step<A extends unknown[], R>(
  nameOrFn: string | ((...args: A) => R),
  fnOrOptions?: ((...args: A) => R) | StepOptions,
  maybeOptions?: StepOptions,
): Step<A, R> {
  const named = typeof nameOrFn === 'string';
  const name = named ? nameOrFn : nameOrFn.name;
  const fn = (named ? fnOrOptions : nameOrFn) as ((...args: A) => R) | undefined;
  const options = (named ? maybeOptions : fnOrOptions) as StepOptions | undefined;
  if (typeof fn !== 'function') throw new TypeError('step() needs a function: step(name, fn) or step(fn).');
  checkName('step', name);
  const timed: (...args: A) => unknown = options?.timeoutMs === undefined ? fn : withStepTimeout(fn, checkTimeout(`step ${name}`, options.timeoutMs));
  const body: (...args: A) => unknown = options?.retry === undefined ? timed : withRetries(timed, checkRetry(options.retry));
  return (...args: A) => {
    const context = currentContext();
    // Like every Quest call, a misplaced step rejects rather than throwing synchronously.
    if (context === undefined) return Promise.reject(notInWorkflow(`step ${JSON.stringify(name)}`));
    return runStep(context, name, body, args) as Promise<Awaited<R>>;
  };
}

/** Options of {@link step}. */
export interface StepOptions {
  /** Run the step again when it throws, as the policy says. Attempts are recorded: a restart does not reset them. */
  retry?: RetryPolicy;
  /**
   * Fail the step with TimeoutError (recorded as its outcome) when its body has not returned after this many
   * milliseconds. The body's `abortSignal()` aborts then, and its further Quest calls throw. With `retry`, each
   * attempt has its own timeout (a TimeoutError is retried by default). A body interrupted by a restart runs
   * again with its full timeout.
   */
  timeoutMs?: number;
}

/**
 * How a failing step is retried. Each attempt is a sub-step (`name/attempt`, `name/attempt#2`, ...) and each
 * pause a durable sleep, so the attempt count and the backoff survive restarts; when the step finally ends,
 * they are pruned with it.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included (at least 1). */
  attempts: number;
  /** Pause before the second attempt, in ms. Default 1000. */
  delayMs?: number;
  /** Each pause is the previous one times this. Default 2. */
  backoff?: number;
  /** Longest pause, in ms. Default 60,000. */
  maxDelayMs?: number;
  /**
   * Whether an error deserves another attempt. Default: every error except Quest's terminal errors (such as
   * NotSerializableError) and suspension. The error may be a rebuilt one when the attempt is replayed.
   */
  retryIf?: (error: unknown) => boolean;
}

function checkRetry(policy: RetryPolicy): Required<RetryPolicy> {
  if (!Number.isInteger(policy.attempts) || policy.attempts < 1) {
    throw new InvalidArgumentError(`retry.attempts must be a whole number of at least 1, got ${String(policy.attempts)}.`);
  }
  return {
    attempts: policy.attempts,
    delayMs: policy.delayMs ?? 1000,
    backoff: policy.backoff ?? 2,
    maxDelayMs: policy.maxDelayMs ?? 60_000,
    retryIf: policy.retryIf ?? ((error) => !isQuestError(error) || error.retryable),
  };
}

function withRetries<A extends unknown[], R>(fn: (...args: A) => R, policy: Required<RetryPolicy>): (...args: A) => Promise<unknown> {
  const attempt = step('attempt', fn);
  return async (...args: A) => {
    let delay = policy.delayMs;
    for (let made = 1; ; made++) {
      try {
        return await attempt(...args);
      } catch (error) {
        if (made >= policy.attempts || isSuspension(error) || !policy.retryIf(error)) throw error;
      }
      await sleep(Math.min(delay, policy.maxDelayMs));
      delay *= policy.backoff;
    }
  };
}

async function runStep<A extends unknown[]>(context: WorkflowContext, name: string, fn: (...args: A) => unknown, args: A): Promise<unknown> {
  const { run, task, scope } = context;
  task.check();
  const id = scope.nextId(name);
  if (run.replay !== null) {
    const endAt = run.replay.find('step_end', id);
    if (endAt >= 0) {
      const record = (await task.track(run.replay.claim(endAt))) as StepEndRecord;
      scope.frame?.seqs.push(record.seq);
      return valueOf(record);
    }
  }
  const body = await runBody(context, id, fn, args);
  if (run.replay !== null) await run.waitLive(`end of step ${id}`);
  else if (run.stopReason !== undefined) throw run.stopReason;
  endIfCancelled(context, body);
  const recorded = outcomeToRecord(body);
  const durable = run.writeDurable(task.id, scope.frame, { type: 'step_end', id, ...recorded }, run.forgetting.completeFrame(body.frame));
  if (durable !== undefined) await durable;
  if (!body.ok) throw body.outcome;
  return body.outcome;
}

/** How a step-like body ended, before its end is recorded. */
export interface BodyResult {
  ok: boolean;
  outcome: unknown;
  /** The body's records, to prune when its end is recorded (see Forgetting.completeFrame). */
  readonly frame: StepFrame;
}

/**
 * Run the body of a step-like scope `id` (a step, a loop iteration): claim its start record on replay (the
 * body then runs again: it had not ended) or write one, run `fn` in a new scope, then end that scope
 * (cancel its tasks, close its resources). Throws when the run or the task stopped meanwhile; a cancelled body
 * is forgotten entirely, so a replay does not run it again.
 */
export async function runBody<A extends unknown[]>(
  context: WorkflowContext,
  id: string,
  fn: (...args: A) => unknown,
  args: A,
  /** A step's body (user code, side effects): a replay-only run does not run it again. A loop iteration's is workflow code. */
  userCode = true,
): Promise<BodyResult> {
  const { run, task, scope } = context;
  const frame = new StepFrame(id, scope.frame);
  // Outside replay there is nothing to claim: skip the await (steps are the hot path).
  const started = run.replay === null ? null : await run.claimOrLive(context, 'step_start', id, `step ${id}`);
  if (started === null) run.write(task.id, frame, { type: 'step_start', id });
  else frame.seqs.push(started.seq);
  if (started !== null && userCode && run.replayOnly) return notRunAgain(context, id);
  // A restarted body runs live while replay goes on; it may still claim records, so replay must wait for it.
  const replayDuringBody = started === null ? null : run.replay;
  replayDuringBody?.bodyStarted();
  const result: BodyResult = { ok: true, outcome: undefined, frame };
  const bodyScope = new Scope(id, frame);
  try {
    const running = Promise.resolve(contextStorage.run({ ...context, scope: bodyScope }, fn, ...args));
    run.stepBodyStarted(running);
    result.outcome = await task.wait(running);
  } catch (error) {
    result.ok = false;
    result.outcome = error;
  } finally {
    replayDuringBody?.bodyEnded();
  }
  if (!bodyScope.idle) await endScope({ ...context, scope: bodyScope });
  if (run.stopReason !== undefined) throw run.stopReason;
  if (task.stopReason !== undefined) {
    run.forget(run.forgetting.closeFrame(frame));
    throw task.stopReason;
  }
  return result;
}

/**
 * The task was cancelled after the body returned but before its end is recorded (another task's cancel came in
 * between): the body is forgotten like one cancelled midway, so that the cancel, recorded before, takes effect
 * here live as it does on replay, where the end would come after it.
 */
export function endIfCancelled(context: WorkflowContext, body: BodyResult): void {
  const { run, task } = context;
  if (task.stopReason === undefined) return;
  run.forget(run.forgetting.closeFrame(body.frame));
  throw task.stopReason;
}

/**
 * Replay only: a step that had started and not ended is not run again (its body may have side effects); its
 * records are passed over and the task waits here until the run stops at the end of the history.
 */
async function notRunAgain(context: WorkflowContext, id: string): Promise<never> {
  const { run, task } = context;
  run.stepNotRun(id);
  return task.wait(run.untilStopped(new Promise<never>(() => undefined)));
}

/** The record fields of a body's outcome; a value that cannot be recorded turns the outcome into that error. */
export function outcomeToRecord(body: BodyResult): Outcome {
  try {
    return body.ok ? outcomeOf(body.outcome) : errorOutcome(body.outcome);
  } catch (serializationError) {
    body.ok = false;
    body.outcome = serializationError;
    return errorOutcome(serializationError);
  }
}
