/**
 * One page of the manager's list (WorkflowManager.listPage): a page of stored entries, newest first, each
 * overlaid with what the manager knows now (as list() does), and on request the number of workflows in each
 * status and type. On a store with WorkflowPages a page reads its own entries only; on another store it reads
 * the whole list and cuts the page from it (readWorkflowPage in ../storage/workflow-pages.ts).
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { Store, WorkflowEntry, WorkflowState } from '../storage/store.js';
import { checkPageQuery, hasPages, pageOfEntries, readWorkflowCounts, readWorkflowPage, type WorkflowCountFilter, type WorkflowEntryPage, type WorkflowPageQuery } from '../storage/workflow-pages.js';
import type { ManagedWorkflow } from './managed-workflow.js';
import type { ManagedStatus, WorkflowInfo } from './types.js';
import { managedStatus, workflowInfo } from './workflow-info.js';

/** What {@link WorkflowManager.listPage} is asked for. */
export interface ListPageQuery {
  /** Only the workflows stored in this state ('running' holds the suspended and damaged ones too). */
  state?: WorkflowState;
  /** Only the workflows of this type. */
  type?: string;
  /** At most this many lines: an integer from 1 to 10,000. */
  limit: number;
  /** The `next` of the page before: this page starts after it. */
  after?: string;
  /** Only the workflow of this id, or else the one holding this alias (one line at most; `after` does not apply). */
  id?: string;
  /** Only the workflows whose id contains this text, or that hold an alias containing it (case-sensitive). */
  search?: string;
  /**
   * Only the workflows this manager holds stopped: `suspended`, or `damaged` (not run: their history is
   * damaged). Read from the manager's memory, which holds every such workflow of its store (it takes up every
   * unfinished one when it opens), not from the store's list: one pass over the workflows the manager holds,
   * no store read, no entry parsed. Their pages have cursors of their own. `state`, when given, must be 'running'.
   */
  status?: HeldStatus;
  /** Also count the workflows of each status and type (one more read: ask for it when the counts are shown). */
  counts?: boolean;
}

/** The statuses of the workflows a manager holds but does not run (see ListPageQuery.status). */
export type HeldStatus = Extract<ManagedStatus, 'suspended' | 'damaged'>;

/** How many workflows of one type have one status. */
export interface StatusCount {
  status: ManagedStatus;
  type: string;
  count: number;
}

/** One page of {@link WorkflowManager.listPage}. */
export interface ListPage {
  /** Newest start first, as list() reports them. */
  items: WorkflowInfo[];
  /** What to pass as `after` for the next page; absent at the end. */
  next?: string;
  /** With `counts: true`: the workflows of each status and type (pairs with none left out). */
  counts?: StatusCount[];
}

/** What a page needs of the manager: its store, its live workflows, the aliases they hold, whether the store is shared. */
export interface ListPageDeps {
  store: Store;
  live: ReadonlyMap<string, ManagedWorkflow>;
  aliasesOf(workflowId: string): string[];
  /** The workflow holding `alias` now, if any. */
  resolveAlias(alias: string): Promise<string | undefined>;
  shared: boolean;
}

/** The page `query` asks for. */
export async function listPage(deps: ListPageDeps, query: ListPageQuery): Promise<ListPage> {
  const { counts, id, status, ...pageQuery } = query;
  if (status !== undefined) checkHeldQuery(status, pageQuery);
  let page: WorkflowEntryPage;
  if (id !== undefined) page = await byId(deps, id, pageQuery);
  else if (status !== undefined) page = heldPage(deps, status, pageQuery);
  else page = await readWorkflowPage(deps.store, pageQuery, aliasHolders(deps, pageQuery.search));
  let items = page.entries.map((entry) => workflowInfo(entry, deps.live.get(entry.id), deps.aliasesOf(entry.id), deps.shared));
  if (id !== undefined && status !== undefined) items = items.filter((info) => info.status === status);
  const result: ListPage = page.next === undefined ? { items } : { items, next: page.next };
  if (counts === true) result.counts = await countStatuses(deps, pageQuery.search === undefined ? {} : { search: pageQuery.search });
  return result;
}

