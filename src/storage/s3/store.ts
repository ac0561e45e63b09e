/**
 * S3 storage: a Quest store under one prefix of one S3 bucket (layout.ts), for serverless and cloud
 * deployments. Histories: history.ts.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { S3Client } from '@aws-sdk/client-s3';
import { InvalidArgumentError, StorageError } from '../../core/errors.js';
import type { Store, WorkflowEntry, WorkflowState } from '../store.js';
import { RecordHistory } from '../record-history.js';
import { storageError } from '../storage-error.js';
import { CloudStore } from '../cloud-store.js';
import { clientConfig, inParallel, type AwsConnectionOptions } from '../aws-options.js';
import { Bucket } from './objects.js';
import { Layout } from './layout.js';
import { S3Histories } from './history.js';
import { S3Ownership } from './owner.js';

/** Options of {@link S3Store.open}. */
export interface S3StoreOptions extends AwsConnectionOptions {
  /** The bucket (it must exist). Default: env QUEST_S3_BUCKET. */
  bucket?: string;
  /** A key prefix for everything the store writes, so that several stores share a bucket: `orders/` (default: none). */
  prefix?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which local servers need (default: true when `endpoint` is given). */
  forcePathStyle?: boolean;
  /**
   * Refuse to open when the server does not enforce conditional writes (`If-None-Match: *`), on which the
   * one-writer-per-history check rests (default false: open, and say so in {@link S3Store.conditionalWrites}).
   */
  requireConditionalWrites?: boolean;
  /** A client of yours (then endpoint, region, credentials and forcePathStyle are ignored; close() leaves it open). */
  client?: S3Client;
  /**
   * Open for inspection (`quest list`, ...): only read requests are sent, not even the probe of conditional
   * writes ({@link S3Store.conditionalWrites} is then false); every write, and taking ownership, fails with
   * StorageError. Default false.
   */
  readOnly?: boolean;
}

/** Reads at once when listing workflow entries. */
const READ_CONCURRENCY = 16;

/**
 * A {@link Store} in an S3 bucket. Open it with {@link S3Store.open}.
 *
 * - A commit is one PUT of a new, immutable segment (never a rewrite of the history), created with
 *   `If-None-Match: *` so that two writers of one history cannot both write the same segment; once commits
 *   outnumber the live records, a base segment replaces them (history.ts).
 * - Damage (a segment changed, cut, emptied or missing, the deleted history of a running workflow) is a
 *   CorruptHistoryError on load, never replayed; only a last segment cut short while a writer's mark shows the
 *   store was not closed cleanly is dropped, as a torn commit ({@link S3Store.tornTailPossible}).
 * - One object per workflow entry and per alias (and one per alias under its workflow, so that deleting a
 *   workflow finds its aliases): `listWorkflows` reads every entry (one GET each).
 * - Not atomic across objects: `deleteWorkflow` removes the entry first, then aliases and segments (a crash
 *   in between leaves objects no entry points at; deleting again removes them).
 *
 * One owner at a time ({@link StoreOwnership}): an owner object created with `If-None-Match: *` and taken
 * over with `If-Match` (enforced between processes where the server enforces conditional writes, see
 * {@link S3Store.conditionalWrites}). It has no inbox (EventInbox) yet: see the README.
 *
 * @example
 * const store = await S3Store.open({ bucket: 'my-app', prefix: 'quest/' });
 * const manager = await WorkflowManager.open({ store, workflows: { order } });
 */
export class S3Store extends CloudStore implements Store {
  protected readonly histories: S3Histories;
  protected readonly ownership: S3Ownership;
  private readonly layout: Layout;

  /** This store's mark under `writers/`, once it wrote (a promise, so that concurrent first writes share it). */
  private marked: Promise<void> | undefined;
  private readonly token = randomUUID();

