/**
 * Calls over the call channel: one WebSocket at `/v1/calls` carries every call of a client as a message
 * `{ id, operation, body }`, answered by `{ id, status, value | error }` in any order.
 *
 * The socket opens with the first call and again with the first call after it closed (a server restart, a
 * network cut): nothing reconnects in the background. A call whose answer had not come when the socket
 * closed fails with CallInterruptedError, which says whether the server may have done it; the client never
 * sends a call twice. Calls not yet sent when the socket could not open fail with ConnectionFailedError (not
 * done). On Node, the socket does not keep the process alive while no call waits for its answer.
 */
import type { Json } from '../core/serializer.js';
import { CallInterruptedError, ConnectionFailedError } from '../protocol/errors.js';
import { CALLS_PATH, STREAM_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX, type CallAnswer } from '../protocol/messages.js';
import { messageOf, rebuildError } from './errors.js';
import type { CallTransport } from './http-transport.js';
import { base64url, type WebSocketConstructor, type WebSocketLike } from './stream.js';

/** What the call channel needs from its client. */
export interface CallSocketOptions {
  baseUrl: string;
  /** Asked once per connection: the channel's identity is the one proven when it opened. */
  token(): Promise<string | undefined>;
  webSocket(): Promise<WebSocketConstructor>;
  /** Calls sent at once; more wait in the client for an answer to free a place (the server's default: 16). */
  maxCallsInFlight: number;
}

/** Operations that change nothing on the server: interrupted, they are safe to call again. */
const READ_ONLY: ReadonlySet<string> = new Set(['has', 'result', 'list', 'resources', 'waitForResource', 'whoami', 'workflows', 'history', 'versions', 'stats']);

const OPEN = 1;

interface Pending {
  operation: string;
  resolve(value: Json): void;
  reject(error: Error): void;
}

/** One WebSocket and the calls waiting for their answers on it. */
interface Connection {
  socket: WebSocketLike & { send(data: string): void };
  pending: Map<number, Pending>;
  /** The error the server refused the connection with (an answer with `id: null`), if any. */
  refusal: Error | undefined;
}

/** The call-channel transport of a QuestClient. */
export class CallSocket implements CallTransport {
  private connection: Connection | undefined;
  private opening: Promise<Connection> | undefined;
  private nextId = 1;
  /** Calls sent and not answered yet, on any connection. */
  private inFlight = 0;
  /** Calls waiting for a place among the `maxCallsInFlight`, first come first served. */
  private readonly queued: (() => void)[] = [];

  constructor(private readonly options: CallSocketOptions) {}

  async call(operation: string, body: unknown): Promise<Json> {
    // The server answers TOO_MANY_CALLS beyond its limit per connection: wait here instead of being refused.
    if (this.inFlight >= this.options.maxCallsInFlight) await new Promise<void>((resolve) => this.queued.push(resolve));
    this.inFlight++;
    try {
      const connection = await this.open();
      const id = this.nextId++;
      const frame = JSON.stringify({ id, operation, body });
      return await new Promise<Json>((resolve, reject) => {
        // Closing since it opened (refused by the server, or cut): not sent, so not done.
        if (connection.socket.readyState !== OPEN) return reject(connection.refusal ?? new ConnectionFailedError(`the call channel ${CALLS_PATH} closed before the call was sent`));
        connection.pending.set(id, { operation, resolve, reject });
        if (connection.pending.size === 1) holdProcess(connection.socket, true);
        connection.socket.send(frame);
      });
    } finally {
      this.inFlight--;
      this.queued.shift()?.();
    }
  }

  /** Close the socket; calls waiting for their answers fail with CallInterruptedError. A later call opens a new one. */
  async close(): Promise<void> {
    const connection = this.connection ?? (await this.opening?.catch(() => undefined));
    if (connection !== undefined && connection.socket.readyState <= OPEN) connection.socket.close(1000, 'the client closed');
  }

  private open(): Promise<Connection> {
    if (this.connection !== undefined && this.connection.socket.readyState === OPEN) return Promise.resolve(this.connection);
    this.opening ??= this.connect().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async connect(): Promise<Connection> {
    let socket: Connection['socket'];
    try {
      const [WebSocketClass, token] = await Promise.all([this.options.webSocket(), this.options.token()]);
      const protocols = [STREAM_SUBPROTOCOL];
      if (token !== undefined) protocols.push(TOKEN_SUBPROTOCOL_PREFIX + base64url(token));
      socket = new WebSocketClass(`${this.options.baseUrl.replace(/^http/, 'ws')}${CALLS_PATH}`, protocols) as Connection['socket'];
    } catch (error) {
      throw new ConnectionFailedError(messageOf(error), error);
    }
    const connection: Connection = { socket, pending: new Map(), refusal: undefined };
    return new Promise<Connection>((resolve, reject) => {
      socket.onopen = () => {
        this.connection = connection;
        holdProcess(socket, false);
        resolve(connection);
      };
      socket.onmessage = (event) => this.received(connection, event.data);
      socket.onerror = () => undefined; // A close follows; it decides.
      socket.onclose = (event) => {
        if (this.connection === connection) this.connection = undefined;
        this.interrupted(connection, event.code, event.reason);
        reject(new ConnectionFailedError(`the call channel ${CALLS_PATH} closed before it opened (${event.code}${event.reason === '' ? '' : ` ${event.reason}`})`));
      };
    });
  }

  private received(connection: Connection, data: unknown): void {
    let answer: CallAnswer;
    try {
      answer = JSON.parse(typeof data === 'string' ? data : String(data)) as CallAnswer;
    } catch {
      connection.refusal = new ConnectionFailedError('the server sent a frame that is not JSON');
      connection.socket.close(1002, 'not JSON');
      return;
    }
    if (typeof answer !== 'object' || answer === null) return;
    if (answer.id === null) {
      // The server refused the connection (or could not read a message): its close follows.
      connection.refusal = 'error' in answer ? rebuildError(answer.error) : new ConnectionFailedError('the server answered an unreadable message');
      return;
    }
    const pending = typeof answer.id === 'number' ? connection.pending.get(answer.id) : undefined;
    if (pending === undefined) return;
    connection.pending.delete(answer.id as number);
    if (connection.pending.size === 0) holdProcess(connection.socket, false);
    if ('error' in answer) pending.reject(rebuildError(answer.error));
    else pending.resolve(answer.value);
  }

  /** The socket closed: every call still waiting fails, saying whether the server may have done it. */
  private interrupted(connection: Connection, code: number, reason: string): void {
    const why = `WebSocket closed with ${code}${reason === '' ? '' : ` "${reason}"`}`;
    for (const pending of connection.pending.values()) {
      pending.reject(connection.refusal ?? new CallInterruptedError(pending.operation, !READ_ONLY.has(pending.operation), why));
    }
    connection.pending.clear();
  }
}

/**
 * On Node (`ws`), reference the TCP socket while calls wait for answers and unreference it otherwise, as
 * node:http's keep-alive agent does with idle sockets: an idle client never keeps its process alive. No-op
 * on browsers.
 */
function holdProcess(socket: WebSocketLike, hold: boolean): void {
  const tcp = (socket as { _socket?: { ref?: () => void; unref?: () => void } })._socket;
  if (hold) tcp?.ref?.();
  else tcp?.unref?.();
}
