/** `quest run <module>`: run the workflows of a module durably over the database. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { isQuestError, isSuspension } from '../../core/errors.js';
import { serialize } from '../../core/serializer.js';
import { WorkflowManager } from '../../manager/workflow-manager.js';
import type { AnyWorkflow, WorkflowRegistry } from '../../manager/types.js';
import {
  CliError,
  EXIT,
  messageOf,
  openStore,
  parseArgument,
  withCommonOptions,
  type CliContext,
  type CommonOptions,
  type Io,
  type CliStore,
} from '../common.js';

interface RunOptions extends CommonOptions, BudgetOptions {
  start?: string[];
  untilDone?: boolean;
}

/** The eviction budgets of `quest run` and `quest serve` (ManagerOptions.maxResident, maxResidentBytes). */
export interface BudgetOptions {
  maxResident?: string;
  maxResidentMib?: string;
}

/** Add --max-resident and --max-resident-mib to a command that runs workflows. */
export function withBudgetOptions(command: Command): Command {
  return command
    .option('--max-resident <count>', 'keep at most this many workflows in memory; idle ones beyond it are evicted and resume by replay when needed (default 10000; Infinity: no limit by count)')
    .option('--max-resident-mib <MiB>', "the estimated memory of the workflows kept in memory, in MiB (default 256; Infinity: no limit); eviction is off only when both are Infinity");
}

/** The manager options of --max-resident and --max-resident-mib; CliError (exit 2) for a value that is not one. */
export function budgetsOf(options: BudgetOptions): { maxResident?: number; maxResidentBytes?: number } {
  const budgets: { maxResident?: number; maxResidentBytes?: number } = {};
  if (options.maxResident !== undefined) budgets.maxResident = wholeOrInfinity(options.maxResident, '--max-resident');
  if (options.maxResidentMib !== undefined) {
    const mib = wholeOrInfinity(options.maxResidentMib, '--max-resident-mib');
    budgets.maxResidentBytes = mib === Infinity ? Infinity : mib * 1024 * 1024;
  }
  return budgets;
}

function wholeOrInfinity(text: string, flag: string): number {
  const value = text === 'Infinity' ? Infinity : Number(text);
  if (value !== Infinity && (!Number.isSafeInteger(value) || value < 1)) throw new CliError(`${flag} must be a whole number, 1 or more, or Infinity; got ${text}`, EXIT.usage);
  return value;
}

export function runCommand(context: CliContext): Command {
  return withCommonOptions(
    withBudgetOptions(new Command('run'))
      .description('run the workflows of a module durably, delivering the events sent to them')
      .argument('<module>', 'a module (.js; .ts when quest runs through tsx) that exports `workflows`: { typeName: workflowFunction, ... }')
      .option('--start <type-id-args...>', 'start workflow <id> of type <type> with the arguments (JSON when they parse, else strings); resumes it if <id> exists')
      .option('--until-done', 'exit once every workflow running here has finished (exit 1 if one failed)'),
  )
    .addHelpText(
      'after',
      `
It opens a WorkflowManager over the database with the module's workflow types, resumes every unfinished
workflow of those types (by replay), starts one if asked, and delivers the events of the inbox (quest send)
as they come. It prints each workflow's result as it finishes (stdout; one JSON line each with --json) and
runs until Ctrl-C / SIGTERM, which suspends every workflow durably (the next quest run resumes them), or
with --until-done until every workflow running here has finished. The database is created if missing.
One manager per database: while another process (quest run, or your application) runs its workflows, quest run
is refused with StoreOwnedError naming that process; a process that is gone (killed, crashed) is taken over.

Put <module> before --start (--start takes every argument after it).

Examples:
  $ quest run ./dist/workflows.js
  $ quest run ./dist/workflows.js --start checkout order-1 '"order-1"' 500 --until-done
  $ npx tsx src/cli/main.ts run ./workflows.ts --db app.sqlite`,
    )
    .action(async (modulePath: string, options: RunOptions) => {
      const { io } = context;
      const start = options.start;
      if (start !== undefined && start.length < 2) throw new CliError('--start needs a workflow type and an id: --start <type> <id> [args...]', EXIT.usage);
      const { store, manager } = await openManager(modulePath, options.db, io, budgetsOf(options));
      // Signals suspend everything and exit the process; until then, keep it alive even when every workflow waits.
      const removeSignalHandlers = manager.handleSignals();
      const keepAlive = setInterval(() => undefined, 2 ** 31 - 1);
      try {
        const watched = new Map<string, Promise<boolean>>();
        const watch = (id: string, type: string): void => {
          if (!watched.has(id)) watched.set(id, report(manager, store, id, type, io, options.json === true));
        };
        for (const info of await manager.list()) if (info.status === 'running') watch(info.id, info.type);
        if (start !== undefined) {
          const [type = '', id = '', ...args] = start;
          try {
            const handle = await manager.startWith(type, id, args.map(parseArgument) as never[], { ifExists: 'resume' });
            if (options.json !== true) io.err(handle.created ? `quest: started workflow ${id} (${type})` : `quest: workflow ${id} exists already: resuming it`);
          } catch (error) {
            if (isQuestError(error, 'UNKNOWN_WORKFLOW_TYPE') || isQuestError(error, 'DUPLICATE_WORKFLOW') || isQuestError(error, 'INVALID_ARGUMENT') || isQuestError(error, 'NOT_SERIALIZABLE')) {
              throw new CliError(messageOf(error), EXIT.usage);
            }
            throw error;
          }
          watch(id, type);
        }
        await manager.deliverInbox();
        if (options.untilDone !== true) {
          if (options.json !== true) io.err(`quest: running ${watched.size} workflow${watched.size === 1 ? '' : 's'} over ${options.db}; Ctrl-C to stop (they resume at the next quest run)`);
          await new Promise<never>(() => undefined);
        }
        if (watched.size === 0 && options.json !== true) io.err('quest: no workflow to run here');
        const outcomes = await Promise.all(watched.values());
        await manager.close();
        context.exit(outcomes.every((ok) => ok) ? EXIT.ok : EXIT.failed);
      } finally {
        clearInterval(keepAlive);
        removeSignalHandlers();
        await manager.close();
      }
    });
}

