/**
 * The protocol's read-only inspection operations (version 1), used by the dashboard and by any client:
 * a paged, filtered workflow list with counts by state; one workflow's history as the CLI shows it (records
 * with pruned ranges as gaps); the code versions live histories replay; and time series for plots.
 * Types only; documented in docs/protocol.md. All of them need the `admin` role under the default
 * authorization: a history holds every argument sent to the workflow, private resources' included.
 */
import type { HistoryItem } from '../inspect/history-view.js';
import type { VersionUsage } from '../inspect/versions.js';
import type { WireWorkflowInfo } from './messages.js';

/** The inspection operations (appended to OPERATIONS). */
export const INSPECT_OPERATIONS = ['workflows', 'history', 'versions', 'stats'] as const;

/** A workflow's state as listed. */
export type WireStatus = WireWorkflowInfo['status'];

/** Every state, in the order the dashboard shows them. */
export const WIRE_STATUSES: readonly WireStatus[] = ['running', 'suspended', 'damaged', 'completed', 'failed', 'cancelled'];

/** The most lines one `workflows` page may have. */
export const MAX_PAGE_LIMIT = 500;

/** The request bodies of the inspection operations. */
export interface InspectRequests {
  /**
   * One page of workflows, newest start first (the same start: the latest stored first). `status`/`type` keep the workflows of that
   * state/type; `search` keeps ids (and aliases) containing it; `offset` skips that many matching lines;
   * `limit` (default 50, at most {@link MAX_PAGE_LIMIT}) is the page size; `id` keeps only the workflow of
   * that id or alias (one line at most). `after`: the `next` of the page before, when the server gave one: the
   * page follows it (then `offset` is only echoed: say how many lines come before, for a "51-100 of N"); a
   * server without paged reads ignores it and pages by `offset`, so send both.
   */
  workflows: { status?: WireStatus; type?: string; search?: string; id?: string; offset?: number; limit?: number; after?: string };
  /** The stored history of workflow `id` (its id, not an alias: histories are stored by id). */
  history: { id: string };
  versions: Record<string, never>;
  /** Time series over buckets of `bucketMs` (default: chosen to give about 48 buckets); `sizes` running histories measured (default 100). */
  stats: { bucketMs?: number; sizes?: number };
}

/** The answers of the inspection operations. */
export interface InspectResults {
  workflows: WorkflowPage;
  history: WireHistory;
  versions: VersionUsage[];
  stats: WireStats;
}

/** One page of the workflow list. */
export interface WorkflowPage {
  items: WireWorkflowInfo[];
  /** How many workflows match the filters (all pages). */
  total: number;
  offset: number;
  limit: number;
  /** How many workflows are in each state (all of them, before filters). */
  counts: Record<WireStatus, number>;
  /** The workflow types that exist, sorted. */
  types: string[];
  /** When the server made this page (epoch ms). */
  at: number;
  /**
   * What to pass as `after` for the next page, when the server reads the list by pages (its store has paged
   * reads, and the filters are state and type only): the next page stays anchored there while workflows start.
   * Absent on the last page, and whenever the server pages by `offset`.
   */
  next?: string;
}

/** A workflow's history as stored: records (serialized values) and pruned gaps, in seq order. */
export interface WireHistory {
  id: string;
  type: string;
  /** Its state as stored: 'running' (unfinished) or how it finished. */
  state: string;
  items: HistoryItem[];
  /** Records stored now. */
  stored: number;
  /** Records forgotten so far (pruned before the last stored one). */
  pruned: number;
  /** The versions this history replays: function (null: format 1), name and values. */
  versions: { fn: string | null; name: string; versions: string[] }[];
}

/** Counts over time, and the sizes of running histories. */
export interface WireStats {
  bucketMs: number;
  /** [bucket start (epoch ms), workflows started in it], oldest first, no empty buckets left out between. */
  started: [number, number][];
  /** [bucket start, workflows finished in it]. */
  finished: [number, number][];
  /** The largest running histories measured, largest first. */
  historySizes: { id: string; type: string; stored: number; pruned: number }[];
  at: number;
}
