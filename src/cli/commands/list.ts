/** `quest list`: the workflows of a database. */
import { Command, Option } from 'commander';
import { isQuestError } from '../../core/errors.js';
import type { Store, WorkflowEntry, WorkflowState } from '../../storage/store.js';
import { EXIT, formatTime, messageOf, printJson, table, withCommonOptions, withStore, type CliContext, type CommonOptions } from '../common.js';

/** What `quest list` shows as a workflow's state: its stored state, or 'damaged' for a running one whose history is. */
type ListedState = WorkflowState | 'damaged';

const STATES: readonly ListedState[] = ['running', 'damaged', 'completed', 'failed', 'cancelled'];

interface ListOptions extends CommonOptions {
  state?: ListedState;
}

/** One workflow as listed: its entry, the state shown, and why it failed or is damaged. */
interface Listed {
  entry: WorkflowEntry;
  state: ListedState;
  error?: string;
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
(quest run, or your application), or resumes when one opens it. "damaged" means unfinished, but its history
is damaged (the checks read the history of every unfinished workflow): no manager runs it until the history
is restored from a backup or the workflow is deleted. The reason follows the table.

Whether a running workflow is resident (its run in the memory of the process that runs it) or evicted while
idle (it resumes by replay on demand: ManagerOptions.maxResident, maxResidentBytes) is a property of that
process's memory, not of the database: quest list cannot tell. A server shows it (quest serve: the list and
workflows calls answer resident: false for an evicted workflow), and so does its dashboard at /ui/
("running · evicted, resumes on demand").

Examples:
  $ quest list
  $ quest list --state running --db .quest/guessing-game.sqlite
  $ quest list --json`,
    )
    .action(async (options: ListOptions) => {
      const listed = await withStore(options.db, (store) => listWorkflows(store, options.state));
      const { io } = context;
      if (options.json === true) {
        printJson(
          io,
          listed.map(({ entry, state, error }) => ({
            id: entry.id,
            type: entry.type,
            state,
            startedAt: new Date(entry.startedAt).toISOString(),
            finishedAt: entry.finishedAt === undefined ? null : new Date(entry.finishedAt).toISOString(),
            ...(error === undefined ? {} : { error }),
          })),
        );
      } else if (listed.length === 0) {
        io.out(options.state === undefined ? 'No workflows.' : `No ${options.state} workflows.`);
      } else {
        const rows = listed.map(({ entry, state }) => [entry.id, entry.type, state, formatTime(entry.startedAt), formatTime(entry.finishedAt)]);
        io.out(table(['ID', 'TYPE', 'STATE', 'STARTED', 'FINISHED'], rows));
        for (const { entry, error } of listed.filter(({ state }) => state === 'damaged')) io.out(`\n${entry.id}: ${error ?? ''}`);
      }
      context.exit(EXIT.ok);
    });
}

/** The workflows in `state` (all when undefined), each running one checked for a damaged history. */
async function listWorkflows(store: Store, state: ListedState | undefined): Promise<Listed[]> {
  const entries = await store.listWorkflows(state === 'damaged' ? 'running' : state);
  const listed: Listed[] = [];
  for (const entry of entries) {
    const damage = entry.state === 'running' ? await historyDamage(store, entry.id) : undefined;
    const shown: Listed = damage === undefined ? { entry, state: entry.state } : { entry, state: 'damaged', error: damage };
    if (shown.state === 'running' && state === 'damaged') continue;
    if (shown.state === 'damaged' && state === 'running') continue;
    if (shown.error === undefined && entry.error !== undefined) shown.error = `${entry.error.name}: ${entry.error.message}`;
    listed.push(shown);
  }
  return listed;
}

/** Why the history of workflow `id` is damaged (`CorruptHistoryError: …`), or undefined when it reads whole. */
async function historyDamage(store: Store, id: string): Promise<string | undefined> {
  try {
    await store.history(id).load();
    return undefined;
  } catch (error) {
    if (isQuestError(error, 'CORRUPT_HISTORY')) return messageOf(error);
    throw error;
  }
}