  private constructor(
    /** The client the store sends its requests with. */
    readonly client: S3Client,
    ownsClient: boolean,
    private readonly bucket: Bucket,
    prefix: string,
    /**
     * Whether the server refused a second `If-None-Match: *` PUT of the same key when the store opened: true
     * on AWS S3 (since August 2024), false on s3rver (and for a store opened read-only, which does not probe).
     * Without it, one writer per history is not enforced.
     */
    readonly conditionalWrites: boolean,
    /**
     * Whether a store that wrote here did not close cleanly (its mark under `writers/` was left): then a last
     * segment cut short is a torn commit, ignored; otherwise it is damage (see history.ts).
     */
    readonly tornTailPossible: boolean,
  ) {
    super(`S3 store (bucket ${JSON.stringify(bucket.name)})`, ownsClient ? client : undefined);
    this.layout = new Layout(prefix);
    this.histories = new S3Histories(
      bucket, this.layout, async (workflowId) => (await this.getWorkflow(workflowId))?.state === 'running', tornTailPossible, () => this.mark(),
    );
    this.ownership = new S3Ownership(bucket, this.layout.owner);
  }

  /**
   * Connect, check the bucket and whether it enforces conditional writes, and return the store. Rejects with
   * StorageError when the bucket cannot be reached, InvalidArgumentError for bad options.
   *
   * @example
   * const store = await S3Store.open({ bucket: 'quest', endpoint: 'http://127.0.0.1:4569', credentials });
   */
  static async open(options: S3StoreOptions = {}): Promise<S3Store> {
    const name = options.bucket ?? process.env.QUEST_S3_BUCKET;
    if (name === undefined || name === '') throw new InvalidArgumentError('S3Store needs a bucket: option bucket or env QUEST_S3_BUCKET.');
    const prefix = options.prefix === undefined || options.prefix === '' || options.prefix.endsWith('/') ? (options.prefix ?? '') : `${options.prefix}/`;
    const client = options.client ?? new S3Client({
      ...clientConfig(options, 'S3Store'),
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    });
    const readOnly = options.readOnly === true;
    const bucket = new Bucket(client, name, readOnly);
    let enforced: boolean;
    let marks: string[];
    try {
      enforced = readOnly ? false : await probeConditionalWrites(bucket, new Layout(prefix));
      marks = await bucket.list(new Layout(prefix).writersPrefix);
    } catch (error) {
      if (options.client === undefined) client.destroy();
      throw storageError(`open the S3 store (bucket ${JSON.stringify(name)}). Does the bucket exist, and are the region, credentials and endpoint right?`, error);
    }
    if (!enforced && !readOnly && options.requireConditionalWrites === true) {
      if (options.client === undefined) client.destroy();
      throw new StorageError(
        `The S3 server of bucket ${JSON.stringify(name)} does not enforce conditional writes (If-None-Match), so one writer per ` +
          'history cannot be enforced. Use AWS S3 (or a server that supports them), or drop requireConditionalWrites.',
      );
    }
    return new S3Store(client, options.client === undefined, bucket, prefix, enforced, marks.length > 0);
  }

  /** Where the store is, for messages (and `quest --db`): `s3://<bucket>/<prefix>`. */
  get path(): string {
    return `s3://${this.bucket.name}/${this.layout.prefix}`;
  }

  /** Bases written (a base replaces the segments before it), for tests and benchmarks. */
  get bases(): number {
    return this.histories.bases;
  }

  history(workflowId: string): RecordHistory {
    this.checkOpen();
    return new RecordHistory(this, workflowId);
  }

  putWorkflow(entry: WorkflowEntry): Promise<void> {
    return this.request(`save workflow ${JSON.stringify(entry.id)}`, async () => {
      const body = JSON.stringify(entry);
      // A running workflow's history must exist from now on, so that losing it is seen as damage.
      if (entry.state === 'running') await this.histories.ensureExists(entry.id);
      await this.bucket.put(this.layout.workflow(entry.id), body);
    });
  }

