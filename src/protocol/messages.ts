/**
 * The Quest network protocol, version 1: the JSON shapes the server and the client exchange (documented in
 * docs/protocol.md). Types and constants only; the transport (HTTP routes, WebSocket frames) lives in
 * src/server and src/client.
 *
 * Calls: `POST /v1/<operation>` with a JSON request body; the answer is a {@link CallResponseBody}. Or, on one
 * WebSocket at `/v1/calls`, {@link CallMessage}s answered by {@link CallAnswer}s (same operations, same answers).
 * Streams: a WebSocket at `/v1/stream?workflow=<id>`; the server sends {@link StreamMessage}s.
 * Values that workflows see (arguments, queue items, results) travel encoded by Quest's serializer
 * (`serialize`/`deserialize`), so Dates, Maps, BigInts and registered classes arrive as they left. Times
 * are epoch milliseconds.
 */
import type { Json, SerializedError } from '../core/serializer.js';
import type { ResourceInfo, ResourceSnapshot } from '../core/resource-stream.js';
import { INSPECT_OPERATIONS, type InspectRequests, type InspectResults } from './inspect.js';

/** The protocol version: the `/v<N>/` prefix of every path. Bumped on any incompatible change. */
export const PROTOCOL_VERSION = 1;

/** The path prefix of version 1. */
export const PROTOCOL_PREFIX = `/v${PROTOCOL_VERSION}`;

/** The path of resource streams (WebSocket upgrade), with `?workflow=<id or alias>`. */
export const STREAM_PATH = `${PROTOCOL_PREFIX}/stream`;

/** The path of the call channel (WebSocket upgrade): calls as messages, answered by id. */
export const CALLS_PATH = `${PROTOCOL_PREFIX}/calls`;

/**
 * Every operation of the protocol. This is the allowlist: nothing else on the manager is reachable.
 *
 * @example
 * OPERATIONS.includes('act')   // true
 */
export const OPERATIONS = ['start', 'has', 'result', 'list', 'cancel', 'delete', 'resources', 'act', 'waitForResource', 'whoami', ...INSPECT_OPERATIONS] as const;

/** The name of one operation. */
export type Operation = (typeof OPERATIONS)[number];

/** Operations that reach one workflow (by id or alias) and so are authorized per workflow. */
export type WorkflowOperation = Exclude<Operation, 'list' | 'whoami' | 'workflows' | 'versions' | 'stats'> | 'stream';

/** Who a caller is, as the server proved it from credentials. `identity: null` is the anonymous caller. */
export interface Principal {
  identity: string | null;
  roles: readonly string[];
}

/** The request body of each operation. `args` and values are encoded with Quest's `serialize`. */
export interface OperationRequests extends InspectRequests {
  start: { type: string; id: string; args: Json[]; ifExists?: 'error' | 'resume'; deleteOnFinish?: boolean };
  has: { id: string };
  result: { id: string };
  list: Record<string, never>;
  cancel: { id: string };
  delete: { id: string };
  resources: { id: string };
  act: { id: string; resource: string; action: string; args: Json[] };
  waitForResource: { id: string; resource: string };
  whoami: Record<string, never>;
}

/** The `value` of a successful answer to each operation. */
export interface OperationResults extends InspectResults {
  start: { id: string; type: string; created: boolean };
  has: boolean;
  /** The workflow's result, encoded with `serialize`. */
  result: Json;
  list: WireWorkflowInfo[];
  cancel: null;
  delete: null;
  resources: ResourceInfo[];
  /** What the action returned, encoded with `serialize`. */
  act: Json;
  waitForResource: ResourceInfo;
  whoami: Principal;
}

/** One line of `list`: WorkflowInfo with epoch milliseconds instead of Dates. */
export interface WireWorkflowInfo {
  id: string;
  type: string;
  status: 'running' | 'suspended' | 'damaged' | 'completed' | 'failed' | 'cancelled';
  startedAt: number;
  finishedAt?: number;
  aliases: string[];
  /**
   * False when the workflow is 'running' but evicted from the server's memory while idle: it resumes by
   * replay when something needs it (see ManagerOptions.maxResident). Absent otherwise.
   */
  resident?: false;
  error?: string;
}

/**
 * An error on the wire: Quest's SerializedError without the stack. `fields.code` is the stable code
 * (QuestErrorCode or ServiceErrorCode); the client rebuilds the named class from `name`.
 */
export type WireError = Omit<SerializedError, 'stack'>;

/** The body of every call's answer: a value, or an error (with the HTTP status of its code). */
export type CallResponseBody<T = Json> = { value: T } | { error: WireError };

/**
 * What the server sends on a resource stream, one JSON text frame each:
 * - `snapshot`: the resources visible to the caller after a change (the first is the initial one). A slow
 *   reader gets the latest snapshot only: intermediate ones coalesce.
 * - `result` / `failed`: the workflow finished; the server then closes the stream with code 1000.
 * - `error`: the stream cannot go on (see `error.fields.code`); the server then closes the stream.
 */
export type StreamMessage =
  | ({ type: 'snapshot' } & ResourceSnapshot)
  | { type: 'result'; value: Json }
  | { type: 'failed'; error: WireError }
  | { type: 'error'; error: WireError };

/**
 * WebSocket close codes the server uses. 1000: the workflow finished (after `result`/`failed`); 1001: the
 * server shuts down (reconnect later); 1012: the workflow stopped running here (suspended: reconnect later);
 * 4000 + HTTP status: the stream was refused (after an `error` message), e.g. 4401, 4403, 4404.
 */
export const CLOSE = {
  finished: 1000,
  goingAway: 1001,
  suspended: 1012,
  refusedBase: 4000,
} as const;

/** The WebSocket subprotocol a browser uses to send its bearer token (browsers cannot set headers). */
export const TOKEN_SUBPROTOCOL_PREFIX = 'quest.bearer.';

/** The subprotocol every stream negotiates. */
export const STREAM_SUBPROTOCOL = `quest.v${PROTOCOL_VERSION}`;

/**
 * One call on the call channel (`/v1/calls`), a JSON text frame: `id` is the caller's (a string of at most
 * 128 characters or a safe integer) and comes back in the answer; `body` is the request body of the
 * operation (as for `POST /v1/<operation>`; absent: `{}`).
 */
export interface CallMessage<O extends Operation = Operation> {
  id: string | number;
  operation: O;
  body?: OperationRequests[O];
}

/**
 * The answer to one call on the call channel: the HTTP answer's body (`value` or `error`) with the call's
 * `id` and the HTTP `status` the same call would have had. `id: null` answers a message whose id could not
 * be read (not JSON, no valid id).
 */
export type CallAnswer<T = Json> = { id: string | number | null; status: number } & CallResponseBody<T>;
