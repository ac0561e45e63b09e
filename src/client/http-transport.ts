/**
 * Calls over HTTP: `POST /v1/<operation>`. On Node, for http:// URLs without an injected fetch, through
 * `node:http` with a keep-alive agent of the client's own; otherwise (browsers, https://, an injected fetch)
 * through fetch.
 *
 * Why not fetch on Node: Node 20's fetch (undici) costs several times more CPU per call than `node:http`
 * (measured with bench/network.ts: one client process made ~1,300 calls/s with fetch and ~7,000 with
 * `node:http`), so a process that makes many calls spent its time in its HTTP client, not in Quest.
 */
import type { Agent, IncomingMessage, RequestOptions } from 'node:http';
import type { Json } from '../core/serializer.js';
import { ConnectionFailedError } from '../protocol/errors.js';
import { PROTOCOL_PREFIX } from '../protocol/messages.js';
import { messageOf, rebuildError } from './errors.js';

/** How a client's calls travel: HTTP, or the call channel (call-socket.ts). */
export interface CallTransport {
  /** One call: resolves with its value, or throws the error the server named (or a ServiceError of the edge). */
  call(operation: string, body: unknown): Promise<Json>;
  /** Release the connections (idempotent). */
  close(): Promise<void>;
}

/** What the HTTP transport needs from its client. */
export interface HttpTransportOptions {
  baseUrl: string;
  token(): Promise<string | undefined>;
  /** An injected fetch; without one, `node:http` on Node and the global fetch elsewhere. */
  fetch?: typeof fetch;
}

/** The HTTP transport of a QuestClient. */
export function httpTransport(options: HttpTransportOptions): CallTransport {
  if (options.fetch === undefined && isNode() && options.baseUrl.startsWith('http:')) return new NodeHttpTransport(options);
  if (options.fetch !== undefined) return new FetchTransport(options, options.fetch);
  if (typeof globalThis.fetch !== 'function') throw new TypeError('QuestClient needs fetch: pass { fetch } on a runtime without a global one.');
  // A browser's fetch called as a method of another object throws "Illegal invocation": keep it bound to the global.
  return new FetchTransport(options, globalThis.fetch.bind(globalThis));
}

/** True on Node (where `node:http` exists). */
function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** The answer of a call: its value, or the error it names. */
function valueOf(status: number, text: string): Json {
  let answer: { value?: Json; error?: unknown };
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch (error) {
    throw new ConnectionFailedError(`the answer (HTTP ${status}) is not Quest protocol JSON`, error);
  }
  if (typeof answer !== 'object' || answer === null) throw new ConnectionFailedError(`the answer (HTTP ${status}) is not Quest protocol JSON`);
  if (answer.error !== undefined) throw rebuildError(answer.error);
  return answer.value as Json;
}

class FetchTransport implements CallTransport {
  constructor(private readonly options: HttpTransportOptions, private readonly fetchFn: typeof fetch) {}

  async call(operation: string, body: unknown): Promise<Json> {
    const token = await this.options.token();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    let response: Response;
    let text: string;
    try {
      response = await this.fetchFn(`${this.options.baseUrl}${PROTOCOL_PREFIX}/${operation}`, { method: 'POST', headers, body: JSON.stringify(body) });
      text = await response.text();
    } catch (error) {
      throw new ConnectionFailedError(messageOf(error), error);
    }
    return valueOf(response.status, text);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** `node:http`, loaded when first used (a non-literal specifier, so that browser bundlers leave it alone). */
const NODE_HTTP = 'node:http';

class NodeHttpTransport implements CallTransport {
  private http: Promise<{ agent: Agent; request: typeof import('node:http').request }> | undefined;
  private readonly url: URL;

  constructor(private readonly options: HttpTransportOptions) {
    this.url = new URL(options.baseUrl);
  }

  async call(operation: string, body: unknown): Promise<Json> {
    const [{ agent, request }, token] = await Promise.all([this.load(), this.options.token()]);
    const payload = JSON.stringify(body);
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    const requestOptions: RequestOptions = {
      agent,
      method: 'POST',
      hostname: this.url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: this.url.port === '' ? 80 : Number(this.url.port),
      path: `${this.url.pathname.replace(/\/+$/, '')}${PROTOCOL_PREFIX}/${operation}`,
      headers,
    };
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const failed = (error: unknown): void => reject(new ConnectionFailedError(messageOf(error), error));
      const outgoing = request(requestOptions, (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', failed);
      });
      outgoing.on('error', failed);
      outgoing.end(payload);
    });
    return valueOf(status, text);
  }

  async close(): Promise<void> {
    if (this.http !== undefined) (await this.http).agent.destroy();
  }

  private load(): Promise<{ agent: Agent; request: typeof import('node:http').request }> {
    this.http ??= (import(NODE_HTTP) as Promise<typeof import('node:http')>).then((http) => ({
      // Idle sockets are unreferenced by the agent: a client never keeps its process alive.
      agent: new http.Agent({ keepAlive: true }),
      request: http.request,
    }));
    return this.http;
  }
}
