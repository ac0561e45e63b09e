/**
 * A resource stream over the network: an async iterable of snapshots that reconnects with backoff when the
 * connection drops (server restart, workflow suspended for a while) and ends with the workflow's outcome.
 *
 * Like the server, it keeps only the latest snapshot for a slow reader: iterating yields the newest state,
 * never a growing backlog.
 */
import type { ResourceSnapshot } from '../core/resource-stream.js';
import { deserialize, type Json } from '../core/serializer.js';
import { isQuestError } from '../core/errors.js';
import { ConnectionFailedError, isServiceError } from '../protocol/errors.js';
import { CLOSE, STREAM_PATH, STREAM_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX, type StreamMessage } from '../protocol/messages.js';
import { messageOf, rebuildError } from './errors.js';

/** The part of the WebSocket API the client uses: the browser's global WebSocket and `ws` both have it. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor (browser global, or `ws`'s WebSocket). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Reconnection backoff of streams. */
export interface ReconnectOptions {
  /** First delay (default 100 ms), doubled after each failed attempt up to `maxDelayMs` (default 5 s). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Give up after this many attempts in a row without a message (default: never). */
  maxAttempts?: number;
}

/** How a stream ended: with the workflow's result, its failure, or without an outcome. */
export type StreamOutcome = { status: 'completed'; value: unknown } | { status: 'failed'; error: Error } | { status: 'ended' };

/** What a stream needs from its client. */
export interface StreamConnection {
  baseUrl: string;
  token(): Promise<string | undefined>;
  webSocket(): Promise<WebSocketConstructor>;
  reconnect: ReconnectOptions;
}

/**
 * The snapshots of a workflow's resources visible to the client's identity. `for await` it; `break` closes
 * it. When the workflow finishes, iteration ends and {@link result} has the outcome.
 *
 * @example
 * const stream = client.resourceStream('g1');
 * for await (const snapshot of stream) render(snapshot.resources);
 * console.log(await stream.result());
 */
export class RemoteResourceStream implements AsyncIterableIterator<ResourceSnapshot> {
  private socket: WebSocketLike | undefined;
  private latest: ResourceSnapshot | undefined;
  private waiting: { resolve: (result: IteratorResult<ResourceSnapshot>) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;
  private ended = false;
  private attempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private outcomeValue: StreamOutcome | undefined;
  private readonly outcomeWaiters: ((outcome: StreamOutcome) => void)[] = [];

  constructor(readonly workflowId: string, private readonly connection: StreamConnection) {
    void this.connect();
  }

  /** How the stream ended (undefined while it runs). */
  get outcome(): StreamOutcome | undefined {
    return this.outcomeValue;
  }

  /**
   * The workflow's result, once the stream has ended with it; rejects with the workflow's failure, or with
   * the error that ended the stream (or a ConnectionFailedError when it ended without an outcome).
   */
  async result(): Promise<unknown> {
    const outcome = this.outcomeValue ?? (await new Promise<StreamOutcome>((resolve) => this.outcomeWaiters.push(resolve)));
    if (outcome.status === 'completed') return outcome.value;
    if (outcome.status === 'failed') throw outcome.error;
    throw this.failure ?? new ConnectionFailedError('the stream ended without the workflow\'s outcome');
  }

  next(): Promise<IteratorResult<ResourceSnapshot>> {
    if (this.latest !== undefined) {
      const value = this.latest;
      this.latest = undefined;
      return Promise.resolve({ value, done: false });
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  /** Stop listening (what `break` calls): closes the connection; the workflow and other listeners go on. */
  return(): Promise<IteratorResult<ResourceSnapshot>> {
    this.finish({ status: 'ended' });
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private async connect(): Promise<void> {
    if (this.ended) return;
    let socket: WebSocketLike;
    try {
      const [WebSocketClass, token] = await Promise.all([this.connection.webSocket(), this.connection.token()]);
      if (this.ended) return;
      const protocols = [STREAM_SUBPROTOCOL];
      if (token !== undefined) protocols.push(TOKEN_SUBPROTOCOL_PREFIX + base64url(token));
      const url = `${this.connection.baseUrl.replace(/^http/, 'ws')}${STREAM_PATH}?workflow=${encodeURIComponent(this.workflowId)}`;
      socket = new WebSocketClass(url, protocols);
    } catch (error) {
      this.fail(new ConnectionFailedError(messageOf(error), error));
      return;
    }
    this.socket = socket;
    socket.onmessage = (event) => this.received(event.data);
    socket.onerror = () => undefined; // A close follows; it decides.
    socket.onclose = (event) => this.closed(socket, event.code);
  }

  private received(data: unknown): void {
    let message: StreamMessage;
    try {
      message = JSON.parse(typeof data === 'string' ? data : String(data)) as StreamMessage;
    } catch {
      return this.fail(new ConnectionFailedError('the server sent a frame that is not JSON'));
    }
    this.attempts = 0;
    switch (message.type) {
      case 'snapshot': {
        const { type: _type, ...snapshot } = message;
        return this.deliver(snapshot);
      }
      case 'result':
        return this.finish({ status: 'completed', value: deserialize(message.value as Json) });
      case 'failed':
        return this.finish({ status: 'failed', error: rebuildError(message.error) });
      case 'error': {
        const error = rebuildError(message.error);
        if (isRetryable(error)) return; // The close that follows reconnects.
        return this.fail(error);
      }
    }
  }

  private closed(socket: WebSocketLike, code: number): void {
    if (this.socket === socket) this.socket = undefined;
    if (this.ended) return;
    if (code === CLOSE.finished) return this.finish({ status: 'ended' });
    this.retry();
  }

  private retry(): void {
    const options = this.connection.reconnect;
    this.attempts++;
    if (options.maxAttempts !== undefined && this.attempts > options.maxAttempts) {
      return this.fail(new ConnectionFailedError(`the stream of ${JSON.stringify(this.workflowId)} could not reconnect after ${options.maxAttempts} attempts`));
    }
    const initial = options.initialDelayMs ?? 100;
    const delay = Math.min(options.maxDelayMs ?? 5_000, initial * 2 ** (this.attempts - 1));
    this.retryTimer = setTimeout(() => void this.connect(), delay * (0.75 + Math.random() / 2));
  }

  private deliver(snapshot: ResourceSnapshot): void {
    if (this.waiting !== undefined) {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting.resolve({ value: snapshot, done: false });
    } else {
      this.latest = snapshot;
    }
  }

  private fail(error: Error): void {
    if (this.ended) return;
    this.failure = error;
    const waiting = this.waiting;
    this.waiting = undefined;
    this.finish({ status: 'ended' });
    waiting?.reject(error);
  }

  private finish(outcome: StreamOutcome): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.retryTimer);
    this.outcomeValue = outcome;
    for (const resolve of this.outcomeWaiters.splice(0)) resolve(outcome);
    if (this.socket !== undefined && this.socket.readyState <= 1) this.socket.close(1000, 'the client stopped listening');
    this.socket = undefined;
    const waiting = this.waiting;
    this.waiting = undefined;
    if (this.failure === undefined) waiting?.resolve({ value: undefined, done: true });
    else waiting?.reject(this.failure);
  }
}

/** Errors after which a stream reconnects rather than ends. */
function isRetryable(error: Error): boolean {
  if (isQuestError(error) || isServiceError(error)) return error.retryable;
  return false;
}

/** base64url without padding, of the UTF-8 bytes of `text` (browsers and Node alike). */
export function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
