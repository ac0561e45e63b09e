/**
 * LISTEN/NOTIFY for a {@link PostgresStore}: what one process changes (an inbox event posted, a workflow
 * finished, leases released), the others hear at once instead of at their next poll. Notifications only
 * nudge: one may be lost (the listening connection broke, the server restarted), so every listener polls as
 * well, and a reconnect tells every listener to look (an `inbox` and a `claimable` change).
 *
 * One channel per schema. Writers queue notifications with their writes; the store sends them after the
 * transaction committed (see GroupCommit), so a listener never looks before the change is visible.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { StoreChange } from '../store.js';

/** The channel of `schema` (an identifier of at most 63 bytes, whatever the schema's name). */
export function channelOf(schema: string): string {
  return `quest_${createHash('sha256').update(schema).digest('hex').slice(0, 24)}`;
}

/** A change as a notification payload (at most ~8,000 bytes: ids are short enough in practice; longer ones are cut to a poll). */
export function encodeChange(change: StoreChange): string {
  const payload = JSON.stringify(change);
  return payload.length > 7000 ? JSON.stringify({ kind: 'claimable' }) : payload;
}

function decodeChange(payload: string | undefined): StoreChange | undefined {
  try {
    const change = JSON.parse(payload ?? '') as StoreChange;
    return typeof change === 'object' && change !== null && typeof change.kind === 'string' ? change : undefined;
  } catch {
    return undefined;
  }
}

/** Backoff of the listening connection's reconnects: 100 ms, doubling up to 5 s. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;

/**
 * The listening connection of one store: taken from the store's pool when the first listener comes, held
 * (LISTEN) until the store closes, reconnected with backoff when it breaks.
 */
export class ChangeListener {
  private readonly listeners = new Set<(change: StoreChange) => void>();
  private client: pg.PoolClient | undefined;
  private connecting = false;
  private closed = false;
  private retryMs = FIRST_RETRY_MS;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly channel: string,
  ) {}

  /** Add a listener (connecting on the first); returns its removal. */
  watch(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    if (this.client === undefined) void this.connect();
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Stop listening for good and give the connection back. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    client.removeAllListeners('notification');
    client.removeAllListeners('error');
    client.on('error', () => undefined);
    try {
      await client.query(`UNLISTEN ${this.channel}`);
      client.release();
    } catch (error) {
      client.release(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private async connect(): Promise<void> {
    if (this.connecting || this.closed || this.listeners.size === 0) return;
    this.connecting = true;
    let client: pg.PoolClient | undefined;
    try {
      client = await this.pool.connect();
      const taken = client;
      taken.on('error', (error) => this.broken(taken, error));
      taken.on('notification', (message) => {
        if (message.channel !== this.channel) return;
        const change = decodeChange(message.payload);
        if (change !== undefined) this.emit(change);
      });
      await taken.query(`LISTEN ${this.channel}`);
      if (this.closed) {
        taken.release();
        return;
      }
      this.client = taken;
      const reconnected = this.retryMs !== FIRST_RETRY_MS;
      this.retryMs = FIRST_RETRY_MS;
      // What was notified while nobody listened is lost: every listener looks now.
      if (reconnected) {
        this.emit({ kind: 'inbox' });
        this.emit({ kind: 'claimable' });
      }
    } catch (error) {
      if (client !== undefined) client.release(error instanceof Error ? error : new Error(String(error)));
      this.retry();
    } finally {
      this.connecting = false;
    }
  }

  private broken(client: pg.PoolClient, error: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('notification');
    client.release(error);
    this.retry();
  }

  private retry(): void {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }

  private emit(change: StoreChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A listener's failure is its own; the others still hear.
      }
    }
  }
}
