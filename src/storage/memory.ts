/**
 * In-memory histories: fast, and gone with the process. For tests, benchmarks and workflows that need replay
 * across suspend/resume inside one process but not across restarts.
 */
import type { History, HistoryChange } from '../core/history.js';
import type { HistoryRecord } from '../core/records.js';
import { DuplicateWorkflowError, StorageError } from '../core/errors.js';
import { InProcessOwnership } from './owner.js';
import { checkPageQuery, countEntries, isAfter, pageOf, type WorkflowCount, type WorkflowCountFilter, type WorkflowEntryPage, type WorkflowPageQuery, type WorkflowPages } from './workflow-pages.js';
import { timelineOf, type TimeBuckets, type TimeCounts, type WorkflowTimeline } from './workflow-timeline.js';
import {
  EVENT_OUTCOME_RETENTION_MS,
  type EventInbox,
  type EventOutcome,
  type EventVerdict,
  type InboxEvent,
  type PostedEvent,
  type Store,
  type StoreOwner,
  type StoreOwnership,
  type WorkflowEntry,
  type WorkflowEntryWrites,
  type WorkflowState,
} from './store.js';

/** A history kept in this process's memory. Commits apply synchronously. */
export class MemoryHistory implements History {
  // A Map keeps insertion (= seq) order and removes by seq in O(1).
  private readonly records = new Map<number, HistoryRecord>();

  load(): Promise<readonly HistoryRecord[]> {
    return Promise.resolve([...this.records.values()]);
  }

  commit(change: HistoryChange): void {
    // Appends first: a change may remove a record it appends itself.
    for (const record of change.append) this.records.set(record.seq, record);
    for (const seq of change.remove) this.records.delete(seq);
  }

  clear(): void {
    this.records.clear();
  }

  /** Number of records currently kept. */
  get size(): number {
    return this.records.size;
  }

  /** A copy of the records, in order (for inspection and tests). */
  snapshot(): HistoryRecord[] {
    return [...this.records.values()];
  }
}

/**
 * A whole Quest store in memory: histories, the manager's bookkeeping and an inbox of outside events
 * ({@link EventInbox}), gone with the process. One WorkflowManager at a time ({@link StoreOwnership}): a second
 * manager over the same MemoryStore object is refused with StoreOwnedError until the first closes.
 */
export class MemoryStore implements Store, EventInbox, StoreOwnership, WorkflowEntryWrites, WorkflowPages, WorkflowTimeline {
  private readonly histories = new Map<string, MemoryHistory>();
  private readonly workflows = new Map<string, WorkflowEntry>();
  /** Where each entry was first stored (what orders entries started in the same millisecond, as SQLite's rowid). */
  private readonly positions = new Map<string, number>();
  private nextPosition = 1;
  private readonly aliases = new Map<string, string>();
  /** Posted events in id order. */
  private readonly inbox: PostedEvent[] = [];
  /** Outcomes of settled events, in settling order (so the oldest are pruned from the front). */
  private readonly outcomes = new Map<number, EventOutcome>();
  private nextEventId = 1;
  private closed = false;
  private readonly ownership = new InProcessOwnership('in memory');
  /** The counts over time, by a loop over the entries (a memory store is small). */
  private readonly timeline = timelineOf(() => this.workflows.values());

  history(workflowId: string): MemoryHistory {
    this.checkOpen();
    let history = this.histories.get(workflowId);
    if (history === undefined) {
      history = new MemoryHistory();
      this.histories.set(workflowId, history);
    }
    return history;
  }

  putWorkflow(entry: WorkflowEntry): Promise<void> {
    this.checkOpen();
    this.store(entry);
    return Promise.resolve();
  }

  /** See {@link WorkflowEntryWrites.insertWorkflow}. */
  insertWorkflow(entry: WorkflowEntry): Promise<void> {
    this.checkOpen();
    if (this.workflows.has(entry.id)) return Promise.reject(new DuplicateWorkflowError(entry.id));
    this.store(entry);
    return Promise.resolve();
  }

  /** See {@link WorkflowEntryWrites.finishWorkflow}. */
  finishWorkflow(entry: WorkflowEntry): Promise<void> {
    this.checkOpen();
    this.store(entry);
    // Cleared, and dropped: a finished workflow keeps no history object (history(id) makes a new, empty one).
    this.histories.get(entry.id)?.clear();
    this.histories.delete(entry.id);
    return Promise.resolve();
  }

  getWorkflow(workflowId: string): Promise<WorkflowEntry | undefined> {
    this.checkOpen();
    const entry = this.workflows.get(workflowId);
    return Promise.resolve(entry === undefined ? undefined : cloneEntry(entry));
  }

