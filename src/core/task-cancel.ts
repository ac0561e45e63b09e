/**
 * Cancelling a task from workflow code, recorded (the seed's TODO: "handle cancellations from other tasks as
 * outside events so a canceled task finishes after the cancellation is sent").
 *
 * A cancel is a `task_cancel` record at the point of the history where it was made. On replay the task is
 * cancelled at that same point: when the call runs again, it claims its record and the cancellation takes
 * effect when replay reaches it (not earlier, at the call); when the call was made inside a step or loop
 * iteration that has completed, its code never runs again, and replay applies the record by itself. Without
 * the record, such a cancel would simply not happen on replay, and the cancelled task would go on.
 *
 * The record is pruned with the cancelled task's own records (those of the scope that started it), not with
 * the scope of the call, so that a cancel made inside a step outlives the step.
 */
import type { WorkflowContext, StepFrame } from './context.js';
import type { TaskCancelRecord } from './records.js';
import type { Run } from './run.js';
import type { TaskState } from './task-state.js';

/** Label of the op id of a cancel call; `#` keeps it apart from every step, task and resource label. */
const CANCEL_LABEL = '#cancel';

/** The scope frame that owns each task's records (where its start was recorded), for pruning its cancel. */
const creatorFrames = new WeakMap<TaskState, StepFrame | null>();

/** startTask: remember which frame prunes the task's records. */
export function taskStarted(state: TaskState, creatorFrame: StepFrame | null): void {
  if (creatorFrame !== null) creatorFrames.set(state, creatorFrame);
}

/** `caller` cancels `target` (a task of the same run): record it, or replay it where it was recorded. */
export function cancelTask(caller: WorkflowContext, target: TaskState): void {
  const run = caller.run;
  // A stopped run records nothing: the task stops with the run anyway.
  if (run.stopReason !== undefined) {
    target.cancel();
    return;
  }
  const id = caller.scope.nextId(CANCEL_LABEL);
  const replay = run.replay;
  if (replay === null) {
    record(run, caller, target, id);
    return;
  }
  const position = replay.find('task_cancel', id);
  if (position >= 0) {
    replay.claim(position).promise.then(
      (claimed) => {
        keep(run, caller.scope.frame, target, claimed.seq);
        target.cancel();
      },
      () => undefined, // replay stopped: the task stops with the run
    );
    return;
  }
  // Written by a Quest that did not record cancels: the cancel happened here, at the call, as it did then.
  if (replay.cancelsUnrecordedHere) {
    target.cancel();
    return;
  }
  // Made after the end of the history: it takes effect, recorded, once replay has caught up.
  replay.waitLive(`cancel of task ${target.id} (${id})`, () => {
    if (run.stopReason === undefined) record(run, caller, target, id);
    else target.cancel();
  }).promise.catch(() => undefined);
}

/** Replay reached the cancel of a task made inside a completed step: apply it. */
export function replayTaskCancel(run: Run, record: TaskCancelRecord): void {
  const target = findTask(run.root, record.target);
  if (target === undefined) return; // the task had already ended when it was cancelled
  keep(run, null, target, record.seq);
  target.cancel();
}

function record(run: Run, caller: WorkflowContext, target: TaskState, id: string): void {
  const frame = creatorFrames.get(target) ?? null;
  run.write(caller.task.id, frame, { type: 'task_cancel', id, target: target.id });
  if (caller.scope.frame !== frame) run.forgetting.closedFromNestedScope(caller.scope.frame, run.lastSeq);
  target.cancel();
}

/** A replayed cancel record belongs to the cancelled task's records, as when it was written. */
function keep(run: Run, callerFrame: StepFrame | null, target: TaskState, seq: number): void {
  const frame = creatorFrames.get(target) ?? null;
  frame?.seqs.push(seq);
  if (callerFrame !== null && callerFrame !== frame) run.forgetting.closedFromNestedScope(callerFrame, seq);
}

/** The unfinished task `id` of the tree under `task`. */
function findTask(task: TaskState, id: string): TaskState | undefined {
  if (task.id === id) return task;
  for (const child of task.children) {
    const found = findTask(child, id);
    if (found !== undefined) return found;
  }
  return undefined;
}
