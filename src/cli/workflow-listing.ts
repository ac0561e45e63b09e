/**
 * What `quest list` shows: the workflows of a store a page at a time (newest first, by the store's cursor:
 * readWorkflowPage), or all of them, each running one checked for a damaged history. A page reads the history
 * of the running workflows it shows and no other, so listing the first page of a million workflows reads a
 * page of entries and at most a page of histories. Only `--state running` and `--state damaged`, which tell
 * the two apart by the history, read the histories of the running workflows they pass over to fill the page.
 */
import { isQuestError } from '../core/errors.js';
import type { Store, WorkflowEntry, WorkflowState } from '../storage/store.js';
import { MAX_WORKFLOW_PAGE, readWorkflowPage } from '../storage/workflow-pages.js';
import { messageOf } from './common.js';

/** What `quest list` shows as a workflow's state: its stored state, or 'damaged' for a running one whose history is. */
export type ListedState = WorkflowState | 'damaged';

/** Every state `quest list --state` takes. */
export const LISTED_STATES: readonly ListedState[] = ['running', 'damaged', 'completed', 'failed', 'cancelled'];

/** One workflow as listed: its entry, the state shown, and why it failed or is damaged. */
export interface Listed {
  entry: WorkflowEntry;
  state: ListedState;
  error?: string;
}

/** The least number of entries a scan for running or damaged workflows reads at a time. */
const SCAN_PAGE = 100;

/** Which page to list. */
export interface ListingQuery {
  /** Only the workflows shown in this state ('running' leaves the damaged ones out). */
  state?: ListedState;
  /** Only the workflows of this type. */
  type?: string;
  /** Only the workflows whose id contains this text, or that hold an alias containing it (the store's search). */
  search?: string;
  /** At most this many workflows: 1 to MAX_WORKFLOW_PAGE (the caller checks it). */
  limit: number;
  /** The `next` of the page before: this page starts after it. */
  after?: string;
}

/** A page of the listing. */
export interface Listing {
  /** Newest start first. */
  listed: Listed[];
  /** What to pass as `after` for the next page; absent when none follows. */
  next?: string;
  /** How many histories were read to tell damaged workflows from running ones. */
  historiesRead: number;
}

/**
 * The page `query` asks for. Without a filter on running/damaged it is one store page; with one, the running
 * workflows are read page by page, their histories checked, until `limit` of them match or the list ends, and
 * `next` is the cursor right after the last one shown (so no matching workflow is skipped or shown twice).
 * Rejects with InvalidArgumentError for a cursor the store did not make.
 *
 * @example
 * const { listed, next } = await listingPage(store, { state: 'damaged', limit: 10 });
 */
export async function listingPage(store: Store, query: ListingQuery): Promise<Listing> {
  const checker = new DamageChecker(store);
  const filtered = query.state === 'running' || query.state === 'damaged';
  const read = (limit: number, after: string | undefined): ReturnType<typeof readWorkflowPage> =>
    readWorkflowPage(store, { state: storedState(query.state), type: query.type, search: query.search, limit, after });
  // A scan for running or damaged ones reads at least this many entries a time (their histories only as needed).
  const size = filtered ? Math.max(query.limit, SCAN_PAGE) : query.limit;
  const listed: Listed[] = [];
  let after = query.after;
  for (;;) {
    const page = await read(size, after);
    for (const [index, entry] of page.entries.entries()) {
      const shown = await checker.listed(entry);
      if (!matches(shown, query.state)) continue;
      listed.push(shown);
      if (listed.length < query.limit) continue;
      // Full. The cursor after this entry: the store's own when it ends the page, else the `next` of a page
      // that ends here (read again: a cursor is the store's to make).
      const next = index === page.entries.length - 1 ? page.next : (await read(index + 1, after)).next;
      return { listed, next, historiesRead: checker.read };
    }
    if (!filtered || page.next === undefined) return { listed, next: page.next, historiesRead: checker.read };
    after = page.next;
  }
}

/** Which workflows {@link listingAll} lists: all of them when empty. */
export type ListingFilter = Pick<ListingQuery, 'state' | 'type' | 'search'>;

/**
 * Every workflow in `filter.state` (all when undefined) of `filter.type` (any when undefined) that
 * `filter.search` finds (all when undefined), oldest start first as the store lists them, each running one
 * checked for a damaged history: the whole list (a search's pages, when searching), every running history.
 *
 * @example
 * const damaged = await listingAll(store, { state: 'damaged' });
 */
export async function listingAll(store: Store, filter: ListingFilter = {}): Promise<Listed[]> {
  const { state, type, search } = filter;
  const checker = new DamageChecker(store);
  const listed: Listed[] = [];
  const entries = search === undefined ? await store.listWorkflows(storedState(state)) : await searchedOldestFirst(store, filter);
  for (const entry of entries) {
    if (type !== undefined && entry.type !== type) continue;
    const shown = await checker.listed(entry);
    if (matches(shown, state)) listed.push(shown);
  }
  return listed;
}

/** Every entry a search finds (with the filter's stored state and type), read by the largest pages, oldest first. */
async function searchedOldestFirst(store: Store, filter: ListingFilter): Promise<WorkflowEntry[]> {
  const found: WorkflowEntry[] = [];
  let after: string | undefined;
  do {
    const page = await readWorkflowPage(store, { state: storedState(filter.state), type: filter.type, search: filter.search, limit: MAX_WORKFLOW_PAGE, after });
    found.push(...page.entries);
    after = page.next;
  } while (after !== undefined);
  return found.reverse();
}

/** The stored state of the workflows shown in `state` (damaged ones are stored running). */
function storedState(state: ListedState | undefined): WorkflowState | undefined {
  return state === 'damaged' ? 'running' : state;
}

function matches(shown: Listed, state: ListedState | undefined): boolean {
  return state === undefined || shown.state === state;
}

/** Reads the histories of running workflows to tell the damaged ones, counting the reads. */
class DamageChecker {
  /** How many histories were read. */
  read = 0;

  constructor(private readonly store: Store) {}

  /** `entry` as listed: a running one whose history does not load is damaged, with the reason. */
  async listed(entry: WorkflowEntry): Promise<Listed> {
    const damage = entry.state === 'running' ? await this.damage(entry.id) : undefined;
    if (damage !== undefined) return { entry, state: 'damaged', error: damage };
    return entry.error === undefined ? { entry, state: entry.state } : { entry, state: entry.state, error: `${entry.error.name}: ${entry.error.message}` };
  }

  /** Why the history of workflow `id` is damaged (`CorruptHistoryError: …`), or undefined when it reads whole. */
  private async damage(id: string): Promise<string | undefined> {
    this.read++;
    try {
      await this.store.history(id).load();
      return undefined;
    } catch (error) {
      if (isQuestError(error, 'CORRUPT_HISTORY')) return messageOf(error);
      throw error;
    }
  }
}
