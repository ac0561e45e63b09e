/**
 * The inspection operations of the protocol (src/protocol/inspect.ts): a paged, filtered workflow list with
 * counts, one workflow's stored history, the versions live histories replay, and time series for plots.
 * Read-only: they read the manager's list and the store, and never write. Where the store can (WorkflowPages,
 * WorkflowTimeline), a call reads a page, counts or per-bucket counts from it instead of the whole list.
 */
import { WorkflowNotFoundError } from '../core/errors.js';
import { upgradeRecord, type HistoryRecord } from '../core/records.js';
import type { Json } from '../core/serializer.js';
import { historyItems, prunedCount } from '../inspect/history-view.js';
import { versionsInUse, versionsOfHistory } from '../inspect/versions.js';
import type { Store } from '../storage/store.js';
import { readWorkflowPage } from '../storage/workflow-pages.js';
import { MAX_TIME_BUCKETS, hasTimeline, timelineOf, type WorkflowTimeline } from '../storage/workflow-timeline.js';
import { BadRequestError, NotServedError } from '../protocol/errors.js';
import { MAX_PAGE_LIMIT, WIRE_STATUSES, type WireHistory, type WireStats, type WireStatus, type WorkflowPage } from '../protocol/inspect.js';
import type { Principal, WireWorkflowInfo } from '../protocol/messages.js';
import { choiceField, integerField, optionalString, stringField } from './validate.js';
import { pageable, pagedWorkflows, searchOf, type PagedReads } from './inspect-pages.js';
import type { StatusCount } from '../manager/list-pages.js';

/** What the history, versions and stats operations read: a store, read-only. */
export type InspectStore = Pick<Store, 'history' | 'getWorkflow' | 'listWorkflows'>;

type Impl = (body: Record<string, unknown>, principal: Principal) => Promise<Json>;

/** What the inspection operations need around them. */
export interface InspectDeps {
  /** Every workflow as list() reports it (on the wire). */
  list(): Promise<WireWorkflowInfo[]>;
  /** Throws ForbiddenError unless the principal may do the operation. */
  check(operation: 'workflows' | 'history' | 'versions' | 'stats', principal: Principal, id: string | undefined): Promise<void>;
  store: InspectStore | undefined;
  /**
   * The manager's paged reads, when its store reads the list by pages: then the `workflows` call reads a
   * page (and counts) instead of the whole list, where the filters allow (see inspect-pages.ts).
   */
  paged?: PagedReads;
}

/** The four operations, each authorized before it reads anything; `changed()` invalidates the kept list. */
export function inspectOperations(deps: InspectDeps): Record<'workflows' | 'history' | 'versions' | 'stats', Impl> & { changed(): void } {
  const snapshot = new ListSnapshot(deps.list);
  const list = (): Promise<WireWorkflowInfo[]> => snapshot.get();
  const paged = deps.paged;
  // The counts of a paged list, kept as the whole list is (one GROUP BY over every entry, not every 2 s per tab);
  // those of what a search finds, kept alike for the last few searches.
  const counts = paged === undefined ? undefined : new ListSnapshot<StatusCount[]>(() => paged.count({}));
  const searchCounts = paged === undefined ? undefined : new SearchCounts(paged);
  const storeFor = (operation: string): InspectStore => {
    if (deps.store === undefined) throw new NotServedError(operation, 'a store to read histories from (QuestServerOptions.store)');
    return deps.store;
  };
  // The versions read every running history: kept alike, so that polling tabs do not read them all each time.
  const versions = new ListSnapshot(() => versionsInUse(storeFor('versions')));
  return {
    changed: () => {
      snapshot.invalidate();
      counts?.invalidate();
      searchCounts?.invalidate();
      versions.invalidate();
    },
    workflows: async (body, principal) => {
      await deps.check('workflows', principal, undefined);
      if (paged !== undefined && counts !== undefined && searchCounts !== undefined && pageable(body)) {
        const search = searchOf(body);
        const found = search === undefined ? undefined : await searchCounts.get(search);
        return (await pagedWorkflows(paged.page, await counts.get(), body, found)) as unknown as Json;
      }
      return workflowPage(await list(), body) as unknown as Json;
    },
    history: async (body, principal) => {
      const id = stringField(body, 'id');
      await deps.check('history', principal, id);
      return (await historyOf(storeFor('history'), id)) as unknown as Json;
    },
    versions: async (_body, principal) => {
      await deps.check('versions', principal, undefined);
      return (await versions.get()) as unknown as Json;
    },
    stats: async (body, principal) => {
      await deps.check('stats', principal, undefined);
      const store = storeFor('stats');
      // The store's own counts over time (from its indexes) when it has them; else a loop over the kept list.
      const full = store as Store;
      const timeline = hasTimeline(full) ? full : await listTimeline(list);
      return (await statsOf(timeline, store, body)) as unknown as Json;
    },
  };
}

