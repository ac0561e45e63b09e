/**
 * Aliases: a second id under which a workflow can be reached (by its manager) for a scope. Opening and
 * closing are recorded, so an alias is restored when the workflow resumes, and can be handed from one
 * workflow to another by closing it in one and opening it in the other.
 */
import { requireContext, type WorkflowContext } from './context.js';
import { InvalidArgumentError } from './errors.js';
import type { Run } from './run.js';
import { TaskState } from './task-state.js';

/** Where aliases live (the manager): the run registers and removes them as the workflow opens and closes them. */
export interface AliasRegistry {
  add(alias: string, workflowId: string): void | Promise<void>;
  remove(alias: string, workflowId: string): void | Promise<void>;
}

/** An open alias; close it (or let `await using` close it) to release the name. */
export interface Alias extends AsyncDisposable {
  readonly name: string;
  close(): Promise<void>;
}

/**
 * Make the current workflow reachable as `name` until the alias is closed (or the workflow ends).
 * DuplicateAliasError when another workflow holds the name.
 *
 * @example
 * await using _ = await alias('lobby');          // events sent to 'lobby' reach this workflow
 * await alias('lobby', async () => { ... });      // callback form
 */
export function alias(name: string): Promise<Alias>;
export function alias<R>(name: string, body: () => Promise<R> | R): Promise<R>;
export async function alias<R>(name: string, body?: () => Promise<R> | R): Promise<Alias | R> {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('An alias must be a non-empty string.');
  const context = requireContext(`alias(${JSON.stringify(name)})`);
  const id = context.scope.nextId(`alias:${name}`);
  const recorded = await context.run.claimOrLive(context, 'alias', id, `alias ${name} (${id})`);
  await addAlias(context.run, name);
  if (recorded === null) {
    // The registry's write is durable; the history's must be too, or a crash could leave them disagreeing.
    const durable = context.run.writeDurable(context.task.id, context.scope.frame, { type: 'alias', id, alias: name, open: true });
    if (durable !== undefined) await durable;
  } else {
    context.scope.frame?.seqs.push(recorded.seq);
  }
  let closed = false;
  const handle: Alias = {
    name,
    close: async () => {
      if (closed) return;
      closed = true;
      await closeAlias(context, id, name);
    },
    [Symbol.asyncDispose]: () => handle.close(),
  };
  if (body === undefined) return handle;
  try {
    return await body();
  } finally {
    await handle.close();
  }
}

async function closeAlias(context: WorkflowContext, openId: string, name: string): Promise<void> {
  const { run } = context;
  if (run.stopReason !== undefined) return;
  const id = `${openId}:close`;
  // A cancelled task still releases its alias (live and on replay alike): claim under a stand-in task.
  const closer = context.task.stopReason === undefined ? context : { ...context, task: new TaskState(context.task.id, null) };
  const recorded = await run.claimOrLive(closer, 'alias', id, `close of alias ${name}`);
  if (recorded === null) {
    // Durable before the registry lets another workflow take the name (a hand-over must survive a crash).
    const durable = run.writeDurable(context.task.id, context.scope.frame, { type: 'alias', id, alias: name, open: false });
    if (durable !== undefined) await durable;
  } else {
    context.scope.frame?.seqs.push(recorded.seq);
  }
  await removeAlias(run, name);
}

/** Register `alias` for `run`'s workflow (InvalidArgumentError without a registry: a lone Historian). */
async function addAlias(run: Run, alias: string): Promise<void> {
  // A task that goes on after a stop must not reach the registry (nor its store, perhaps closed by now).
  if (run.stopReason !== undefined) throw run.stopReason;
  if (run.options.aliases === undefined) {
    throw new InvalidArgumentError('alias() needs a WorkflowManager: a lone Historian has nowhere to register aliases.');
  }
  await run.options.aliases.add(alias, run.workflowId);
  run.aliases.add(alias);
}

/** `run` ended: the aliases it held are released (their records stay, so a resume restores them). */
export async function releaseAliases(run: Run): Promise<void> {
  for (const alias of [...run.aliases]) {
    run.aliases.delete(alias);
    await run.options.aliases?.remove(alias, run.workflowId);
  }
}

async function removeAlias(run: Run, alias: string): Promise<void> {
  if (!run.aliases.delete(alias)) return;
  await run.options.aliases?.remove(alias, run.workflowId);
}
