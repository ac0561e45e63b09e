/**
 * A run from its beginning to its outcome: the workflow function started once the records that precede it are
 * applied, awaited against the run's stop, its end checked against the history (nothing left unclaimed), the
 * tasks it left behind cancelled, and the outcome handed over before the history is cleared. The Historian
 * (./historian.ts) calls this for every run, and cleans the run up whatever it ends with.
 */
import { contextStorage } from './context.js';
import { NonDeterminismError, WorkflowSuspendedError, withoutStack } from './errors.js';
import type { HistorianOptions } from './historian-types.js';
import { describeRecord, type HistoryRecord } from './records.js';
import type { Run } from './run.js';
import { beginRun } from './run-start.js';
import { endScope } from './scope-end.js';

/**
 * Run the workflow (`callWorkflow`) in `run` over the `records` loaded for it, and resolve with its result or
 * reject with its error once `onFinish` has the outcome and the history is cleared; reject with the run's stop
 * reason when it stops first, NonDeterminismError when the workflow finished before its history was consumed.
 */
export async function runToOutcome<R>(
  run: Run,
  records: readonly HistoryRecord[],
  callWorkflow: () => Promise<R>,
  onFinish: HistorianOptions['onFinish'],
): Promise<R> {
  // Every await on user code (configurations, the workflow, its tasks) is raced against the run's stop:
  // stopping never waits for a promise Quest does not control.
  let main!: Promise<R>;
  const begun = beginRun(run, records, () => {
    const mainEnded = run.quiescence.taskStarted();
    main = contextStorage.run(run.rootContext(), () => Promise.resolve().then(callWorkflow));
    // Also marks it handled at once: a stop may leave it behind, rejecting after nobody awaits it any more.
    main.then(mainEnded, mainEnded);
  });
  // A new workflow with nothing to record first begins at once (no promise, no await).
  if (begun !== undefined) await run.untilStopped(begun);
  let ok = true;
  let value: R | undefined;
  let error: unknown;
  try {
    value = await run.untilStopped(main);
  } catch (thrown) {
    ok = false;
    error = thrown;
  }
  if (run.stopReason !== undefined) throw run.stopReason;
  const expected = run.replay?.nextClaimable();
  if (expected !== undefined) {
    const divergence = new NonDeterminismError(`The workflow finished, but its history still expected the ${describeRecord(expected)}`);
    run.fail(divergence);
    throw divergence;
  }
  // Finished (returned or threw): tasks it did not await are cancelled as at the end of any scope
  // (TaskCancelledError, not a suspension: their cleanup must see that the workflow really ended).
  if (!run.rootScope.idle) {
    await run.untilStopped(endScope(run.rootContext()));
    if (run.stopReason !== undefined) throw run.stopReason;
  }
  // Stop what is left, hand over the outcome, then forget the history.
  run.stopFinished(() => withoutStack(() => new WorkflowSuspendedError(run.workflowId)));
  await onFinish?.(ok ? { ok, value } : { ok, error });
  const cleared = run.options.history.clear();
  if (cleared !== undefined) await cleared;
  if (!ok) throw error;
  return value as R;
}
