/**
 * Child workflows: a workflow starts another workflow through its manager and awaits its result durably.
 *
 * The start is a step (`child.start`): recorded once, and idempotent when the step runs again after a crash
 * (the manager starts the child or finds it: `ifExists: 'resume'`), so a child is never started twice. Awaiting
 * the result is a step too (`child.result`): its recorded end is the child's result (or error), so a replay
 * returns it without asking again, and a parent restarted while waiting waits on the same child.
 */
import { clock } from './clock.js';
import { requireContext } from './context.js';
import { InvalidArgumentError, isSuspension } from './errors.js';
import { step } from './step.js';

/** What a run needs from its manager to start children (the WorkflowManager provides it). */
export interface ChildWorkflowHost {
  /** Start workflow `id` of `type` as a child of `parentId`, or find it started already (idempotent). */
  start(parentId: string, type: string, id: string, args: readonly unknown[], cancelWithParent: boolean): Promise<void>;
  /** The child's result: waits while it runs; rethrows its failure. */
  result(id: string): Promise<unknown>;
}

/** Options of {@link startChild}. */
export interface ChildOptions {
  /** The child's workflow id (default: derived from the parent's id and the call's op id, the same on every replay). */
  id?: string;
  /** Cancel (or delete, or time out) the parent, and the child is cancelled too (default true). */
  cancelWithParent?: boolean;
}

/** A child workflow started by {@link startChild}. */
export interface ChildWorkflow<R> {
  /** The child's workflow id (reachable through the manager like any workflow). */
  readonly id: string;
  /** Wait for the child's result (recorded: a replay returns it at once); rethrows its failure. */
  result(): Promise<R>;
}

/** How long to wait before asking again for the result of a child that is suspended (its manager is closing). */
const RETRY_SUSPENDED_MS = 1000;

const startStep = step('child.start', async (type: string, args: unknown[], options: ChildOptions): Promise<string> => {
  const context = requireContext('startChild()');
  const host = context.run.childHost;
  if (host === undefined) throw new InvalidArgumentError('startChild() needs a WorkflowManager: a lone Historian has nowhere to start a workflow.');
  // The body's scope path is the step's op id: deterministic, and unique in the parent.
  const id = options.id ?? `${context.run.workflowId}/${context.scope.path}`;
  await host.start(context.run.workflowId, type, id, args, options.cancelWithParent ?? true);
  return id;
});

const resultStep = step('child.result', async (id: string): Promise<unknown> => {
  const context = requireContext('child.result()');
  const host = context.run.childHost;
  if (host === undefined) throw new InvalidArgumentError('A child workflow needs a WorkflowManager.');
  const signal = context.signal ?? context.run.abortSignal;
  for (;;) {
    try {
      return await host.result(id);
    } catch (error) {
      // Not an outcome of the child: it is suspended (not running here right now). Ask again later; when the
      // parent is being suspended too, its run stops this step first.
      if (!isSuspension(error)) throw error;
    }
    await new Promise<void>((resolve, reject) => {
      if (signal.aborted) reject(signal.reason);
      const timer = clock().setTimer(resolve, RETRY_SUSPENDED_MS);
      signal.addEventListener('abort', () => {
        timer.clear();
        reject(signal.reason);
      }, { once: true });
    });
  }
});

/**
 * Start workflow type `type` with `args` as a child of the calling workflow, through its WorkflowManager. The
 * start is recorded once: a replay (or a step run again after a crash) finds the same child. Cancelling the
 * parent cancels the child unless `cancelWithParent: false`.
 *
 * @example
 * const payment = await startChild<string>('charge', [order, 500]);
 * const receipt = await payment.result();   // durable: after a restart the parent waits on the same child
 */
export async function startChild<R = unknown>(type: string, args: readonly unknown[] = [], options: ChildOptions = {}): Promise<ChildWorkflow<R>> {
  if (typeof type !== 'string' || type.length === 0) throw new InvalidArgumentError('startChild() needs a workflow type name.');
  if (!Array.isArray(args)) throw new InvalidArgumentError('startChild() takes the child\'s arguments as an array.');
  const id = await startStep(type, [...args], options);
  return { id, result: async () => (await resultStep(id)) as R };
}

/**
 * Start a child workflow and wait for its result: `startChild(type, args, options)` then `result()`.
 *
 * @example
 * const receipt = await callChild<string>('charge', [order, 500]);
 */
export async function callChild<R = unknown>(type: string, args: readonly unknown[] = [], options: ChildOptions = {}): Promise<R> {
  return (await startChild<R>(type, args, options)).result();
}
