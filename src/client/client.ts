/**
 * QuestClient: a Quest server's workflows from another process, typed by the workflow registry. Calls go
 * over HTTP (./http-transport.ts) or over one WebSocket, the call channel (./call-socket.ts); streams over
 * WebSocket (the browser's global, `ws` on Node, or an injected constructor). Depends on the protocol and
 * core types only.
 */
import type { ResourceInfo } from '../core/resource-stream.js';
import { EventProxy, IdentityQueueProxy, QueueProxy, StateProxy, type ResourceActor } from '../core/resource-proxies.js';
import { deserialize, serialize } from '../core/serializer.js';
import type { WorkflowArgs, WorkflowRegistry, WorkflowResult, WorkflowType } from '../core/workflow-types.js';
import type { Operation, OperationRequests, OperationResults, Principal, WireWorkflowInfo } from '../protocol/messages.js';
import type { WireHistory, WireStats, WorkflowPage } from '../protocol/inspect.js';
import type { VersionUsage } from '../inspect/versions.js';
import { CallSocket } from './call-socket.js';
import { httpTransport, type CallTransport } from './http-transport.js';
import { RemoteResourceStream, type ReconnectOptions, type WebSocketConstructor } from './stream.js';

/** Options of {@link QuestClient}. */
export interface QuestClientOptions {
  /** The bearer token (or JWT) proving who calls; a function is asked before each call and connection. */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  /**
   * How calls travel (streams always use their own WebSocket):
   * - `'http'` (default): one `POST /v1/<operation>` per call. Stateless: works through every proxy, each
   *   call stands alone, nothing to close.
   * - `'websocket'`: every call on one WebSocket (`/v1/calls`), for callers that make many calls: several
   *   times the call rate of HTTP for the same CPU. The token is sent when the socket opens; a call in
   *   flight when it drops fails with CallInterruptedError (never re-sent); the next call reconnects.
   *   Call `close()` when done.
   */
  transport?: 'http' | 'websocket';
  /**
   * With `transport: 'websocket'`: calls sent at once on the channel (default 16, the server's default
   * `maxCallsPerConnection`); more wait in the client. Keep it at most the server's limit.
   */
  maxCallsInFlight?: number;
  /** The fetch for HTTP calls (default: `node:http` on Node for http:// URLs, the global fetch elsewhere). */
  fetch?: typeof fetch;
  /** The WebSocket constructor for streams (default: the global one, else the `ws` package on Node). */
  WebSocket?: WebSocketConstructor;
  /** Backoff of stream reconnections. */
  reconnect?: ReconnectOptions;
}

/** A workflow started through the client. */
export interface RemoteWorkflowHandle<R> {
  readonly id: string;
  readonly type: string;
  /** False when `ifExists: 'resume'` found it already there. */
  readonly created: boolean;
  /** Its result (waits while it runs). */
  result(): Promise<R>;
}

/**
 * A client of a Quest server. Every method has the semantics of the WorkflowManager method of the same name,
 * run on the server as the token's identity; errors come back as the same named classes (plus
 * ServiceError subclasses for the network edge: UnauthenticatedError, ForbiddenError, ...).
 *
 * @example
 * const client = new QuestClient<typeof workflows>('http://localhost:8080', { token: process.env.TOKEN });
 * const game = await client.start('game', 'g1', 3);         // arguments typed by the registry
 * await client.queue<number>('g1', 'guess').put(42);
 * for await (const snapshot of client.resourceStream('g1')) console.log(snapshot.resources);
 */
export class QuestClient<W extends WorkflowRegistry = WorkflowRegistry> implements ResourceActor {
  private readonly baseUrl: string;
  private readonly transport: CallTransport;

  constructor(url: string | URL, private readonly options: QuestClientOptions = {}) {
    this.baseUrl = String(url).replace(/\/+$/, '');
    const token = (): Promise<string | undefined> => this.token();
    if (options.transport === 'websocket') {
      this.transport = new CallSocket({ baseUrl: this.baseUrl, token, webSocket: () => this.webSocketClass(), maxCallsInFlight: options.maxCallsInFlight ?? 16 });
    } else if (options.transport === undefined || options.transport === 'http') {
      this.transport = httpTransport({ baseUrl: this.baseUrl, token, ...(options.fetch === undefined ? {} : { fetch: options.fetch }) });
    } else {
      throw new TypeError(`QuestClient: transport must be 'http' or 'websocket', not ${JSON.stringify(options.transport)}.`);
    }
  }

  /**
   * Release the client's connections (the call channel, kept-alive HTTP sockets). Calls waiting for their
   * answers on the call channel fail with CallInterruptedError; streams are closed by `break` (or `return()`).
   * The client stays usable: a later call opens a new connection.
   */
  close(): Promise<void> {
    return this.transport.close();
  }

  /** Start workflow `id` of type `type` (needs the admin role by default). */
  start<T extends WorkflowType<W>>(type: T, id: string, ...args: WorkflowArgs<W, T>): Promise<RemoteWorkflowHandle<WorkflowResult<W, T>>> {
    return this.startWith(type, id, args);
  }

