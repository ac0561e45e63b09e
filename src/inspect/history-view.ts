/**
 * A stored history as `quest history` shows it: the records in order, with the records that were pruned
 * (forgotten when a step, a loop iteration or a take ended) shown as counts. Seqs are given out one by one
 * from 1, so a gap between two consecutive stored records — or before the first one — is exactly the
 * number of records pruned there (including records dropped before they were ever written).
 *
 * Pure and dependency-free beyond core's record types: the CLI (`quest history`), the server (`history`
 * operation) and the dashboard share it.
 */
import { resourceLabel, versionLabel, type HistoryRecord } from '../core/records.js';
import type { Json } from '../core/serializer.js';

/** A run of pruned records: seqs `from` to `to`, `count` of them. */
export interface PrunedGap {
  type: 'pruned';
  count: number;
  from: number;
  to: number;
}

/** One line of a shown history: a stored record, or a run of pruned ones. */
export type HistoryItem = HistoryRecord | PrunedGap;

/**
 * The records of a history (in seq order) with a {@link PrunedGap} wherever seqs are missing.
 *
 * @example
 * historyItems([{ seq: 1, ... }, { seq: 6, ... }]);   // [record 1, { type: 'pruned', count: 4, from: 2, to: 5 }, record 6]
 */
export function historyItems(records: readonly HistoryRecord[]): HistoryItem[] {
  const items: HistoryItem[] = [];
  let expected = 1;
  for (const record of records) {
    if (record.seq > expected) items.push({ type: 'pruned', count: record.seq - expected, from: expected, to: record.seq - 1 });
    items.push(record);
    expected = Math.max(expected, record.seq + 1);
  }
  return items;
}

/** How many records were pruned before the last stored one. */
export function prunedCount(records: readonly HistoryRecord[]): number {
  return historyItems(records).reduce((total, item) => total + (item.type === 'pruned' ? item.count : 0), 0);
}

/** The line shown for a run of pruned records. */
export function prunedLine(gap: PrunedGap): string {
  return `… ${gap.count} record${gap.count === 1 ? '' : 's'} pruned …`;
}

/** The details column of a record: result or error, resource, action and arguments, version, ... */
export function recordDetails(record: HistoryRecord): string {
  switch (record.type) {
    case 'step_start':
    case 'task_start':
      return '';
    case 'step_end':
    case 'task_end':
      return outcome(record);
    case 'resource_open':
      return join(`${record.kind} ${resourceLabel(record.resource)}`, record.init === undefined ? '' : `init=${showValue(record.init)}`);
    case 'resource_close':
      return join(resourceLabel(record.resource), record.by === undefined ? '' : `by ${record.by}`);
    case 'internal':
    case 'external':
      return join(`${record.action} on ${resourceLabel(record.resource)}`, `args=${showValue(record.args)}`, outcome(record));
    case 'version':
      return `${versionLabel(record.fn, record.name)} = ${JSON.stringify(record.version)}`;
    case 'config':
      return `${record.name} args=${showValue(record.args)}`;
    case 'checkpoint':
      return join(`iteration ${record.iteration}${record.done ? ' (done)' : ''}`, outcome(record));
    case 'alias':
      return `${record.open ? 'open' : 'close'} alias ${record.alias}`;
    case 'task_cancel':
      return `task ${record.target}`;
  }
}

function outcome(record: { result?: Json; error?: { name: string; message: string } }): string {
  if (record.error !== undefined) return `error=${record.error.name}: ${record.error.message}`;
  return isUndefinedValue(record.result) ? '' : `result=${showValue(record.result)}`;
}

function join(...parts: string[]): string {
  return parts.filter((part) => part !== '').join('  ');
}

/** Whether a serialized value is Quest's encoding of `undefined`. */
export function isUndefinedValue(value: Json | undefined): boolean {
  return value === undefined || (typeof value === 'object' && value !== null && !Array.isArray(value) && value['$q'] === 'undefined');
}

/** A serialized value on one line, cut at `max` characters. */
export function showValue(value: Json | undefined, max = 120): string {
  const text = isUndefinedValue(value) ? 'undefined' : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
