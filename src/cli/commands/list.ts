/**
 * `quest list`: the workflows of a database, a page at a time (newest first, with the totals and the command
 * for the next page), or all of them with --all. What is read is in ../workflow-listing.ts.
 */
import { Command, Option } from 'commander';
import { isQuestError } from '../../core/errors.js';
import type { Store, WorkflowState } from '../../storage/store.js';
import { MAX_WORKFLOW_PAGE, readWorkflowCounts, type WorkflowCount } from '../../storage/workflow-pages.js';
import { CliError, EXIT, formatTime, printJson, table, withCommonOptions, withStore, type CliContext, type CommonOptions, type Io } from '../common.js';
import { LISTED_STATES, listingAll, listingPage, type Listed, type ListedState, type Listing, type ListingQuery } from '../workflow-listing.js';

/** How many workflows a page shows when --limit does not say. */
export const DEFAULT_LIST_LIMIT = 100;

interface ListOptions extends CommonOptions {
  state?: ListedState;
  type?: string;
  search?: string;
  limit?: string;
  after?: string;
  all?: boolean;
}

/** A page as shown: the listing, the stored counts (of --type's workflows only, when given), and how to ask for the next. */
interface ShownPage extends Listing {
  counts: WorkflowCount[];
}

export function listCommand(context: CliContext): Command {
  return withCommonOptions(
    new Command('list')
      .description('list the workflows: id, type, state, start and finish times (a page at a time, newest first)')
      .addOption(new Option('--state <state>', 'only the workflows in this state').choices(LISTED_STATES))
      .option('--type <type>', 'only the workflows of this type')
      .option('--search <text>', 'only the workflows whose id contains this text, or that hold an alias containing it (case-sensitive)')
      .option('--limit <n>', `at most this many workflows (1 to ${MAX_WORKFLOW_PAGE}; default ${DEFAULT_LIST_LIMIT})`)
      .option('--after <cursor>', 'the page after this cursor (printed with the page before)')
      .option('--all', 'every workflow, oldest first, in one table (reads the whole list: slow on a large database)'),
  )
    .addHelpText(
      'after',
      `
A page at a time: quest list shows the newest workflows (--limit, default ${DEFAULT_LIST_LIMIT}), newest first, then
how many there are in all and, when more follow, the command for the next page (--after <cursor>, with the
same filters). A page reads its own entries only, however many workflows the database holds. --all shows
every workflow instead, oldest first, without the totals (it reads every entry and every running
workflow's history: slow on a large database).

--search <text> keeps the workflows whose id contains the text, or that hold an alias containing it (case-
sensitive, as the dashboard's search box); the totals are then of those it finds. On SQLite and PostgreSQL
the database does the search (it reads the indexes of ids and aliases, not every entry). An empty text
filters nothing.

--json prints an array of every workflow, oldest first (as --all), unless --limit or --after asks for a page:
then an object {"workflows": [...], "next": "<cursor>" or null, "counts": [{"state", "type", "count"}, ...],
"historiesRead": n}. Scripts page by passing "next" back as --after until it is null.

"running" means unfinished: the workflow runs in whichever process has a manager open over the database
(quest run, or your application), or resumes when one opens it. "damaged" means unfinished, but its history
is damaged: no manager runs it until the history is restored from a backup or the workflow is deleted. The
reason follows the table. Telling them apart reads the history of each running workflow shown; --state
running and --state damaged read the histories of the running workflows, newest first, until the page is
full or the list ends (with few damaged workflows among many, --state damaged reads many histories).

Whether a running workflow is resident (its run in the memory of the process that runs it) or evicted while
idle (it resumes by replay on demand: ManagerOptions.maxResident, maxResidentBytes) is a property of that
process's memory, not of the database: quest list cannot tell. A server shows it (quest serve: the list and
workflows calls answer resident: false for an evicted workflow), and so does its dashboard at /ui/
("running · evicted, resumes on demand").

Examples:
  $ quest list
  $ quest list --limit 20 --after q1.lz3k9f2a.8c
  $ quest list --state running --type checkout --db .quest/guessing-game.sqlite
  $ quest list --state damaged --limit 10
  $ quest list --search order-17 --state running
  $ quest list --all --json`,
    )
    .action(async (options: ListOptions, command: Command) => {
      const { io } = context;
      const pageAsked = options.limit !== undefined || options.after !== undefined;
      if (options.all === true && pageAsked) {
        throw new CliError('--all lists every workflow, --limit and --after a page of them: leave out one or the other', EXIT.usage);
      }
      if (options.all === true || (options.json === true && !pageAsked)) {
        const filter = { state: options.state, type: options.type, search: searchOf(options) };
        const listed = await withStore(options.db, (store) => listingAll(store, filter));
        if (options.json === true) printJson(io, listed.map(jsonOf));
        else printListed(io, listed, options);
      } else {
        const query: ListingQuery = { limit: pageLimit(options.limit), state: options.state, type: options.type, search: searchOf(options), after: options.after };
        const page = await withStore(options.db, (store) => shownPage(store, query));
        if (options.json === true) {
          printJson(io, { workflows: page.listed.map(jsonOf), next: page.next ?? null, counts: page.counts, historiesRead: page.historiesRead });
        } else {
          printListed(io, page.listed, options);
          if (page.listed.length > 0) io.out(`\n${footerOf(page, query, command.getOptionValueSource('db') === 'cli' ? options.db : undefined).join('\n')}`);
        }
      }
      context.exit(EXIT.ok);
    });
}

