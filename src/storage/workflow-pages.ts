/**
 * An optional capability of a Store: the workflow list a page at a time, newest first, and the counts by state
 * and type, so that a dashboard or `quest list` shows a page of a million workflows without reading them all.
 * Paging is by key (start time, then the store's insertion position), never by offset: a cursor stays right
 * while workflows are added, and a page costs the same wherever it is in the list.
 */
import { InvalidArgumentError } from '../core/errors.js';
import { hasMethods, type Store, type WorkflowEntry, type WorkflowState } from './store.js';

/** The largest page {@link WorkflowPages.pageWorkflows} returns. */
export const MAX_WORKFLOW_PAGE = 10_000;

/** Which page of workflow entries to read. */
export interface WorkflowPageQuery {
  /** Only the entries in this state. */
  state?: WorkflowState;
  /** Only the entries of this workflow type. */
  type?: string;
  /** At most this many entries: an integer from 1 to {@link MAX_WORKFLOW_PAGE}. */
  limit: number;
  /** The `next` of the page before (from the same store): this page starts after its last entry. */
  after?: string;
  /** Only the workflows whose id contains this text, or that hold an alias containing it (case-sensitive). */
  search?: string;
}

/** Which workflows {@link WorkflowPages.countWorkflows} counts: all of them when absent. */
export interface WorkflowCountFilter {
  /** Only the workflows whose id contains this text, or that hold an alias containing it, as in a page's `search`. */
  search?: string;
}

/** A page of workflow entries. */
export interface WorkflowEntryPage {
  /** Newest start first; entries started in the same millisecond, the latest stored first. */
  entries: WorkflowEntry[];
  /** What to pass as `after` for the next page; absent when no entry follows this page. */
  next?: string;
}

/** How many workflows of one type are in one state. */
export interface WorkflowCount {
  state: WorkflowState;
  type: string;
  count: number;
}

/**
 * Paged reads of the workflow list (optional: without it, callers read {@link Store.listWorkflows} whole).
 *
 * @example
 * if (hasPages(store)) {
 *   const first = await store.pageWorkflows({ state: 'running', limit: 50 });
 *   const second = first.next === undefined ? undefined : await store.pageWorkflows({ state: 'running', limit: 50, after: first.next });
 * }
 */
export interface WorkflowPages {
  /**
   * Up to `limit` entries (in `state`, of `type`, when given), newest start first, after the cursor `after`.
   * Workflows stored meanwhile never shift the pages that follow a cursor: a newer one shows on the first
   * page. Rejects with InvalidArgumentError for a limit out of range or a cursor this store did not make.
   */
  pageWorkflows(query: WorkflowPageQuery): Promise<WorkflowEntryPage>;
  /**
   * How many workflows there are of each type in each state (pairs with none are left out), in one read; with
   * `filter.search`, of the workflows a page with that `search` lists.
   */
  countWorkflows(filter?: WorkflowCountFilter): Promise<WorkflowCount[]>;
}

/**
 * True when `store` reads the workflow list by pages ({@link WorkflowPages}).
 *
 * @example
 * if (hasPages(store)) console.log(await store.countWorkflows());
 */
export function hasPages<S extends Store>(store: S): store is S & WorkflowPages {
  return hasMethods<WorkflowPages>(store, ['pageWorkflows', 'countWorkflows']);
}

/** Where a page stops: the start time and the store's position (SQLite rowid, PostgreSQL `position`) of its last entry. */
export interface PageKey {
  startedAt: number;
  position: number;
}

/** The cursor after the entry at `key`: opaque to callers ("q1." and base-36 numbers). */
export function encodeCursor(key: PageKey): string {
  return `q1.${key.startedAt.toString(36)}.${key.position.toString(36)}`;
}

/** The key of a cursor made by {@link encodeCursor}; InvalidArgumentError for anything else. */
export function decodeCursor(cursor: string): PageKey {
  const parts = /^q1\.(-?[0-9a-z]{1,11})\.([0-9a-z]{1,11})$/.exec(cursor);
  const startedAt = parts === null ? NaN : parseInt(parts[1]!, 36);
  const position = parts === null ? NaN : parseInt(parts[2]!, 36);
  if (!Number.isSafeInteger(startedAt) || !Number.isSafeInteger(position)) {
    throw badCursor(cursor);
  }
  return { startedAt, position };
}

/**
 * The page made of `rows`, read in page order up to one past `limit`: its first `limit` entries, and the
 * cursor after the last of them when more follow. One shape of page for every store.
 */
export function pageOf<R>(rows: readonly R[], limit: number, entryOf: (row: R) => WorkflowEntry, keyOf: (row: R) => PageKey): WorkflowEntryPage {
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const entries = page.map(entryOf);
  const last = page.at(-1);
  return more && last !== undefined ? { entries, next: encodeCursor(keyOf(last)) } : { entries };
}

/** The error for a cursor that is not a page's `next`. */
export function badCursor(cursor: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `page cursor ${JSON.stringify(cursor)} is not one this store made: pass the \`next\` of the page before as it was given, or leave \`after\` out for the first page`,
  );
}

