/** `quest list`: the workflows of a database. */
import { Command, Option } from 'commander';
import type { WorkflowState } from '../../storage/store.js';
import { EXIT, formatTime, printJson, table, withCommonOptions, withStore, type CliContext, type CommonOptions } from '../common.js';

const STATES: readonly WorkflowState[] = ['running', 'completed', 'failed', 'cancelled'];

interface ListOptions extends CommonOptions {
  state?: WorkflowState;
}

export function listCommand(context: CliContext): Command {
  return withCommonOptions(
    new Command('list')
      .description('list the workflows: id, type, state, start and finish times (oldest first)')
      .addOption(new Option('--state <state>', 'only the workflows in this state').choices(STATES)),
  )
    .addHelpText(
      'after',
      `
"running" means unfinished: the workflow runs in whichever process has a manager open over the database
(quest run, or your application), or resumes when one opens it.

Examples:
  $ quest list
  $ quest list --state running --db .quest/guessing-game.sqlite
  $ quest list --json`,
    )
    .action(async (options: ListOptions) => {
      const entries = await withStore(options.db, (store) => store.listWorkflows(options.state));
      const { io } = context;
      if (options.json === true) {
        printJson(
          io,
          entries.map((entry) => ({
            id: entry.id,
            type: entry.type,
            state: entry.state,
            startedAt: new Date(entry.startedAt).toISOString(),
            finishedAt: entry.finishedAt === undefined ? null : new Date(entry.finishedAt).toISOString(),
            ...(entry.error === undefined ? {} : { error: `${entry.error.name}: ${entry.error.message}` }),
          })),
        );
      } else if (entries.length === 0) {
        io.out(options.state === undefined ? 'No workflows.' : `No ${options.state} workflows.`);
      } else {
        const rows = entries.map((entry) => [entry.id, entry.type, entry.state, formatTime(entry.startedAt), formatTime(entry.finishedAt)]);
        io.out(table(['ID', 'TYPE', 'STATE', 'STARTED', 'FINISHED'], rows));
      }
      context.exit(EXIT.ok);
    });
}