  /** See {@link WorkflowPages.pageWorkflows}: sorts the matching entries (a memory store is small). */
  pageWorkflows(query: WorkflowPageQuery): Promise<WorkflowEntryPage> {
    try {
      this.checkOpen();
      const cursor = checkPageQuery(query);
      const found = this.searchFilter(query.search);
      const keyed = [...this.workflows.values()]
        .filter((entry) => (query.state === undefined || entry.state === query.state) && (query.type === undefined || entry.type === query.type) && found(entry))
        .map((entry) => ({ entry, key: { startedAt: entry.startedAt, position: this.positions.get(entry.id)! } }))
        .filter(({ key }) => cursor === undefined || isAfter(key, cursor))
        .sort((a, b) => b.key.startedAt - a.key.startedAt || b.key.position - a.key.position);
      return Promise.resolve(pageOf(keyed, query.limit, ({ entry }) => cloneEntry(entry), ({ key }) => key));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /** See {@link WorkflowPages.countWorkflows}. */
  countWorkflows(filter: WorkflowCountFilter = {}): Promise<WorkflowCount[]> {
    this.checkOpen();
    const found = this.searchFilter(filter.search);
    return Promise.resolve(countEntries([...this.workflows.values()].filter(found)));
  }

  /** Whether an entry is one a page's or a count's `search` finds: its id contains it, or an alias it holds does. */
  private searchFilter(search: string | undefined): (entry: WorkflowEntry) => boolean {
    if (search === undefined) return () => true;
    const holders = new Set<string>();
    for (const [alias, workflowId] of this.aliases) if (alias.includes(search)) holders.add(workflowId);
    return (entry) => entry.id.includes(search) || holders.has(entry.id);
  }

  /** See {@link WorkflowTimeline.earliestStart}. */
  earliestStart(): Promise<number | undefined> {
    this.checkOpen();
    return this.timeline.earliestStart();
  }

  /** See {@link WorkflowTimeline.countByTime}: a loop over the entries. */
  countByTime(query: TimeBuckets): Promise<TimeCounts> {
    this.checkOpen();
    return this.timeline.countByTime(query);
  }

  listWorkflows(state?: WorkflowState): Promise<WorkflowEntry[]> {
    this.checkOpen();
    const entries = [...this.workflows.values()].filter((entry) => state === undefined || entry.state === state);
    entries.sort((a, b) => a.startedAt - b.startedAt);
    return Promise.resolve(entries.map((entry) => cloneEntry(entry)));
  }

  deleteWorkflow(workflowId: string): Promise<void> {
    this.checkOpen();
    this.workflows.delete(workflowId);
    this.positions.delete(workflowId);
    this.histories.delete(workflowId);
    for (const [alias, target] of this.aliases) if (target === workflowId) this.aliases.delete(alias);
    return Promise.resolve();
  }

  putAlias(alias: string, workflowId: string): Promise<void> {
    this.checkOpen();
    this.aliases.set(alias, workflowId);
    return Promise.resolve();
  }

  deleteAlias(alias: string, workflowId: string): Promise<void> {
    this.checkOpen();
    if (this.aliases.get(alias) === workflowId) this.aliases.delete(alias);
    return Promise.resolve();
  }

  /** Keep a copy of `entry`; a new id takes the next position. */
  private store(entry: WorkflowEntry): void {
    if (!this.positions.has(entry.id)) this.positions.set(entry.id, this.nextPosition++);
    this.workflows.set(entry.id, cloneEntry(entry));
  }

  getAlias(alias: string): Promise<string | undefined> {
    this.checkOpen();
    return Promise.resolve(this.aliases.get(alias));
  }

  postEvent(event: InboxEvent): Promise<number> {
    this.checkOpen();
    const id = this.nextEventId++;
    const { workflowId, resource, identity, action, args, ttlMs } = event;
    const copy = structuredClone({ workflowId, resource, identity, action, args, ...(ttlMs === undefined ? {} : { ttlMs }) });
    this.inbox.push({ id, postedAt: Date.now(), ...copy });
    return Promise.resolve(id);
  }

  takeEvents(limit: number, afterId = 0): Promise<PostedEvent[]> {
    this.checkOpen();
    const events = this.inbox.filter((event) => event.id > afterId).slice(0, Math.max(0, limit));
    return Promise.resolve(events.map((event) => structuredClone(event)));
  }

  settleEvent(id: number, verdict: EventVerdict): Promise<void> {
    this.checkOpen();
    const now = Date.now();
    for (const [settled, outcome] of this.outcomes) {
      if (outcome.status === 'pending' || outcome.settledAt >= now - EVENT_OUTCOME_RETENTION_MS) break;
      this.outcomes.delete(settled);
    }
    const index = this.inbox.findIndex((event) => event.id === id);
    if (index < 0) return Promise.resolve();
    this.inbox.splice(index, 1);
    this.outcomes.set(id, { ...structuredClone(verdict), settledAt: now });
    return Promise.resolve();
  }

  eventOutcome(id: number): Promise<EventOutcome | undefined> {
    this.checkOpen();
    if (this.inbox.some((event) => event.id === id)) return Promise.resolve({ status: 'pending' });
    const outcome = this.outcomes.get(id);
    return Promise.resolve(outcome === undefined ? undefined : structuredClone(outcome));
  }

  acquireOwnership(owner: StoreOwner): Promise<void> {
    this.checkOpen();
    return this.ownership.acquire(owner);
  }

  releaseOwnership(): Promise<void> {
    return this.ownership.release();
  }

  currentOwner(): Promise<StoreOwner | undefined> {
    return this.ownership.current();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('This store is closed.');
  }
}

/**
 * A copy of an entry that shares nothing with it, as a store that serializes would give (the caller may change
 * its object afterwards). Entries hold JSON data only, which a plain recursive copy handles several times faster
 * than structuredClone (whose fixed cost per call dominates for small entries).
 */
function cloneEntry(entry: WorkflowEntry): WorkflowEntry {
  // Field by field (no Object.keys walk of the entry): its fields are known, and only these hold objects.
  const copy: WorkflowEntry = { ...entry, args: entry.args.map(cloneData) as WorkflowEntry['args'] };
  if (typeof entry.result === 'object' && entry.result !== null) copy.result = cloneData(entry.result) as WorkflowEntry['result'];
  if (entry.error !== undefined) copy.error = cloneData(entry.error) as WorkflowEntry['error'];
  if (entry.timeout !== undefined) copy.timeout = { ...entry.timeout };
  if (entry.parent !== undefined) copy.parent = { ...entry.parent };
  return copy;
}

function cloneData(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(cloneData);
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = cloneData((value as Record<string, unknown>)[key]);
  return copy;
}