/** One page of `all` for the filters of `body`. */
export function workflowPage(all: readonly WireWorkflowInfo[], body: Record<string, unknown>): WorkflowPage {
  const status = choiceField(body, 'status', WIRE_STATUSES);
  const type = optionalString(body, 'type');
  const search = optionalString(body, 'search');
  const id = optionalString(body, 'id');
  const offset = integerField(body, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = integerField(body, 'limit', 50, 1, MAX_PAGE_LIMIT);
  const counts = Object.fromEntries(WIRE_STATUSES.map((s) => [s, 0])) as Record<WireStatus, number>;
  const types = new Set<string>();
  const matching: WireWorkflowInfo[] = [];
  for (const info of all) {
    counts[info.status]++;
    types.add(info.type);
    if (status !== undefined && info.status !== status) continue;
    if (type !== undefined && info.type !== type) continue;
    if (search !== undefined && !info.id.includes(search) && !info.aliases.some((alias) => alias.includes(search))) continue;
    if (id !== undefined && info.id !== id && !info.aliases.includes(id)) continue;
    matching.push(info);
  }
  // list() is oldest first (the same start: the first stored first): reversed, the order of a paged read.
  matching.reverse().sort((a, b) => b.startedAt - a.startedAt);
  return { items: matching.slice(offset, offset + limit), total: matching.length, offset, limit, counts, types: [...types].sort(), at: Date.now() };
}

/** The stored history of workflow `id`, as the CLI's `quest history` shows it. */
export async function historyOf(store: InspectStore, id: string): Promise<WireHistory> {
  const entry = await store.getWorkflow(id);
  if (entry === undefined) throw new WorkflowNotFoundError(id);
  const records: HistoryRecord[] = (await store.history(id).load()).map(upgradeRecord);
  const versions = versionsOfHistory(records).map(({ fn, name, versions: set }) => ({ fn, name, versions: [...set] }));
  return { id, type: entry.type, state: entry.state, items: historyItems(records), stored: records.length, pruned: prunedCount(records), versions };
}

/**
 * Started/finished counts per bucket (counted by `timeline`), and the sizes of the newest running histories (at
 * most `sizes`: one page of running entries, newest first, however many there are).
 */
export async function statsOf(timeline: WorkflowTimeline, store: InspectStore, body: Record<string, unknown>): Promise<WireStats> {
  const now = Date.now();
  const first = Math.min(now, (await timeline.earliestStart()) ?? now);
  const bucketMs = integerField(body, 'bucketMs', niceBucket(now - first), 1000, 366 * 24 * 3600_000);
  const sizes = integerField(body, 'sizes', 100, 0, 10_000);
  const origin = Math.floor(first / bucketMs) * bucketMs;
  const buckets = Math.floor((now - origin) / bucketMs) + 1;
  if (buckets > MAX_TIME_BUCKETS) {
    const least = Math.ceil((now - first) / (MAX_TIME_BUCKETS - 2));
    throw new BadRequestError(`"bucketMs" ${bucketMs} makes ${buckets} buckets since the first workflow started, more than ${MAX_TIME_BUCKETS}: ask for at least ${least}`);
  }
  const counts = await timeline.countByTime({ origin, bucketMs, buckets });
  const series = (values: number[]): [number, number][] => values.map((count, n) => [origin + n * bucketMs, count]);
  const running = sizes === 0 ? [] : (await readWorkflowPage(store as Store, { state: 'running', limit: sizes })).entries;
  const historySizes = [];
  for (const entry of running) {
    const records = (await store.history(entry.id).load()).map(upgradeRecord);
    historySizes.push({ id: entry.id, type: entry.type, stored: records.length, pruned: prunedCount(records) });
  }
  historySizes.sort((a, b) => b.stored - a.stored || b.pruned - a.pruned);
  return { bucketMs, started: series(counts.started), finished: series(counts.finished), historySizes, at: now };
}

/** The timeline of the kept list (for a store without WorkflowTimeline): every workflow, counted by a loop. */
async function listTimeline(list: () => Promise<WireWorkflowInfo[]>): Promise<WorkflowTimeline> {
  const all = await list();
  return timelineOf(() => all);
}

/** A round bucket width giving at most about 48 buckets over `span` ms. */
function niceBucket(span: number): number {
  const widths = [60_000, 5 * 60_000, 15 * 60_000, 3600_000, 6 * 3600_000, 24 * 3600_000, 7 * 24 * 3600_000];
  return widths.find((width) => span / width <= 48) ?? 30 * 24 * 3600_000;
}

/**
 * The workflow list for the inspection calls: concurrent callers share one load, and a load is reused while
 * it is younger than 1 s or 4 times what it took (whichever is longer), so that paging, filtering and many
 * polling tabs do not re-read 100,000 entries each time (with 100,000 workflows a load takes about half a
 * second). A list at most that old is fine for a view refreshed every 2 s; the server's own start, cancel and
 * delete invalidate it at once.
 */
export class ListSnapshot<T> {
  private pending: Promise<T> | undefined;
  private kept: { value: T; until: number } | undefined;

  constructor(private readonly load: () => Promise<T>, private readonly clock: () => number = Date.now) {}

  get(): Promise<T> {
    if (this.kept !== undefined && this.clock() < this.kept.until) return Promise.resolve(this.kept.value);
    if (this.pending === undefined) {
      const started = this.clock();
      const loading = this.load().then((value) => {
        if (this.pending === loading) this.kept = { value, until: this.clock() + Math.max(1000, 4 * (this.clock() - started)) };
        return value;
      });
      this.pending = loading;
      const clear = (): void => {
        if (this.pending === loading) this.pending = undefined;
      };
      loading.then(clear, clear);
    }
    return this.pending;
  }

  /** Forget the kept list (a workflow was started, cancelled or deleted here). */
  invalidate(): void {
    this.kept = undefined;
    this.pending = undefined;
  }
}

/** How many searches {@link SearchCounts} keeps the counts of. */
const KEPT_SEARCHES = 8;

/**
 * The counts of what each recent search finds (one GROUP BY in the store each), kept as {@link ListSnapshot}
 * keeps a list: a dashboard polling a search every two seconds does not count it again each time.
 */
class SearchCounts {
  private readonly kept = new Map<string, ListSnapshot<StatusCount[]>>();

  constructor(private readonly paged: PagedReads) {}

  get(search: string): Promise<StatusCount[]> {
    let snapshot = this.kept.get(search);
    if (snapshot === undefined) {
      snapshot = new ListSnapshot(() => this.paged.count({ search }));
      if (this.kept.size >= KEPT_SEARCHES) this.kept.delete(this.kept.keys().next().value as string);
    } else this.kept.delete(search); // kept again below, as the latest
    this.kept.set(search, snapshot);
    return snapshot.get();
  }

  invalidate(): void {
    for (const snapshot of this.kept.values()) snapshot.invalidate();
  }
}
