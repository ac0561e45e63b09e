/**
 * The HTTP side of the server, on hono: one route per call (`POST /v1/:operation`), the body size limit,
 * the per-connection limits and authentication as middleware, then the transport-neutral handler. The
 * principal is set on the context by the authentication middleware only; the handler never reads an
 * identity from the request.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpBindings } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import {
  BadRequestError,
  PayloadTooLargeError,
  ServerClosingError,
  TooManyCallsError,
  TooManyConnectionsError,
  UnknownOperationError,
  type ServiceError,
} from '../protocol/errors.js';
import { OPERATIONS, PROTOCOL_PREFIX, type Principal } from '../protocol/messages.js';
import type { AuthRequest, Authenticate } from './auth.js';
import { errorResult, wireError, type CallResult, type HandlerOptions, type QuestHandler } from './handler.js';

/** The hono environment of the app: node bindings (absent in-process), and the proven principal. */
export interface AppEnv {
  Bindings: Partial<HttpBindings>;
  Variables: { principal: Principal };
}

/** What the HTTP app needs from the server around it. */
export interface HttpDeps {
  handler: QuestHandler;
  authenticate: Authenticate;
  logger: NonNullable<HandlerOptions['logger']>;
  maxBodyBytes: number;
  maxCallsPerConnection: number;
  maxConnections: number;
  /** Sockets over the connection limit: their calls are refused. */
  overLimit: WeakSet<Socket>;
  /** True once the server shuts down: new calls are refused. */
  closing(): boolean;
  /** Run one call, tracked for graceful shutdown. */
  track(call: Promise<CallResult>): Promise<CallResult>;
}

/**
 * Build the hono app. `app.fetch` (or `app.request` in tests) serves the protocol without a network.
 *
 * @example
 * const app = createApp(deps);
 * const response = await app.request('/v1/whoami', { method: 'POST', body: '{}' });
 */
export function createApp(deps: HttpDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const inFlight = new WeakMap<object, number>();
  const refuse = (c: Context<AppEnv>, error: ServiceError): Response => c.json({ error: wireError(error, false) }, error.status as 400);

  app.use('*', async (c, next) => {
    if (deps.closing()) {
      c.header('connection', 'close');
      return refuse(c, new ServerClosingError());
    }
    const socket = c.env?.incoming?.socket;
    if (socket !== undefined && deps.overLimit.has(socket)) {
      c.header('connection', 'close');
      return refuse(c, new TooManyConnectionsError(deps.maxConnections));
    }
    // Per connection (HTTP/1.1 pipelining); in-process requests share one key.
    const key: object = socket ?? inFlight;
    const calls = inFlight.get(key) ?? 0;
    if (calls >= deps.maxCallsPerConnection) return refuse(c, new TooManyCallsError(deps.maxCallsPerConnection));
    inFlight.set(key, calls + 1);
    try {
      await next();
    } finally {
      inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
    }
    // Shutting down meanwhile: this answer is the connection's last.
    if (deps.closing()) c.header('connection', 'close');
  });

  app.post(
    `${PROTOCOL_PREFIX}/:operation`,
    async (c, next) => {
      try {
        c.set('principal', await deps.authenticate(authRequestOf(c)));
      } catch (error) {
        return answer(c, errorResult(error, 'authenticate', deps.logger));
      }
      await next();
    },
    async (c) => {
      const body = await readBody(c, deps.maxBodyBytes);
      if (body === undefined) return refuse(c, new PayloadTooLargeError(deps.maxBodyBytes));
      return answer(c, await deps.track(deps.handler(c.req.param('operation'), body, c.get('principal'))));
    },
  );

  app.notFound((c) => refuse(c, new UnknownOperationError(`${c.req.method} ${c.req.path}`, OPERATIONS)));
  app.onError((error, c) => answer(c, errorResult(error, 'http', deps.logger)));
  return app;
}

function answer(c: Context<AppEnv>, result: CallResult): Response {
  if (result.status === 401) c.header('www-authenticate', 'Bearer realm="quest"');
  return c.json(result.body, result.status as 200);
}

/**
 * What authentication sees of a call. On node, headers are read from the IncomingMessage itself: asking
 * hono's request for a header builds a whole fetch `Headers` object per call, a cost every call would pay.
 */
function authRequestOf(c: Context<AppEnv>): AuthRequest {
  const incoming = c.env?.incoming;
  if (incoming === undefined) return { header: (name) => c.req.header(name), remoteAddress: '' };
  return {
    header: (name) => {
      const value = incoming.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    remoteAddress: incoming.socket.remoteAddress ?? '',
  };
}

/**
 * The request body as text, or undefined when it is larger than `maxBytes` (by its Content-Length, before
 * reading, or while reading a chunked one). On node it is read from the IncomingMessage directly: hono's
 * body-limit middleware touches `request.body`, which makes @hono/node-server build a full fetch Request
 * (a web ReadableStream and an AbortController) for every call -- most of the HTTP path's cost.
 */
async function readBody(c: Context<AppEnv>, maxBytes: number): Promise<string | undefined> {
  const incoming = c.env?.incoming;
  if (incoming === undefined) {
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    return bytes.byteLength > maxBytes ? undefined : new TextDecoder().decode(bytes);
  }
  const declared = Number(incoming.headers['content-length'] ?? 0);
  if (declared > maxBytes) return undefined;
  return readIncoming(incoming, maxBytes);
}

function readIncoming(incoming: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  if (incoming.readableEnded) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onFailure);
      incoming.off('close', onFailure);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        done();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      done();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    };
    const onFailure = (): void => {
      done();
      reject(new BadRequestError('the connection closed before the whole body arrived'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onFailure);
    incoming.on('close', onFailure);
  });
}
