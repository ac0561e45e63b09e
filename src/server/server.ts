/**
 * QuestServer: a WorkflowManager on the network. HTTP calls through the hono app (./http.ts) served by
 * @hono/node-server; resource streams and the call channel on WebSockets (the `ws` package, attached to the
 * same node server's `upgrade` event); connection limits, heartbeats, idle timeouts and a graceful shutdown.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createAdaptorServer } from '@hono/node-server';
import type { Hono } from 'hono';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { logger as questLogger } from '../logging.js';
import { ServerClosingError, TooManyConnectionsError, UnauthenticatedError, UnknownOperationError } from '../protocol/errors.js';
import { CALLS_PATH, CLOSE, OPERATIONS, STREAM_PATH, STREAM_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX, type Principal } from '../protocol/messages.js';
import { ANONYMOUS, bearerToken, defaultAuthorize, isDevelopmentAuth, isLoopback, type AuthRequest, type Authenticate, type Authorize } from './auth.js';
import { createHandler, errorResult, type CallResult, type HandlerOptions, type QuestHandler, type ServedManager } from './handler.js';
import { createApp, type AppEnv } from './http.js';
import { builtDashboardDirectory, mountDashboard } from './dashboard-route.js';
import type { InspectStore } from './inspect-operations.js';
import { CallChannel } from './calls.js';
import { StreamSession } from './streams.js';

/** Options of {@link QuestServer}. Every limit has a default; sizes in bytes, times in milliseconds. */
export interface QuestServerOptions {
  /**
   * Proves who calls (see auth.ts: bearerTokens, bearerTokensFile, jwtAuth, trustHeader). Default: every
   * caller is anonymous and credentials are refused.
   */
  authenticate?: Authenticate;
  /** Who may do what (default: start, cancel, delete and list need the `admin` role). */
  authorize?: Authorize;
  /** Largest request body or stream message (default 1 MiB). */
  maxBodyBytes?: number;
  /** Deepest nesting of a request body (default 64). */
  maxDepth?: number;
  /** Open connections (HTTP and WebSocket) accepted at once (default 1000). */
  maxConnections?: number;
  /** Calls in flight on one connection, HTTP or call channel (default 16). */
  maxCallsPerConnection?: number;
  /** Interval of WebSocket pings; a stream that missed the previous pong is cut (default 30 s). */
  heartbeatMs?: number;
  /** An idle HTTP keep-alive connection is closed after this long (default 60 s). */
  idleTimeoutMs?: number;
  /** Time a client has to send a whole request (default 30 s). */
  requestTimeoutMs?: number;
  /** On close(), how long calls in progress may still finish before they are answered SERVER_CLOSING (default 5 s). */
  drainMs?: number;
  /** Where the server reports failures it does not tell callers, and its warnings (default: Quest's logger). */
  logger?: NonNullable<HandlerOptions['logger']> & { warn(fields: object, message: string): void };
  /**
   * Read-only access to the manager's store, for the inspection operations that read histories (history,
   * versions, stats). Without it they answer NOT_SERVED. Pass the store the manager was opened on.
   */
  store?: InspectStore;
  /**
   * Serve the dashboard at `/ui/`: `true` for the one built into the package (`npm run build`), or a
   * directory made by `buildDashboard()` (src/dashboard/build.ts). Default: no dashboard.
   */
  dashboard?: boolean | string;
}

/**
 * Serves a WorkflowManager: `POST /v1/<operation>` calls, the same calls as messages on a `/v1/calls`
 * WebSocket, and `/v1/stream?workflow=<id>` WebSocket streams (docs/protocol.md). The server never closes the manager: close the server first, then the manager.
 *
 * @example
 * const server = new QuestServer(manager, { authenticate: bearerTokensFile('tokens.json') });
 * const { url } = await server.listen(8080, '0.0.0.0');
 * process.on('SIGTERM', async () => { await server.close(); await manager.close(); });
 */
