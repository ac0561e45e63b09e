/**
 * Structured concurrency: when a step or task body ends, the tasks it started and did not await are
 * cancelled, and the resources it opened and did not close are closed, before its end is recorded.
 */
import type { WorkflowContext } from './context.js';
import { closeResource } from './run-resources.js';
import { TaskState } from './task-state.js';

export async function endScope(context: WorkflowContext): Promise<void> {
  const { run, scope } = context;
  if (scope.tasks.size > 0) {
    const tasks = [...scope.tasks];
    for (const task of tasks) task.cancel();
    await Promise.all(tasks.map((task) => task.finished));
  }
  if (scope.resources.size === 0) return;
  const resources = [...scope.resources].reverse();
  scope.resources.clear();
  if (run.stopReason !== undefined) {
    for (const resource of resources) run.forgetResource(resource);
    return;
  }
  // A cancelled task still records its closes, under a stand-in that is not itself cancelled.
  const cleanup = context.task.stopReason === undefined ? context : { ...context, task: new TaskState(context.task.id, null) };
  for (const resource of resources) await closeResource(run, cleanup, resource);
}
