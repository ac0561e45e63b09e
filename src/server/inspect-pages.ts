/**
 * The `workflows` inspection call read by pages (when the manager's store has paged reads): the page's own
 * entries through `manager.listPage`, and the counts from one GROUP BY kept a short while (as the whole list is
 * in inspect-operations.ts), instead of every entry per call. It answers every filter from the first page or a
 * cursor: status, type, id, and `search` in the store (its total from the counts of what it finds); the statuses
 * only the manager tells apart (suspended, damaged) from the workflows it holds. Only `offset` without a cursor
 * (an older client) stays with the whole list.
 */
import type { ListPage, ListPageQuery, StatusCount } from '../manager/list-pages.js';
import type { WorkflowState } from '../storage/store.js';
import type { WorkflowCountFilter } from '../storage/workflow-pages.js';
import { MAX_PAGE_LIMIT, WIRE_STATUSES, type WireStatus, type WorkflowPage } from '../protocol/inspect.js';
import type { WireWorkflowInfo } from '../protocol/messages.js';
import { choiceField, integerField, optionalString } from './validate.js';

/** A page of the manager's list, on the wire (items as `list` sends them). */
export type WirePager = (query: ListPageQuery) => Promise<Omit<ListPage, 'items'> & { items: WireWorkflowInfo[] }>;

/** The manager's paged reads: a page of its list (listPage) and the counts of a page without it (countWorkflows). */
export interface PagedReads {
  page: WirePager;
  count(filter: WorkflowCountFilter): Promise<StatusCount[]>;
}

/** At most this many store pages fill one answer whose status filter drops lines (say, a few suspended among running). */
const MAX_FILLS = 20;

/** True when `body` asks for what a paged read answers: anything but an offset without a cursor. */
export function pageable(body: Record<string, unknown>): boolean {
  return typeof body.after === 'string' || !(typeof body.offset === 'number' && body.offset > 0);
}

/** The search of `body`, if any (an empty one is none). */
export function searchOf(body: Record<string, unknown>): string | undefined {
  const search = optionalString(body, 'search');
  return search === '' ? undefined : search;
}

/**
 * One page for `body` (see {@link pageable}), with the counts of every workflow (`counts`) and, for a search, of
 * those it finds (`found`: the total).
 */
export async function pagedWorkflows(page: WirePager, counts: readonly StatusCount[], body: Record<string, unknown>, found: readonly StatusCount[] = counts): Promise<WorkflowPage> {
  const status = choiceField(body, 'status', WIRE_STATUSES);
  const type = optionalString(body, 'type');
  const id = optionalString(body, 'id');
  const search = searchOf(body);
  const limit = integerField(body, 'limit', 50, 1, MAX_PAGE_LIMIT);
  const offset = integerField(body, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
  let after = optionalString(body, 'after');
  const held = status === 'suspended' || status === 'damaged';
  // Stored state 'running' holds the suspended and damaged workflows too: their lines are dropped here.
  const filters: Omit<ListPageQuery, 'limit'> = {
    ...(held ? { status } : status === undefined ? {} : { state: status as WorkflowState }),
    ...(type === undefined ? {} : { type }),
    ...(id === undefined ? {} : { id }),
    ...(search === undefined ? {} : { search }),
  };
  const items: WireWorkflowInfo[] = [];
  let next: string | undefined;
  for (let fill = 0; fill < MAX_FILLS; fill++) {
    const read = await page({ ...filters, limit: limit - items.length, ...(after === undefined ? {} : { after }) });
    items.push(...(status === undefined ? read.items : read.items.filter((info) => info.status === status)));
    next = after = read.next;
    if (next === undefined || items.length === limit) break;
  }
  const byStatus = Object.fromEntries(WIRE_STATUSES.map((s) => [s, 0])) as Record<WireStatus, number>;
  const types = new Set<string>();
  for (const count of counts) {
    byStatus[count.status] += count.count;
    types.add(count.type);
  }
  let total = 0;
  for (const count of found) if ((status === undefined || count.status === status) && (type === undefined || count.type === type)) total += count.count;
  // One workflow asked for by id or alias: the total is whether it is there.
  if (id !== undefined) total = items.length;
  const answer: WorkflowPage = { items, total, offset, limit, counts: byStatus, types: [...types].sort(), at: Date.now() };
  if (next !== undefined) answer.next = next;
  return answer;
}