  getWorkflow(workflowId: string): Promise<WorkflowEntry | undefined> {
    return this.request(`read workflow ${JSON.stringify(workflowId)}`, async () => {
      const bytes = await this.bucket.get(this.layout.workflow(workflowId));
      return bytes === undefined ? undefined : (JSON.parse(Buffer.from(bytes).toString('utf8')) as WorkflowEntry);
    });
  }

  listWorkflows(state?: WorkflowState): Promise<WorkflowEntry[]> {
    return this.request('list workflows', async () => {
      const keys = await this.bucket.list(this.layout.workflowsPrefix);
      const entries = await inParallel(keys.map((key) => async () => {
        const bytes = await this.bucket.get(key);
        return bytes === undefined ? undefined : (JSON.parse(Buffer.from(bytes).toString('utf8')) as WorkflowEntry);
      }), READ_CONCURRENCY);
      return entries
        .filter((entry): entry is WorkflowEntry => entry !== undefined && (state === undefined || entry.state === state))
        .sort((a, b) => a.startedAt - b.startedAt);
    });
  }

  deleteWorkflow(workflowId: string): Promise<void> {
    return this.request(`delete workflow ${JSON.stringify(workflowId)}`, async () => {
      // The entry first: without it, what is left of the history is no longer expected (nor damage).
      await this.bucket.delete(this.layout.workflow(workflowId));
      const references = await this.bucket.list(this.layout.aliasesOfPrefix(workflowId));
      for (const reference of references) {
        const alias = this.layout.aliasFromKey(workflowId, reference);
        if ((await this.readAlias(alias)) === workflowId) await this.bucket.delete(this.layout.alias(alias));
      }
      await this.bucket.deleteMany(references);
      await this.histories.remove(workflowId);
    });
  }

  putAlias(alias: string, workflowId: string): Promise<void> {
    return this.request(`save alias ${JSON.stringify(alias)}`, async () => {
      // The reference first, so that deleting the workflow finds every alias that may point at it.
      await this.bucket.put(this.layout.aliasOf(workflowId, alias), '');
      await this.bucket.put(this.layout.alias(alias), JSON.stringify({ workflowId }));
    });
  }

  deleteAlias(alias: string, workflowId: string): Promise<void> {
    return this.request(`delete alias ${JSON.stringify(alias)}`, async () => {
      if ((await this.readAlias(alias)) === workflowId) await this.bucket.delete(this.layout.alias(alias));
      await this.bucket.delete(this.layout.aliasOf(workflowId, alias));
    });
  }

  getAlias(alias: string): Promise<string | undefined> {
    return this.request(`read alias ${JSON.stringify(alias)}`, () => this.readAlias(alias));
  }

  /** Leave this store's mark under `writers/` before its first segment: until it closes, it may tear one. */
  /** Closed cleanly: nothing this store wrote can be torn any more, so its writer mark goes. */
  protected override async closedCleanly(): Promise<void> {
    if (this.marked !== undefined && (await this.marked.then(() => true, () => false))) await this.bucket.delete(this.layout.writer(this.token));
  }

  private mark(): Promise<void> {
    this.marked ??= this.bucket.put(this.layout.writer(this.token), JSON.stringify({ pid: process.pid, host: hostname(), since: Date.now() }));
    const marked = this.marked;
    // A failed mark is tried again by the next write.
    marked.catch(() => {
      if (this.marked === marked) this.marked = undefined;
    });
    return marked;
  }

  private async readAlias(alias: string): Promise<string | undefined> {
    const bytes = await this.bucket.get(this.layout.alias(alias));
    return bytes === undefined ? undefined : (JSON.parse(Buffer.from(bytes).toString('utf8')) as { workflowId: string }).workflowId;
  }
}

/** Whether the server refuses to create a key twice with `If-None-Match: *` (3 requests, on a scratch key). */
async function probeConditionalWrites(bucket: Bucket, layout: Layout): Promise<boolean> {
  const key = layout.probe(randomUUID());
  try {
    await bucket.create(key, 'first');
    return !(await bucket.create(key, 'second'));
  } finally {
    await bucket.delete(key);
  }
}