/** The counts by state and type of `entries` (for stores and callers that hold the entries themselves). */
export function countEntries(entries: Iterable<Pick<WorkflowEntry, 'state' | 'type'>>): WorkflowCount[] {
  const counts = new Map<string, WorkflowCount>();
  for (const { state, type } of entries) {
    const key = JSON.stringify([state, type]);
    const found = counts.get(key) ?? { state, type, count: 0 };
    found.count++;
    counts.set(key, found);
  }
  return [...counts.values()];
}

/** Check a page query's limit (and its cursor, when given): InvalidArgumentError saying what is wrong. */
export function checkPageQuery(query: WorkflowPageQuery): PageKey | undefined {
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_WORKFLOW_PAGE) {
    throw new InvalidArgumentError(`a page's limit must be an integer from 1 to ${MAX_WORKFLOW_PAGE} (got ${String(query.limit)})`);
  }
  return query.after === undefined ? undefined : decodeCursor(query.after);
}

/** True when the entry at `key` comes after `cursor` in page order (newest first, then highest position). */
export function isAfter(key: PageKey, cursor: PageKey): boolean {
  return key.startedAt < cursor.startedAt || (key.startedAt === cursor.startedAt && key.position < cursor.position);
}

/**
 * A page of any store: its own {@link WorkflowPages.pageWorkflows} when it has one, else a page cut from its
 * whole list (read whole for every page: the fallback of the stores without pages, which hold few workflows).
 * The same order either way, newest start first; only ties differ (the store's position, or the id descending).
 * Rejects with InvalidArgumentError as pageWorkflows does. `aliasHolders`: for a store without pages (which
 * keeps no list of its aliases), the workflows holding an alias that contains `query.search`, as the caller
 * knows them; without it, such a store's search matches ids only.
 *
 * @example
 * const first = await readWorkflowPage(store, { state: 'running', limit: 100 });
 */
export function readWorkflowPage(store: Store, query: WorkflowPageQuery, aliasHolders?: ReadonlySet<string>): Promise<WorkflowEntryPage> {
  return hasPages(store) ? store.pageWorkflows(query) : pageOfList(store, query, aliasHolders);
}

/**
 * The counts by state and type of any store: its own {@link WorkflowPages.countWorkflows} when it has one,
 * else counted from its whole list (`aliasHolders` as in {@link readWorkflowPage}).
 *
 * @example
 * const running = (await readWorkflowCounts(store)).filter((c) => c.state === 'running');
 */
export async function readWorkflowCounts(store: Store, filter: WorkflowCountFilter = {}, aliasHolders?: ReadonlySet<string>): Promise<WorkflowCount[]> {
  if (hasPages(store)) return store.countWorkflows(filter);
  return countEntries(searched(await store.listWorkflows(), filter.search, aliasHolders));
}

/** A page of a store without WorkflowPages, from its whole list (see {@link pageOfEntries}). */
async function pageOfList(store: Store, query: WorkflowPageQuery, aliasHolders: ReadonlySet<string> | undefined): Promise<WorkflowEntryPage> {
  checkPageQuery({ limit: query.limit });
  return pageOfEntries(searched(await store.listWorkflows(query.state), query.search, aliasHolders), query);
}

/** The entries `search` finds: the id contains it, or the workflow is one of `aliasHolders`. */
function searched(entries: WorkflowEntry[], search: string | undefined, aliasHolders: ReadonlySet<string> | undefined): WorkflowEntry[] {
  if (search === undefined) return entries;
  return entries.filter((entry) => entry.id.includes(search) || aliasHolders?.has(entry.id) === true);
}

/**
 * A page of `entries` held in memory (of `query.type`, after `query.after`; the caller applied the other
 * filters): newest start first, ties by id (descending); the cursor ("ql." and base64url JSON) holds the start
 * and id of the page's last entry. InvalidArgumentError for a cursor not made here.
 *
 * @example
 * const page = pageOfEntries(await store.listWorkflows('running'), { limit: 50 });
 */
export function pageOfEntries(entries: readonly WorkflowEntry[], query: WorkflowPageQuery): WorkflowEntryPage {
  const cursor = query.after === undefined ? undefined : decodeListCursor(query.after);
  const before = (entry: WorkflowEntry): boolean =>
    cursor === undefined || entry.startedAt < cursor.startedAt || (entry.startedAt === cursor.startedAt && entry.id < cursor.id);
  const matching = entries
    .filter((entry) => (query.type === undefined || entry.type === query.type) && before(entry))
    .sort((a, b) => b.startedAt - a.startedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const page = matching.slice(0, query.limit);
  const last = page.at(-1);
  if (matching.length <= query.limit || last === undefined) return { entries: page };
  return { entries: page, next: `ql.${Buffer.from(JSON.stringify([last.startedAt, last.id])).toString('base64url')}` };
}

function decodeListCursor(cursor: string): { startedAt: number; id: string } {
  try {
    if (cursor.startsWith('ql.')) {
      const [startedAt, id] = JSON.parse(Buffer.from(cursor.slice(3), 'base64url').toString()) as unknown[];
      if (Number.isSafeInteger(startedAt) && typeof id === 'string') return { startedAt: startedAt as number, id };
    }
  } catch {
    // Not JSON: said below.
  }
  throw badCursor(cursor);
}