function checkHeldQuery(status: HeldStatus, query: WorkflowPageQuery): void {
  if (status !== 'suspended' && status !== 'damaged') {
    throw new InvalidArgumentError(`listPage's status filters the workflows a manager holds stopped: 'suspended' or 'damaged', got ${JSON.stringify(status)} (use state for the others).`);
  }
  if (query.state !== undefined && query.state !== 'running') {
    throw new InvalidArgumentError(`A ${status} workflow is stored 'running': leave state out with status '${status}', or set it to 'running' (got ${JSON.stringify(query.state)}).`);
  }
  checkPageQuery({ limit: query.limit });
}

/** A page of the workflows this manager holds in `status`, from its memory (see ListPageQuery.status). */
function heldPage(deps: ListPageDeps, status: HeldStatus, query: WorkflowPageQuery): WorkflowEntryPage {
  const found = searchFilter(deps, query.search);
  const held: WorkflowEntry[] = [];
  for (const managed of deps.live.values()) if (managedStatus(managed) === status && found(managed.id)) held.push(managed.entry);
  return pageOfEntries(held, query);
}

/**
 * For a store without pages (which keeps no list of aliases): the workflows this manager runs that hold an alias
 * containing `search` (on a store of one manager, every alias held).
 */
function aliasHolders(deps: ListPageDeps, search: string | undefined): Set<string> | undefined {
  if (search === undefined || hasPages(deps.store)) return undefined;
  const holders = new Set<string>();
  for (const id of deps.live.keys()) if (deps.aliasesOf(id).some((alias) => alias.includes(search))) holders.add(id);
  return holders;
}

/** Whether workflow `id` is one `search` finds in the manager's memory: its id or an alias it holds contains it. */
function searchFilter(deps: ListPageDeps, search: string | undefined): (id: string) => boolean {
  if (search === undefined) return () => true;
  return (id) => id.includes(search) || deps.aliasesOf(id).some((alias) => alias.includes(search));
}

/**
 * The stored counts (of the workflows `filter.search` finds, when given), with the running workflows this manager
 * holds suspended or damaged moved to those statuses (WorkflowManager.countWorkflows, and a page's `counts`). (A
 * running entry no manager holds, which list() shows suspended on a store of one manager, counts as running:
 * telling it apart would mean reading every entry.)
 */
export async function countStatuses(deps: ListPageDeps, filter: WorkflowCountFilter): Promise<StatusCount[]> {
  const { search } = filter;
  const stored = await readWorkflowCounts(deps.store, filter, aliasHolders(deps, search));
  const found = searchFilter(deps, search);
  const counts = new Map<string, StatusCount>();
  const add = (status: ManagedStatus, type: string, count: number): void => {
    const key = JSON.stringify([status, type]);
    const found = counts.get(key) ?? { status, type, count: 0 };
    found.count += count;
    counts.set(key, found);
  };
  for (const { state, type, count } of stored) add(state, type, count);
  for (const managed of deps.live.values()) {
    const status = managedStatus(managed);
    if ((status !== 'suspended' && status !== 'damaged') || !found(managed.id)) continue;
    const running = counts.get(JSON.stringify(['running', managed.entry.type]));
    if (running === undefined || running.count === 0) continue;
    running.count--;
    add(status, managed.entry.type, 1);
  }
  return [...counts.values()].filter(({ count }) => count > 0);
}

/** The entry of workflow `id`, or of the one holding alias `id`, when it matches the query's state and type. */
async function byId(deps: ListPageDeps, id: string, query: WorkflowPageQuery): Promise<WorkflowEntryPage> {
  checkPageQuery({ limit: query.limit });
  let entry = await deps.store.getWorkflow(id);
  if (entry === undefined) {
    const holder = await deps.resolveAlias(id);
    if (holder !== undefined) entry = await deps.store.getWorkflow(holder);
  }
  if (entry === undefined || (query.state !== undefined && entry.state !== query.state) || (query.type !== undefined && entry.type !== query.type)) return { entries: [] };
  return { entries: [entry] };
}
