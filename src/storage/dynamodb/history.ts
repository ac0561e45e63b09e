/**
 * The histories of a DynamoStore: one item per record (keyed by workflow and seq) plus one head item per
 * history (items.ts). How a commit stays whole without transactions (dynalite has no TransactWriteItems):
 *
 * 1. the appended records are written with conditional puts (`attribute_not_exists`): of two writers
 *    appending the same seq, one is refused;
 * 2. the head is updated with a condition on its commit counter (`committed = previous`): the commit point.
 *    Records of a commit the head does not count yet (a crash between 1 and 2) are a torn tail: ignored on
 *    load and deleted before the next commit. A writer refused here (another one moved the head) deletes
 *    the records it put, which would otherwise count as the other writer's; one that dies before it leaves
 *    records the next load reports as damage (more records than the head counts), never replays;
 * 3. the records the commit removed are deleted afterwards, in batches shared with other workflows; until
 *    then the head lists them (`removed`), so a crash before they are gone cannot bring them back.
 *
 * Damage is detected on load, never replayed: each record holds the CRC-32 of its body, and the head counts
 * the live records (fewer found: records were deleted); a running workflow without a head lost its history.
 */
import { GetItemCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { HistoryChange } from '../../core/history.js';
import type { HistoryRecord } from '../../core/records.js';
import { CorruptHistoryError, StorageError } from '../../core/errors.js';
import { KeyedQueues } from '../files/fs.js';
import { awsErrorName, inParallel } from '../aws-options.js';
import { HEAD, entryKey, historyPartition, isRecordSortKey, key, num, parseRecordItem, readHead, readRecordItem, recordItem, recordSortKey, type Head, type Item, type Key } from './items.js';
import { BatchDeleter, queryPartition } from './table.js';

/** What this process knows of a history it read or wrote: enough to commit without reading. */
interface HistoryState {
  head: Head;
  /** Seqs of the live records. */
  live: Set<number>;
  /** Items that are not live but still stored (a torn tail, cleared or removed records): deleted before the next commit. */
  garbage: Key[];
  /** Whether the state was read from the table (then `garbage` is deleted before the next commit). */
  read: boolean;
}

/** Appended records written at once, per commit. */
const PUT_CONCURRENCY = 16;

/** The history operations of one DynamoStore (its table, its client). */
export class DynamoHistories {
  private readonly states = new Map<string, HistoryState>();
  private readonly queues = new KeyedQueues();
  readonly deleter: BatchDeleter;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {
    this.deleter = new BatchDeleter(client, table);
  }

  /** The live records of `workflowId`, checked. Reads only (read-only tools load too). */
  load(workflowId: string): Promise<HistoryRecord[]> {
    return this.queues.run(workflowId, async () => {
      const { records, state } = await this.read(workflowId);
      this.states.set(workflowId, state);
      return records;
    });
  }

  /** Apply `change` whole (see the module comment); durable when it resolves. */
  commit(workflowId: string, change: HistoryChange): Promise<void> {
    return this.queues.run(workflowId, async () => {
      try {
        await this.applyCommit(workflowId, change);
      } catch (error) {
        // What was written of a failed commit is a torn tail: read again (and clean up) before the next one.
        this.states.delete(workflowId);
        throw error;
      }
    });
  }

  /** Remove every record of `workflowId`: the head moves its floor past them (one conditional update), then they are deleted. */
  clear(workflowId: string): Promise<void> {
    return this.queues.run(workflowId, async () => {
      try {
        const state = await this.writable(workflowId);
        const previous = state.head.committed;
        const head: Head = { committed: previous + 1, live: 0, floor: previous + 1, removed: [] };
        await this.updateHead(workflowId, previous, head);
        const stored = await queryPartition(this.client, this.table, historyPartition(workflowId), true);
        await this.deleter.delete(stored.filter((item) => isRecordSortKey(item.sk?.S)).map((item) => key(item.pk!.S!, item.sk!.S!)));
        this.states.set(workflowId, { head, live: new Set(), garbage: [], read: false });
      } catch (error) {
        this.states.delete(workflowId);
        throw error;
      }
    });
  }

  /** Delete every item of the history's partition (records, alias marks), the head last. */
  remove(workflowId: string): Promise<void> {
    return this.queues.run(workflowId, async () => {
      this.states.delete(workflowId);
      const stored = await queryPartition(this.client, this.table, historyPartition(workflowId), true);
      const keys = stored.map((item) => key(item.pk!.S!, item.sk!.S!));
      await this.deleter.delete(keys.filter((k) => k.sk.S !== HEAD));
      await this.deleter.delete(keys.filter((k) => k.sk.S === HEAD));
    });
  }

  /**
   * Make sure the head of `workflowId` exists (a running workflow's history must: see load). Idempotent, and
   * no request when this process already knows the head.
   */
  async ensureHead(workflowId: string): Promise<void> {
    if (this.knownHeads.has(workflowId)) return;
    await this.client.send(new UpdateItemCommand({
      TableName: this.table,
      Key: key(historyPartition(workflowId), HEAD),
      UpdateExpression: 'SET #committed = if_not_exists(#committed, :zero), #live = if_not_exists(#live, :zero), #floor = if_not_exists(#floor, :zero), #removed = if_not_exists(#removed, :empty)',
      ExpressionAttributeNames: { '#committed': 'committed', '#live': 'live', '#floor': 'floor', '#removed': 'removed' },
      ExpressionAttributeValues: { ':zero': num(0), ':empty': { L: [] } },
    }));
    this.knownHeads.add(workflowId);
  }

  /** Histories whose head this process wrote or read (so `ensureHead` needs no request). */
  private readonly knownHeads = new Set<string>();

  private async applyCommit(workflowId: string, change: HistoryChange): Promise<void> {
    if (change.append.length === 0 && change.remove.length === 0) return;
    const state = await this.writable(workflowId);
    const previous = state.head.committed;
    const commit = previous + 1;
    const removing = new Set(change.remove);
    // A record the change removes itself is never written.
    const written = change.append.filter((record) => !removing.has(record.seq));
    const items = written.map((record) => recordItem(workflowId, record, commit));
    const put: Item[] = [];
    try {
      await inParallel(items.map((item) => async () => {
        await this.putRecord(workflowId, item);
        put.push(item);
      }), PUT_CONCURRENCY);
    } catch (error) {
      await this.takeBack(put);
      throw error;
    }
    const live = new Set(state.live);
    for (const record of written) live.add(record.seq);
    const deleted = change.remove.filter((seq) => live.delete(seq));
    const head: Head = { committed: commit, live: live.size, floor: state.head.floor, removed: [...new Set([...state.head.removed, ...deleted])] };
    try {
      await this.updateHead(workflowId, previous, head);
    } catch (error) {
      if (error instanceof StorageError) await this.takeBack(put);
      throw error;
    }
    const next: HistoryState = { head, live, garbage: [], read: false };
    this.states.set(workflowId, next);
    this.knownHeads.add(workflowId);
    if (deleted.length > 0) this.pruneLater(workflowId, deleted);
  }

  /**
   * Delete the records a refused commit put: another writer moved the head, so they would count as its
   * commit's. Best effort: when it fails too, the next load reports the surplus as damage.
   */
  private async takeBack(put: readonly Item[]): Promise<void> {
    await this.deleter.delete(put.map((item) => key(item.pk!.S!, item.sk!.S!))).catch(() => undefined);
  }

  /** Delete removed records in the background (batched with other workflows); the head forgets them once gone. */
  private pruneLater(workflowId: string, seqs: number[]): void {
    const partition = historyPartition(workflowId);
    this.deleter.delete(seqs.map((seq) => key(partition, recordSortKey(seq)))).then(
      () => {
        const gone = new Set(seqs);
        const state = this.states.get(workflowId);
        // The next head update leaves them out; a crash before it only deletes them again.
        if (state !== undefined) state.head.removed = state.head.removed.filter((seq) => !gone.has(seq));
      },
      // Left in the head's list: the next writer that reads the history deletes them.
      () => undefined,
    );
  }

  private async putRecord(workflowId: string, item: Item): Promise<void> {
    try {
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
    } catch (error) {
      if (awsErrorName(error) !== 'ConditionalCheckFailedException') throw error;
      throw new StorageError(
        `Record ${item.sk?.S?.slice(2).replace(/^0+(?=\d)/, '')} of workflow ${JSON.stringify(workflowId)} is already stored: another ` +
          'process writes this history, or the history was changed since this process read it. One writer per history: stop the other one.',
      );
    }
  }

  /** Move the head from commit `previous` to `head`, refused when another writer moved it first. */
  private async updateHead(workflowId: string, previous: number, head: Head): Promise<void> {
    try {
      await this.client.send(new UpdateItemCommand({
        TableName: this.table,
        Key: key(historyPartition(workflowId), HEAD),
        UpdateExpression: 'SET #committed = :committed, #live = :live, #floor = :floor, #removed = :removed',
        ConditionExpression: previous === 0 ? 'attribute_not_exists(pk) OR #committed = :previous' : '#committed = :previous',
        ExpressionAttributeNames: { '#committed': 'committed', '#live': 'live', '#floor': 'floor', '#removed': 'removed' },
        ExpressionAttributeValues: {
          ':committed': num(head.committed), ':live': num(head.live), ':floor': num(head.floor),
          ':removed': { L: head.removed.map(num) }, ':previous': num(previous),
        },
      }));
    } catch (error) {
      if (awsErrorName(error) !== 'ConditionalCheckFailedException') throw error;
      throw new StorageError(
        `The history of workflow ${JSON.stringify(workflowId)} was committed to by another writer since this process read it ` +
          '(one writer per history). Stop the other process; this commit was not applied.',
      );
    }
  }

  /** The state to commit from: read when unknown; what the read found that is not live is deleted first. */
  private async writable(workflowId: string): Promise<HistoryState> {
    const state = this.states.get(workflowId) ?? (await this.read(workflowId, false)).state;
    if (state.read) {
      await this.deleter.delete(state.garbage);
      // Every item that is not live is gone now, also those the head listed as removed: the next head update drops them.
      state.garbage = [];
      state.head.removed = [];
      state.read = false;
    }
    this.states.set(workflowId, state);
    return state;
  }

  /** Read and check the history; `checkEntry`: a missing head of a running workflow is damage. */
  private async read(workflowId: string, checkEntry = true): Promise<{ records: HistoryRecord[]; state: HistoryState }> {
    const items = await queryPartition(this.client, this.table, historyPartition(workflowId));
    const headItem = items.find((item) => item.sk?.S === HEAD);
    if (headItem === undefined && checkEntry && (await this.isRunning(workflowId))) {
      throw new CorruptHistoryError('its history is missing (the items of a running workflow were deleted)', { workflowId });
    }
    if (headItem !== undefined) this.knownHeads.add(workflowId);
    const head = headItem === undefined ? { committed: 0, live: 0, floor: 0, removed: [] } : readHead(headItem);
    const removed = new Set(head.removed);
    const liveItems = [];
    const garbage: Key[] = [];
    for (const item of items) {
      if (!isRecordSortKey(item.sk?.S)) continue;
      const stored = readRecordItem(item);
      if (stored.commit > head.floor && stored.commit <= head.committed && !removed.has(stored.seq)) liveItems.push(stored);
      else garbage.push(key(historyPartition(workflowId), stored.sortKey));
    }
    if (liveItems.length !== head.live) {
      throw new CorruptHistoryError(`its history holds ${liveItems.length} record(s) where its commits left ${head.live} (${liveItems.length < head.live ? 'records were deleted' : 'another writer added records'})`, { workflowId });
    }
    const records = liveItems.map((item) => parseRecordItem(item, workflowId));
    return { records, state: { head, live: new Set(records.map((record) => record.seq)), garbage, read: true } };
  }

  private async isRunning(workflowId: string): Promise<boolean> {
    const { Item: item } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: entryKey(workflowId), ConsistentRead: true }));
    return item?.state?.S === 'running';
  }

  /** Forget what is known of `workflowId` (deleted). */
  forget(workflowId: string): void {
    this.states.delete(workflowId);
    this.knownHeads.delete(workflowId);
  }

  /** Resolves when every queued history operation and background deletion is done. */
  async idle(): Promise<void> {
    await this.queues.idle();
    await this.deleter.idle();
  }
}