  /** {@link start} with options (`ifExists: 'resume'`, `deleteOnFinish`). */
  async startWith<T extends WorkflowType<W>>(
    type: T,
    id: string,
    args: WorkflowArgs<W, T>,
    options: { ifExists?: 'error' | 'resume'; deleteOnFinish?: boolean } = {},
  ): Promise<RemoteWorkflowHandle<WorkflowResult<W, T>>> {
    const encoded = (args as unknown[]).map((arg, n) => serialize(arg, `argument ${n}`));
    const started = await this.call('start', { type, id, args: encoded, ...options });
    return { ...started, result: () => this.getResult<WorkflowResult<W, T>>(id) };
  }

  /** The result of workflow `id` (or alias): waits while it runs; rethrows its failure. */
  async getResult<R = unknown>(id: string): Promise<R> {
    return deserialize(await this.call('result', { id })) as R;
  }

  /** True when `id` is a workflow or an alias held by one. */
  has(id: string): Promise<boolean> {
    return this.call('has', { id });
  }

  /**
   * Every workflow, with times in epoch milliseconds (needs the admin role by default); `resident: false` marks
   * a running workflow the server has evicted from memory while idle (it resumes on demand).
   */
  list(): Promise<WireWorkflowInfo[]> {
    return this.call('list', {});
  }

  /** Cancel workflow `id` (needs the admin role by default). */
  async cancel(id: string): Promise<void> {
    await this.call('cancel', { id });
  }

  /** Delete workflow `id` (needs the admin role by default). */
  async delete(id: string): Promise<void> {
    await this.call('delete', { id });
  }

  /** The resources of workflow `id` visible to this client's identity. */
  resources(id: string): Promise<ResourceInfo[]> {
    return this.call('resources', { id });
  }

  /** Resolves when workflow `id` has resource `name` visible to this client's identity. */
  waitForResource(id: string, name: string): Promise<ResourceInfo> {
    return this.call('waitForResource', { id, resource: name });
  }

  /** Who the server says this client is (from its token). */
  whoami(): Promise<Principal> {
    return this.call('whoami', {});
  }

  /** One page of the workflow list, filtered, with counts by state (needs the admin role by default). */
  workflows(query: OperationRequests['workflows'] = {}): Promise<WorkflowPage> {
    return this.call('workflows', query);
  }

  /** The stored history of workflow `id`, pruned ranges as gaps (needs the admin role by default: it holds private values). */
  history(id: string): Promise<WireHistory> {
    return this.call('history', { id });
  }

  /** The code versions live histories still replay, as `quest versions` prints them (admin by default). */
  versions(): Promise<VersionUsage[]> {
    return this.call('versions', {});
  }

  /** Workflows started and finished over time, and the sizes of running histories (admin by default). */
  stats(query: OperationRequests['stats'] = {}): Promise<WireStats> {
    return this.call('stats', query);
  }

  /**
   * Act on resource `name` of workflow `id`. `identity` is ignored: the server acts as the identity the
   * token proves (the parameter exists so that the manager's proxies work over the network).
   */
  async act(id: string, name: string, _identity: string | null, action: string, ...args: unknown[]): Promise<unknown> {
    const encoded = args.map((arg, n) => serialize(arg, `argument ${n} of ${action}`));
    return deserialize(await this.call('act', { id, resource: name, action, args: encoded }));
  }

  /** A typed handle on queue `name` of workflow `id`, used as this client's identity. */
  queue<T>(id: string, name: string): QueueProxy<T> {
    return new QueueProxy<T>(this, id, name, null);
  }

  /** A typed handle on state `name` of workflow `id`. */
  state<T>(id: string, name: string): StateProxy<T> {
    return new StateProxy<T>(this, id, name, null);
  }

  /** A handle on event `name` of workflow `id`. */
  event(id: string, name: string): EventProxy {
    return new EventProxy(this, id, name, null);
  }

  /** A handle on identity queue `name` of workflow `id`; `put` resolves with the fresh identity. */
  identityQueue<T>(id: string, name: string): IdentityQueueProxy<T> {
    return new IdentityQueueProxy<T>(this, id, name, null);
  }

  /** The resources of workflow `id` as they change, for this client's identity (see RemoteResourceStream). */
  resourceStream(id: string): RemoteResourceStream {
    return new RemoteResourceStream(id, {
      baseUrl: this.baseUrl,
      token: () => this.token(),
      webSocket: () => this.webSocketClass(),
      reconnect: this.options.reconnect ?? {},
    });
  }

  /** One call, over the client's transport; resolves with its value or throws the error the server named. */
  private async call<O extends Operation>(operation: O, body: OperationRequests[O] | Record<string, unknown>): Promise<OperationResults[O]> {
    return (await this.transport.call(operation, body)) as OperationResults[O];
  }

  private async token(): Promise<string | undefined> {
    const token = this.options.token;
    return typeof token === 'function' ? token() : token;
  }

  private async webSocketClass(): Promise<WebSocketConstructor> {
    if (this.options.WebSocket !== undefined) return this.options.WebSocket;
    const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (global !== undefined) return global;
    // Node 20 has no global WebSocket: load `ws` (a dependency of quest-ts) only when a stream is asked for.
    const ws = (await import('ws')) as unknown as { WebSocket: WebSocketConstructor };
    return ws.WebSocket;
  }
}