export class QuestServer {
  /** The hono app: `server.app.request(...)` serves calls in-process (tests), without a socket. */
  readonly app: Hono<AppEnv>;
  private readonly http: Server;
  private readonly sockets: WebSocketServer;
  /** The call channels' sockets: their own server, for a larger frame limit (see calls.ts). */
  private readonly callSockets: WebSocketServer;
  private readonly sessions = new Set<StreamSession>();
  private readonly channels = new Set<CallChannel>();
  private readonly calls = new Set<Promise<CallResult>>();
  private readonly overLimit = new WeakSet<Socket>();
  private readonly alive = new WeakMap<WebSocket, boolean>();
  private readonly authenticate: Authenticate;
  private readonly authorize: Authorize;
  private readonly limits: Required<Omit<QuestServerOptions, 'authenticate' | 'authorize' | 'logger' | 'store' | 'dashboard'>>;
  private readonly log: NonNullable<QuestServerOptions['logger']>;
  private connections = 0;
  private closing: Promise<void> | undefined;
  private abortCalls: (() => void) | undefined;
  private readonly callsAborted: Promise<CallResult>;
  private heartbeat: NodeJS.Timeout | undefined;
  private address: { url: string; port: number; host: string } | undefined;
  private readonly handler: QuestHandler;

  constructor(private readonly manager: ServedManager, options: QuestServerOptions = {}) {
    this.authenticate = options.authenticate ?? anonymousOnly;
    this.authorize = options.authorize ?? defaultAuthorize;
    this.log = options.logger ?? questLogger;
    this.limits = {
      maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
      maxDepth: options.maxDepth ?? 64,
      maxConnections: options.maxConnections ?? 1000,
      maxCallsPerConnection: options.maxCallsPerConnection ?? 16,
      heartbeatMs: options.heartbeatMs ?? 30_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      drainMs: options.drainMs ?? 5_000,
    };
    this.sockets = new WebSocketServer({
      noServer: true,
      maxPayload: this.limits.maxBodyBytes,
      handleProtocols: (offered) => (offered.has(STREAM_SUBPROTOCOL) ? STREAM_SUBPROTOCOL : false),
    });
    this.callSockets = new WebSocketServer({
      noServer: true,
      maxPayload: 2 * this.limits.maxBodyBytes,
      handleProtocols: (offered) => (offered.has(STREAM_SUBPROTOCOL) ? STREAM_SUBPROTOCOL : false),
    });
    this.callsAborted = new Promise((resolve) => {
      this.abortCalls = () => resolve(errorResult(new ServerClosingError(), 'shutdown', this.log));
    });
    this.handler = createHandler(manager, {
      authorize: this.authorize,
      maxDepth: this.limits.maxDepth,
      logger: this.log,
      ...(options.store === undefined ? {} : { store: options.store }),
    });
    this.app = createApp({
      handler: this.handler,
      authenticate: this.authenticate,
      logger: this.log,
      maxBodyBytes: this.limits.maxBodyBytes,
      maxCallsPerConnection: this.limits.maxCallsPerConnection,
      maxConnections: this.limits.maxConnections,
      overLimit: this.overLimit,
      closing: () => this.closing !== undefined,
      track: (call) => this.track(call),
    });
    if (options.dashboard !== undefined && options.dashboard !== false) {
      mountDashboard(this.app, options.dashboard === true ? builtDashboardDirectory() : options.dashboard);
    }
    this.http = createAdaptorServer({ fetch: this.app.fetch }) as Server;
    this.http.keepAliveTimeout = this.limits.idleTimeoutMs;
    this.http.requestTimeout = this.limits.requestTimeoutMs;
    this.http.headersTimeout = Math.min(this.limits.requestTimeoutMs, 60_000);
    this.http.on('connection', (socket: Socket) => this.connected(socket));
    this.http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(request, socket, head));
  }

  /**
   * Listen on `host` (default 127.0.0.1) and `port` (default 0: any free port); resolves with the URL.
   * The development authenticator (trustHeader) is refused on any host but loopback.
   */
  async listen(port = 0, host = '127.0.0.1'): Promise<{ url: string; port: number; host: string }> {
    if (isDevelopmentAuth(this.authenticate)) {
      if (!isLoopback(host)) throw new TypeError(`Development mode (trustHeader) trusts claimed identities: listen on 127.0.0.1 or ::1, not ${host}.`);
      this.log.warn({ host }, 'DEVELOPMENT MODE: identities are taken from a request header, unproven. Never expose this server.');
    }
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const bound = this.http.address();
    const actualPort = typeof bound === 'object' && bound !== null ? bound.port : port;
    const shown = host.includes(':') ? `[${host}]` : host;
    this.address = { url: `http://${shown}:${actualPort}`, port: actualPort, host };
    this.heartbeat = setInterval(() => this.beat(), this.limits.heartbeatMs);
    this.heartbeat.unref();
    return this.address;
  }

  /** The URL the server listens on (after listen()). */
  get url(): string {
    if (this.address === undefined) throw new TypeError('The server is not listening yet: await listen() first.');
    return this.address.url;
  }

  /** Calls being answered now (for tests and metrics). */
  get callsInFlight(): number {
    return this.calls.size;
  }

  /** Call channels (`/v1/calls` WebSockets) open now (for tests and metrics). */
  get callChannelCount(): number {
    return this.channels.size;
  }

  /** Streams open now (for tests and metrics). */
  get streamCount(): number {
    return this.sessions.size;
  }

  /**
   * Shut down gracefully: refuse new connections and calls (SERVER_CLOSING), close every stream with code
   * 1001 and a reason (clients reconnect later), let calls in progress finish for up to `drainMs`, answer
   * the rest SERVER_CLOSING, close the call channels with 1001 once their answers are written, then close
   * the connections. Idempotent. The manager stays open.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    clearInterval(this.heartbeat);
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    for (const session of this.sessions) session.close(CLOSE.goingAway, 'the server is shutting down; reconnect later');
    const drained = Promise.allSettled([...this.calls]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, this.limits.drainMs)))]);
    clearTimeout(timer);
    this.abortCalls?.();
    await Promise.allSettled([...this.calls]);
    // Every call is answered: the call channels close after those answers (clients reconnect later).
    for (const channel of this.channels) channel.close(CLOSE.goingAway, 'the server is shutting down; reconnect later');
    const channelsClosed = Promise.all([...this.channels].map((channel) => channel.closed));
    await Promise.race([channelsClosed, new Promise((resolve) => (timer = setTimeout(resolve, this.limits.drainMs)))]);
    clearTimeout(timer);
    // Answers still being written go out with `Connection: close`; idle keep-alive connections go now.
    this.http.closeIdleConnections();
    for (const client of [...this.sockets.clients, ...this.callSockets.clients]) client.terminate();
    this.sockets.close();
    this.callSockets.close();
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, this.limits.drainMs)))]);
    clearTimeout(timer);
    this.http.closeAllConnections();
    await closed;
  }

  /** Answer `call`, or SERVER_CLOSING once shutdown stops waiting; tracked until answered. */
  private track(call: Promise<CallResult>): Promise<CallResult> {
    const answered = Promise.race([call, this.callsAborted]);
    this.calls.add(answered);
    const untrack = (): void => void this.calls.delete(answered);
    answered.then(untrack, untrack);
    return answered;
  }

  private connected(socket: Socket): void {
    this.connections++;
    if (this.connections > this.limits.maxConnections) this.overLimit.add(socket);
    socket.once('close', () => this.connections--);
  }

  /** A WebSocket upgrade: always completed (when the handshake is valid), so that refusals are named errors. */
  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const calls = new URL(request.url ?? '/', 'http://quest').pathname === CALLS_PATH;
    (calls ? this.callSockets : this.sockets).handleUpgrade(request, socket, head, (ws) => {
      ws.on('error', () => ws.terminate());
      this.alive.set(ws, true);
      ws.on('pong', () => this.alive.set(ws, true));
      const held = holdMessages(ws);
      void (calls ? this.openCalls(ws, request, socket as Socket, held) : this.openStream(ws, request, socket as Socket, held));
    });
  }

  /**
   * The principal of an upgraded WebSocket, or undefined once it was refused (closing, over the connection
   * limit, `invalid` request, failed authentication) or closed meanwhile.
   */
  private async admit(ws: WebSocket, request: IncomingMessage, socket: Socket, refuse: (error: unknown) => void, invalid?: Error): Promise<Principal | undefined> {
    if (this.closing !== undefined) return void refuse(new ServerClosingError());
    if (this.overLimit.has(socket)) return void refuse(new TooManyConnectionsError(this.limits.maxConnections));
    if (invalid !== undefined) return void refuse(invalid);
    let principal: Principal;
    try {
      principal = await this.authenticate(upgradeAuthRequest(request));
    } catch (error) {
      return void refuse(error);
    }
    return ws.readyState === ws.OPEN ? principal : undefined;
  }

  /** A call channel, once its upgrade is authenticated; refusals are an answer with `id: null`, then 4000 + status. */
  private async openCalls(ws: WebSocket, request: IncomingMessage, socket: Socket, held: HeldMessages): Promise<void> {
    const refuse = (error: unknown): void => {
      const { status, body } = errorResult(error, 'calls', this.log);
      ws.send(JSON.stringify({ id: null, status, ...body }));
      ws.close(CLOSE.refusedBase + status, (error as { code?: string }).code ?? 'INTERNAL');
    };
    const principal = await this.admit(ws, request, socket, refuse);
    if (principal === undefined) return;
    const channel = new CallChannel(ws, principal, {
      handler: this.handler,
      logger: this.log,
      maxMessageBytes: this.limits.maxBodyBytes,
      maxCallsPerConnection: this.limits.maxCallsPerConnection,
      closing: () => this.closing !== undefined,
      track: (call) => this.track(call),
    });
    held.release();
    this.channels.add(channel);
    await channel.closed;
    this.channels.delete(channel);
  }

  private async openStream(ws: WebSocket, request: IncomingMessage, socket: Socket, held: HeldMessages): Promise<void> {
    /** Refusals are an `error` frame with the named error, then a close with 4000 + its status. */
    const refuse = (error: unknown): void => {
      const { status, body } = errorResult(error, 'stream', this.log);
      ws.send(JSON.stringify({ type: 'error', error: 'error' in body ? body.error : undefined }));
      ws.close(CLOSE.refusedBase + status, (error as { code?: string }).code ?? 'INTERNAL');
    };
    const url = new URL(request.url ?? '/', 'http://quest');
    const workflowId = url.searchParams.get('workflow');
    const where = url.pathname !== STREAM_PATH || workflowId === null || workflowId === ''
      ? new UnknownOperationError(`${url.pathname} (streams: ${STREAM_PATH}?workflow=<id>; calls: ${CALLS_PATH})`, OPERATIONS)
      : undefined;
    const principal = await this.admit(ws, request, socket, refuse, where);
    if (principal === undefined || workflowId === null) return;
    const session = new StreamSession(ws, workflowId, principal, { manager: this.manager, authorize: this.authorize, logger: this.log });
    held.release();
    this.sessions.add(session);
    try {
      await session.run();
    } finally {
      this.sessions.delete(session);
    }
  }

  /** Ping every stream; cut the ones that did not answer the previous ping. */
  private beat(): void {
    for (const ws of [...this.sockets.clients, ...this.callSockets.clients]) {
      if (this.alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      this.alive.set(ws, false);
      ws.ping();
    }
  }
}