/** Import the module and check its `workflows` export. */
/**
 * The workflows of module `modulePath` run by a manager over the database at `location` (taking its ownership):
 * what `quest run` and `quest serve` start from. CliError (exit 1) when the manager cannot open.
 */
export async function openManager(
  modulePath: string,
  location: string,
  io: Io,
  budgets: { maxResident?: number; maxResidentBytes?: number } = {},
): Promise<{ store: CliStore; manager: WorkflowManager<WorkflowRegistry> }> {
  const workflows = await loadWorkflows(modulePath);
  const store = await openStore(location, 'run');
  try {
    return { store, manager: await WorkflowManager.open({ store, workflows, logger: cliLogger(io), ...budgets }) };
  } catch (error) {
    await store.close();
    throw new CliError(`cannot open the workflows of ${location}: ${messageOf(error)}`, EXIT.failed);
  }
}

export async function loadWorkflows(modulePath: string): Promise<WorkflowRegistry> {
  const path = resolve(modulePath);
  if (!existsSync(path)) throw new CliError(`the module ${modulePath} does not exist`, EXIT.usage);
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw new CliError(
        `cannot import ${modulePath}: Node does not load TypeScript by itself. Compile it to .js, or run quest through tsx (node --import tsx …/quest run ${modulePath})`,
        EXIT.usage,
      );
    }
    throw new CliError(`cannot import ${modulePath}: ${messageOf(error)}`, EXIT.usage);
  }
  const workflows = loaded['workflows'];
  if (typeof workflows !== 'object' || workflows === null || Array.isArray(workflows)) {
    throw new CliError(`${modulePath} must export \`workflows\`: an object of workflow functions by type name (export const workflows = { checkout })`, EXIT.usage);
  }
  const entries = Object.entries(workflows as Record<string, unknown>);
  const notFunctions = entries.filter(([, value]) => typeof value !== 'function').map(([name]) => name);
  if (entries.length === 0 || notFunctions.length > 0) {
    throw new CliError(
      entries.length === 0 ? `the \`workflows\` of ${modulePath} is empty` : `in the \`workflows\` of ${modulePath}, these are not functions: ${notFunctions.join(', ')}`,
      EXIT.usage,
    );
  }
  return workflows as Record<string, AnyWorkflow>;
}

/** Wait for workflow `id` to finish and print its outcome; false when it did not complete. */
export async function report(manager: WorkflowManager<WorkflowRegistry>, store: CliStore, id: string, type: string, io: Io, json: boolean): Promise<boolean> {
  const print = (state: string, text: string, data: Record<string, unknown>): void => {
    io.out(json ? JSON.stringify({ id, type, state, ...data }) : `workflow ${id} (${type}) ${state}${text === '' ? '' : `: ${text}`}`);
  };
  try {
    const value = await manager.getResult(id);
    let result: unknown;
    try {
      result = serialize(value);
    } catch {
      result = String(value);
    }
    print('completed', JSON.stringify(result), { result });
    return true;
  } catch (error) {
    if (isSuspension(error)) return true; // Suspended (the manager closes): it resumes at the next run.
    if (isQuestError(error, 'WORKFLOW_NOT_FOUND')) {
      print('finished', 'its result was not kept (deleteOnFinish)', {});
      return true;
    }
    const entry = await store.getWorkflow(id).catch(() => undefined);
    const state = isQuestError(error, 'WORKFLOW_CANCELLED') ? 'cancelled' : entry?.state === 'running' ? 'stopped' : 'failed';
    print(state, messageOf(error), { error: { name: error instanceof Error ? error.name : 'Error', message: error instanceof Error ? error.message : String(error) } });
    return false;
  }
}

/** The manager's logger: warnings on stderr, in words. */
export function cliLogger(io: Io): { warn: (...args: unknown[]) => void } {
  return {
    warn: (...args: unknown[]) => {
      const message = args.find((arg): arg is string => typeof arg === 'string') ?? '';
      const fields = args.find((arg): arg is Record<string, unknown> => typeof arg === 'object' && arg !== null);
      const shown = fields === undefined ? '' : ` ${JSON.stringify(fields, (_key, value: unknown) => (value instanceof Error ? messageOf(value) : value))}`;
      io.err(`quest: warning: ${message}${shown}`);
    },
  };
}