/** The page `query` asks for, with the counts; CliError (exit 2) for a cursor this database did not make. */
async function shownPage(store: Store, query: ListingQuery): Promise<ShownPage> {
  let listing: Listing;
  try {
    listing = await listingPage(store, query);
  } catch (error) {
    // The limit is checked already: what the store refuses is the cursor.
    if (!isQuestError(error, 'INVALID_ARGUMENT') || query.after === undefined) throw error;
    throw new CliError(
      `--after ${JSON.stringify(query.after)} is not a cursor of this database's list: pass the one the page before printed ` +
        '(after "--after", as it was printed, with the same --db), or leave --after out for the first page',
      EXIT.usage,
    );
  }
  const counts = (await readWorkflowCounts(store, query.search === undefined ? {} : { search: query.search })).filter(({ type }) => query.type === undefined || type === query.type);
  return { ...listing, counts };
}

/** The --search asked, if any: an empty text filters nothing (as the server's `search`). */
function searchOf(options: ListOptions): string | undefined {
  return options.search === '' ? undefined : options.search;
}

/** The --limit asked (default {@link DEFAULT_LIST_LIMIT}); CliError (exit 2) for anything but a whole number in range. */
function pageLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIST_LIMIT;
  const limit = Number(text);
  if (!/^[0-9]+$/.test(text) || limit < 1 || limit > MAX_WORKFLOW_PAGE) {
    throw new CliError(
      `--limit must be a whole number from 1 to ${MAX_WORKFLOW_PAGE} (the most workflows a page shows), got ${JSON.stringify(text)}: ` +
        `pass --limit ${DEFAULT_LIST_LIMIT}, say, or --all for every workflow`,
      EXIT.usage,
    );
  }
  return limit;
}

/** The table of `listed`, then the reason of each damaged one; or "No workflows." */
function printListed(io: Io, listed: readonly Listed[], options: ListOptions): void {
  if (listed.length === 0) {
    const what = `${options.state === undefined ? '' : `${options.state} `}workflows${ofTypeAndSearch(options.type, searchOf(options))}`;
    io.out(options.after === undefined ? `No ${what}.` : `No more ${what}.`);
    return;
  }
  const rows = listed.map(({ entry, state }) => [entry.id, entry.type, state, formatTime(entry.startedAt), formatTime(entry.finishedAt)]);
  io.out(table(['ID', 'TYPE', 'STATE', 'STARTED', 'FINISHED'], rows));
  for (const { entry, error } of listed.filter(({ state }) => state === 'damaged')) io.out(`\n${entry.id}: ${error ?? ''}`);
}

/** One workflow in --json output (the same fields whole or paged). */
function jsonOf({ entry, state, error }: Listed): Record<string, unknown> {
  return {
    id: entry.id,
    type: entry.type,
    state,
    startedAt: new Date(entry.startedAt).toISOString(),
    finishedAt: entry.finishedAt === undefined ? null : new Date(entry.finishedAt).toISOString(),
    ...(error === undefined ? {} : { error }),
  };
}

const STORED_STATES: readonly WorkflowState[] = ['running', 'completed', 'failed', 'cancelled'];

/** The lines after a page's table: how many are shown of how many, and the command for the next page. */
function footerOf(page: ShownPage, query: ListingQuery, db: string | undefined): string[] {
  const byState = new Map<WorkflowState, number>();
  for (const { state, count } of page.counts) byState.set(state, (byState.get(state) ?? 0) + count);
  const running = byState.get('running') ?? 0;
  const total = query.state === undefined ? [...byState.values()].reduce((sum, count) => sum + count, 0) : query.state === 'damaged' ? running : (byState.get(query.state) ?? 0);
  const shown = page.listed.length;
  const ofType = ofTypeAndSearch(query.type, query.search);
  let line: string;
  if (query.state === undefined) {
    const split = STORED_STATES.filter((state) => (byState.get(state) ?? 0) > 0).map((state) => `${state} ${number(byState.get(state) ?? 0)}`);
    line = `${number(shown)} of ${workflows(total)}${ofType} shown, newest first (${split.join(', ')}).`;
  } else if (query.state === 'damaged') {
    line = `${number(shown)} damaged ${shown === 1 ? 'workflow' : 'workflows'}${ofType} shown, newest first (${number(page.historiesRead)} of the ${number(running)} running workflows' histories read).`;
  } else if (query.state === 'running') {
    line = `${number(shown)} of ${number(total)} running ${total === 1 ? 'workflow' : 'workflows'}${ofType} shown, newest first (${number(page.historiesRead)} histories read; the damaged ones are left out).`;
  } else {
    line = `${number(shown)} of ${number(total)} ${query.state} ${total === 1 ? 'workflow' : 'workflows'}${ofType} shown, newest first.`;
  }
  if (page.next === undefined) return [line];
  const args = ['quest', 'list', '--after', page.next];
  if (query.limit !== DEFAULT_LIST_LIMIT) args.push('--limit', String(query.limit));
  if (query.state !== undefined) args.push('--state', query.state);
  if (query.type !== undefined) args.push('--type', query.type);
  if (query.search !== undefined) args.push('--search', query.search);
  if (db !== undefined) args.push('--db', db);
  return [line, `Next page: ${args.map(shellWord).join(' ')}`];
}

/** What follows "workflows" when the list is filtered by type or search: ` of type order matching "17"`. */
function ofTypeAndSearch(type: string | undefined, search: string | undefined): string {
  return `${type === undefined ? '' : ` of type ${type}`}${search === undefined ? '' : ` matching ${JSON.stringify(search)}`}`;
}

function workflows(count: number): string {
  return `${number(count)} ${count === 1 ? 'workflow' : 'workflows'}`;
}

/** A count with thousands separators (1,000,000). */
function number(count: number): string {
  return count.toLocaleString('en-US');
}

/** `word` as one shell word: as it is when it needs no quoting, else in single quotes. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
