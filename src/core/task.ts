/**
 * Tasks: concurrent work inside a workflow, like `asyncio.create_task`. A task's records carry its id, so on
 * resume every task is started again and replays its own records while the others replay theirs.
 */
import { Scope, checkName, contextStorage, requireContext, type WorkflowContext } from './context.js';
import { InvalidArgumentError } from './errors.js';
import { endScope } from './scope-end.js';
import { errorOutcome, outcomeOf } from './outcome.js';
import { TaskState } from './task-state.js';
import { cancelTask, taskStarted } from './task-cancel.js';

/**
 * A running task: await it for its result (or its error); `cancel()` stops it at its next Quest await with
 * `TaskCancelledError`. Any task of the workflow that started it may cancel it; the cancellation is recorded,
 * so a replay cancels it at the same point (also when the cancel was made inside a step that has completed).
 */
export interface TaskHandle<R> extends PromiseLike<R> {
  /** The task's id: the path of the scope that started it plus its name. */
  readonly id: string;
  /** Stop the task (and the tasks it started) at their next Quest await; awaiting it then throws TaskCancelledError. */
  cancel(): void;
  catch<E = never>(onRejected?: (reason: unknown) => E | PromiseLike<E>): Promise<R | E>;
}

/** An async function turned into a task starter. */
export type TaskStarter<A extends unknown[], R> = (...args: A) => TaskHandle<Awaited<R>>;

/**
 * Turn an async function into a task starter. Calling it inside a workflow starts the function concurrently
 * and returns a {@link TaskHandle}. Tasks nest. When the scope that started a task (the workflow, a step or
 * another task) ends, tasks it did not await are cancelled.
 *
 * @example
 * const collect = task('collect', async (player: string) => { ... });
 * const [a, b] = [collect('ann'), collect('bob')];
 * const scores = [await a, await b];
 */
export function task<A extends unknown[], R>(name: string, fn: (...args: A) => R): TaskStarter<A, R>;
export function task<A extends unknown[], R>(fn: (...args: A) => R): TaskStarter<A, R>;
export function task<A extends unknown[], R>(nameOrFn: string | ((...args: A) => R), maybeFn?: (...args: A) => R): TaskStarter<A, R> {
  const [name, fn] = typeof nameOrFn === 'string' ? [nameOrFn, maybeFn] : [nameOrFn.name, nameOrFn];
  if (typeof fn !== 'function') throw new TypeError('task() needs a function: task(name, fn) or task(fn).');
  checkName('task', name);
  return (...args: A) => startTask(requireContext(`task ${JSON.stringify(name)}`), name, fn, args) as TaskHandle<Awaited<R>>;
}

function startTask<A extends unknown[], R>(context: WorkflowContext, name: string, fn: (...args: A) => R, args: A): TaskHandle<unknown> {
  context.task.check();
  const id = context.scope.nextId(name);
  const state = new TaskState(id, context.task);
  context.task.children.add(state);
  context.scope.tasks.add(state);
  taskStarted(state, context.scope.frame);
  const taskEnded = context.run.quiescence.taskStarted();
  const result = runTask(context, state, fn, args);
  result.then(taskEnded, taskEnded);
  state.finished = result.then(
    () => undefined,
    () => undefined,
  ).finally(() => {
    context.task.children.delete(state);
    context.scope.tasks.delete(state);
  });
  return createHandle(context, state, result);
}

async function runTask<A extends unknown[], R>(creator: WorkflowContext, state: TaskState, fn: (...args: A) => R, args: A): Promise<unknown> {
  const { run } = creator;
  const id = state.id;
  const started = await run.claimOrLive(creator, 'task_start', id, `task ${id}`);
  if (started === null) run.write(creator.task.id, creator.scope.frame, { type: 'task_start', id });
  else creator.scope.frame?.seqs.push(started.seq);
  const scope = new Scope(id, creator.scope.frame);
  const own: WorkflowContext = { run, task: state, scope, versioned: creator.versioned, signal: creator.signal };
  let ok = true;
  let outcome: unknown;
  try {
    outcome = await contextStorage.run(own, fn, ...args);
  } catch (error) {
    ok = false;
    outcome = error;
  }
  await endScope(own);
  if (run.stopReason !== undefined) throw run.stopReason;
  // The end is recorded under a stand-in when the task itself was cancelled (its own waits would refuse).
  const recorder: WorkflowContext = state.stopReason === undefined ? own : { ...own, task: new TaskState(id, null) };
  if (state.stopReason !== undefined) {
    ok = false;
    outcome = state.stopReason;
  }
  let recorded;
  try {
    recorded = ok ? outcomeOf(outcome) : errorOutcome(outcome);
  } catch (serializationError) {
    ok = false;
    outcome = serializationError;
    recorded = errorOutcome(serializationError);
  }
  const ended = await run.claimOrLive(recorder, 'task_end', id, `end of task ${id}`);
  if (ended === null) run.write(id, creator.scope.frame, { type: 'task_end', id, ...recorded });
  else creator.scope.frame?.seqs.push(ended.seq);
  if (!ok) throw outcome;
  return outcome;
}

function createHandle(owner: WorkflowContext, state: TaskState, result: Promise<unknown>): TaskHandle<unknown> {
  // A task that nobody awaits must not crash the process with an unhandled rejection.
  result.catch(() => undefined);
  return {
    id: state.id,
    cancel() {
      const caller = contextStorage.getStore();
      if (caller?.run !== owner.run) {
        throw new InvalidArgumentError(`Task ${state.id} can only be cancelled by the workflow that started it.`);
      }
      cancelTask(caller, state);
    },
    then(onFulfilled, onRejected) {
      return result.then(onFulfilled, onRejected);
    },
    catch(onRejected) {
      return result.catch(onRejected);
    },
  };
}