/** Headers of an upgrade request; a browser's token comes as the subprotocol `quest.bearer.<base64url>`. */
/** The messages a WebSocket received before its channel or stream listens: see holdMessages(). */
interface HeldMessages {
  /** Hand the held messages, in order, to the listeners the socket has now, and stop holding. */
  release(): void;
}

/**
 * Keep what a client sends between the upgrade and the moment its channel listens: authentication is
 * asynchronous (a JWT is verified, a key set fetched), and a client sends its first call as soon as the socket
 * opens. A 'message' with no listener is lost, and that call would never be answered. A refused socket never
 * releases: what it sent is dropped with it.
 */
function holdMessages(ws: WebSocket): HeldMessages {
  const held: [RawData, boolean][] = [];
  const hold = (data: RawData, isBinary: boolean): void => void held.push([data, isBinary]);
  ws.on('message', hold);
  return {
    release: () => {
      ws.off('message', hold);
      for (const [data, isBinary] of held.splice(0)) ws.emit('message', data, isBinary);
    },
  };
}

function upgradeAuthRequest(request: IncomingMessage): AuthRequest {
  const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((protocol) => protocol.trim());
  const carried = offered.find((protocol) => protocol.startsWith(TOKEN_SUBPROTOCOL_PREFIX));
  return {
    header: (name) => {
      const lower = name.toLowerCase();
      if (lower === 'authorization' && request.headers.authorization === undefined && carried !== undefined) {
        return `Bearer ${Buffer.from(carried.slice(TOKEN_SUBPROTOCOL_PREFIX.length), 'base64url').toString('utf8')}`;
      }
      const value = request.headers[lower];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    remoteAddress: request.socket.remoteAddress ?? '',
  };
}

/** The default authenticator: everyone is anonymous; credentials are refused rather than ignored. */
const anonymousOnly: Authenticate = (request) => {
  if (bearerToken(request) !== undefined) throw new UnauthenticatedError('This server accepts no credentials (it was started without authentication)');
  return ANONYMOUS;
};
