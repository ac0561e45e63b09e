/**
 * The items of a DynamoStore's table (partition key `pk`, sort key `sk`, both strings):
 *
 * | item              | pk               | sk                 | attributes                                   |
 * |-------------------|------------------|--------------------|----------------------------------------------|
 * | a history's head  | `h#<workflowId>` | `head`             | committed, live, floor, removed              |
 * | a history record  | `h#<workflowId>` | `r#<seq, 16 digits>` | body (the record's JSON), crc, c (its commit) |
 * | a workflow entry  | `workflows`      | `w#<workflowId>`   | body (the entry's JSON)                      |
 * | an alias          | `aliases`        | `a#<alias>`        | target (the workflow id)                     |
 * | an alias's mark   | `h#<workflowId>` | `a#<alias>`        | (none: deleting the workflow finds its aliases) |
 *
 * A record is live when `floor < c <= committed` and its seq is not in `removed` (see history.ts): the head is
 * the one item a commit changes conditionally, so it decides which records count.
 */
import { crc32 } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { HistoryRecord } from '../../core/records.js';
import { CorruptHistoryError, StorageError } from '../../core/errors.js';

export type Item = Record<string, AttributeValue>;
export type Key = { pk: { S: string }; sk: { S: string } };

/** The sort key of a history's head. */
export const HEAD = 'head';
/** The partition of the workflow entries. */
export const WORKFLOWS = 'workflows';
/** The partition of the aliases. */
export const ALIASES = 'aliases';
/** DynamoDB's item limit is 400 KB (names and values); a record's body must leave room for its key. */
export const MAX_RECORD_BYTES = 390 * 1024;

export const historyPartition = (workflowId: string): string => `h#${workflowId}`;
export const recordSortKey = (seq: number): string => `r#${String(seq).padStart(16, '0')}`;
export const key = (pk: string, sk: string): Key => ({ pk: { S: pk }, sk: { S: sk } });
export const entryKey = (workflowId: string): Key => key(WORKFLOWS, `w#${workflowId}`);
export const aliasKey = (alias: string): Key => key(ALIASES, `a#${alias}`);
/** The mark, in the history's partition, that `alias` was pointed at `workflowId`. */
export const aliasMarkKey = (workflowId: string, alias: string): Key => key(historyPartition(workflowId), `a#${alias}`);
/** Whether a sort key of a history's partition is a record's. */
export const isRecordSortKey = (sortKey: string | undefined): boolean => sortKey?.startsWith('r#') === true;

export const num = (value: number): AttributeValue => ({ N: String(value) });

/** A history's head as stored. */
export interface Head {
  /** Commits applied (also cleared ones): the fencing counter every commit moves by one, conditionally. */
  committed: number;
  /** Live records the commits left: fewer found on load means records were deleted (damage). */
  live: number;
  /** Records of commits up to `floor` were cleared. */
  floor: number;
  /** Seqs removed by commits whose items may not be deleted yet. */
  removed: number[];
}

/** A record item as read back. */
export interface RecordItem {
  seq: number;
  sortKey: string;
  body: string | undefined;
  crc: number | undefined;
  commit: number;
}

export function readHead(item: Item): Head {
  return {
    committed: Number(item.committed?.N ?? 0),
    live: Number(item.live?.N ?? 0),
    floor: Number(item.floor?.N ?? 0),
    removed: (item.removed?.L ?? []).map((value) => Number(value.N)),
  };
}

export function readRecordItem(item: Item): RecordItem {
  const sortKey = item.sk?.S ?? '';
  return {
    seq: Number(sortKey.slice(2)),
    sortKey,
    body: item.body?.S,
    crc: item.crc?.N === undefined ? undefined : Number(item.crc.N),
    commit: Number(item.c?.N ?? 0),
  };
}

/** The item of `record`, appended by commit `commit`. Throws StorageError when it is too big for DynamoDB. */
export function recordItem(workflowId: string, record: HistoryRecord, commit: number): Item {
  const body = JSON.stringify(record);
  const bytes = Buffer.byteLength(body);
  if (bytes > MAX_RECORD_BYTES) {
    throw new StorageError(
      `Record ${record.seq} of workflow ${JSON.stringify(workflowId)} is ${bytes} bytes; a DynamoDB item holds at most 400 KB. ` +
        'Keep step results small (store large data elsewhere and record its key), or use the S3 store.',
    );
  }
  return { ...key(historyPartition(workflowId), recordSortKey(record.seq)), body: { S: body }, crc: num(crc32(body)), c: num(commit) };
}

/** The record of a live item, checked against its checksum and its key. */
export function parseRecordItem(item: RecordItem, workflowId: string): HistoryRecord {
  if (item.body === undefined || item.crc === undefined || crc32(item.body) !== item.crc) {
    throw new CorruptHistoryError(`record ${item.seq} does not match its checksum (its bytes were changed)`, { workflowId });
  }
  let record: HistoryRecord;
  try {
    record = JSON.parse(item.body) as HistoryRecord;
  } catch {
    throw new CorruptHistoryError(`record ${item.seq} is not JSON`, { workflowId });
  }
  if (typeof record !== 'object' || record === null || record.seq !== item.seq) {
    throw new CorruptHistoryError(`record ${item.seq} holds another seq`, { workflowId });
  }
  return record;
}
