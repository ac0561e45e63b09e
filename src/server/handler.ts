/**
 * The transport-neutral heart of the server: `(operation, body, principal) → { status, body }`. It never
 * throws: every failure becomes an error answer with the status of its code. Only the operations of the
 * protocol's allowlist reach the manager, each through its public API, always as the authenticated identity.
 */
import { isQuestError } from '../core/errors.js';
import type { ResourceInfo, ResourceStream } from '../core/resource-stream.js';
import { deserialize, serialize, serializeError, type Json, type SerializedError } from '../core/serializer.js';
import type { StartOptions, WorkflowInfo } from '../manager/types.js';
import type { ListPage, ListPageQuery, StatusCount } from '../manager/list-pages.js';
import type { Store } from '../storage/store.js';
import { hasPages, type WorkflowCountFilter } from '../storage/workflow-pages.js';
import { logger as questLogger } from '../logging.js';
import { BadRequestError, InternalServerError, QUEST_ERROR_STATUS, UnknownOperationError, isServiceError } from '../protocol/errors.js';
import { OPERATIONS, PROTOCOL_PREFIX, type CallResponseBody, type Operation, type Principal, type WireError, type WireWorkflowInfo } from '../protocol/messages.js';
import { checkAuthorized, defaultAuthorize, type Authorize } from './auth.js';
import { inspectOperations, type InspectStore } from './inspect-operations.js';
import type { PagedReads } from './inspect-pages.js';
import { DEFAULT_MAX_DEPTH, argsField, booleanField, checkedBody, choiceField, parseBody, stringField } from './validate.js';

/**
 * What the server needs of a WorkflowManager: its public API, nothing else. A WorkflowManager of any
 * registry fits.
 */
export interface ServedManager {
  startWith(type: string, id: string, args: never, options?: StartOptions): Promise<{ id: string; type: string; created: boolean }>;
  has(id: string): Promise<boolean>;
  getResult(id: string): Promise<unknown>;
  list(): Promise<WorkflowInfo[]>;
  /**
   * One page of list() (WorkflowManager.listPage) and the counts of a page without it (countWorkflows): with
   * both, the inspection `workflows` call reads by pages.
   */
  listPage?(query: ListPageQuery): Promise<ListPage>;
  countWorkflows?(filter: WorkflowCountFilter): Promise<StatusCount[]>;
  cancel(id: string): Promise<void>;
  delete(id: string): Promise<void>;
  resources(id: string, identity: string | null): Promise<ResourceInfo[]>;
  act(id: string, name: string, identity: string | null, action: string, ...args: unknown[]): Promise<unknown>;
  waitForResource(id: string, name: string, identity: string | null): Promise<ResourceInfo>;
  resourceStream(id: string, identity: string | null): Promise<ResourceStream>;
}

/** Options of {@link createHandler}. */
export interface HandlerOptions {
  /** Who may do what (default: {@link defaultAuthorize}). */
  authorize?: Authorize;
  /** The deepest nesting a request body may have (default 64). */
  maxDepth?: number;
  /** Where failures the caller is not told about (500) are reported (default: Quest's logger). */
  logger?: { error(fields: object, message: string): void };
  /** Read-only access to the store, for the history, versions and stats operations (without it they answer NOT_SERVED). */
  store?: InspectStore;
}

/** One answer: an HTTP status and its JSON body. */
export interface CallResult {
  status: number;
  body: CallResponseBody;
}

/** The handler: never throws. `body` is the request's JSON text, or the already parsed body of a call message. */
export type QuestHandler = (operation: string, body: unknown, principal: Principal) => Promise<CallResult>;

/**
 * Build the handler over `manager`.
 *
 * @example
 * const handle = createHandler(manager);
 * await handle('act', JSON.stringify({ id: 'g1', resource: 'guess', action: 'put', args: [42] }), principal);
 */
export function createHandler(manager: ServedManager, options: HandlerOptions = {}): QuestHandler {
  const authorize = options.authorize ?? defaultAuthorize;
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const log = options.logger ?? questLogger;
  const operations = operationsOf(manager, authorize, options.store);
  return async (operation, text, principal) => {
    try {
      if (!(OPERATIONS as readonly string[]).includes(operation)) throw new UnknownOperationError(`${PROTOCOL_PREFIX}/${operation}`, OPERATIONS);
      const body = typeof text === 'string' ? parseBody(text, maxDepth) : checkedBody(text, maxDepth);
      const value = await operations[operation as Operation](body, principal);
      return { status: 200, body: { value } };
    } catch (error) {
      return errorResult(error, operation, log);
    }
  };
}

type OperationImpl = (body: Record<string, unknown>, principal: Principal) => Promise<Json>;

/** The allowlist: one function per operation, each authorized before it touches the manager. */
function operationsOf(manager: ServedManager, authorize: Authorize, store: InspectStore | undefined): Record<Operation, OperationImpl> {
  /** The workflow id of the body, once the principal may do `operation` on it. */
  const workflowFor = async (operation: Operation, body: Record<string, unknown>, principal: Principal): Promise<string> => {
    const id = stringField(body, 'id');
    await checkAuthorized(authorize, principal, operation, id);
    return id;
  };
  const inspect = inspectOperations({
    list: async () => (await manager.list()).map(wireInfo),
    check: (operation, principal, id) => checkAuthorized(authorize, principal, operation, id),
    store,
    ...pagedReadsOf(manager, store),
  });
  const { changed, ...inspectCalls } = inspect;
  return {
    ...inspectCalls,
    start: async (body, principal) => {
      const type = stringField(body, 'type');
      const id = await workflowFor('start', body, principal);
      const startOptions: StartOptions = {};
      const ifExists = choiceField(body, 'ifExists', ['error', 'resume'] as const);
      const deleteOnFinish = booleanField(body, 'deleteOnFinish');
      if (ifExists !== undefined) startOptions.ifExists = ifExists;
      if (deleteOnFinish !== undefined) startOptions.deleteOnFinish = deleteOnFinish;
      const handle = await manager.startWith(type, id, decodeArgs(argsField(body)) as never, startOptions);
      changed();
      return { id: handle.id, type: handle.type, created: handle.created };
    },
    has: async (body, principal) => manager.has(await workflowFor('has', body, principal)),
    result: async (body, principal) => serialize(await manager.getResult(await workflowFor('result', body, principal)), 'the result'),
    list: async (_body, principal) => {
      await checkAuthorized(authorize, principal, 'list', undefined);
      return (await manager.list()).map(wireInfo) as unknown as Json;
    },
    cancel: async (body, principal) => {
      await manager.cancel(await workflowFor('cancel', body, principal));
      changed();
      return null;
    },
    delete: async (body, principal) => {
      await manager.delete(await workflowFor('delete', body, principal));
      changed();
      return null;
    },
    resources: async (body, principal) => (await manager.resources(await workflowFor('resources', body, principal), principal.identity)) as unknown as Json,
    act: async (body, principal) => {
      const id = await workflowFor('act', body, principal);
      const resource = stringField(body, 'resource');
      const action = stringField(body, 'action');
      const args = decodeArgs(argsField(body));
      return serialize(await manager.act(id, resource, principal.identity, action, ...args), 'the answer of the action');
    },
    waitForResource: async (body, principal) => {
      const id = await workflowFor('waitForResource', body, principal);
      return (await manager.waitForResource(id, stringField(body, 'resource'), principal.identity)) as unknown as Json;
    },
    whoami: async (_body, principal) => {
      await checkAuthorized(authorize, principal, 'whoami', undefined);
      return { identity: principal.identity, roles: [...principal.roles] };
    },
  };
}

/** Rebuild the encoded arguments of a request. */
function decodeArgs(args: Json[]): unknown[] {
  return args.map((arg, n) => {
    try {
      return deserialize(arg);
    } catch {
      throw new BadRequestError(`args[${n}] is not a value encoded by Quest's serialize()`);
    }
  });
}

/**
 * The paged reads of the list, when the manager pages and counts and the store it was opened on (the server's
 * `store`) reads by pages: without that, a page would read the whole list anyway, and the kept list serves better.
 */
function pagedReadsOf(manager: ServedManager, store: InspectStore | undefined): { paged?: PagedReads } {
  const { listPage, countWorkflows } = manager;
  if (listPage === undefined || countWorkflows === undefined || store === undefined || !hasPages(store as Store)) return {};
  return {
    paged: {
      page: async (query) => {
        const page = await listPage.call(manager, query);
        return { ...page, items: page.items.map(wireInfo) };
      },
      count: (filter) => countWorkflows.call(manager, filter),
    },
  };
}

/** A list() line on the wire: epoch milliseconds instead of Dates. */
export function wireInfo(info: WorkflowInfo): WireWorkflowInfo {
  const wire: WireWorkflowInfo = { id: info.id, type: info.type, status: info.status, startedAt: info.startedAt.getTime(), aliases: info.aliases };
  if (info.finishedAt !== undefined) wire.finishedAt = info.finishedAt.getTime();
  if (info.resident === false) wire.resident = false;
  if (info.error !== undefined) wire.error = info.error;
  return wire;
}

/**
 * The answer for a failure. Quest and service errors travel as they are (without stack or cause: those
 * can reveal server internals); in `result`, any other error is the workflow's own failure and travels whole
 * (status 200: the call succeeded in telling the outcome); elsewhere it is logged and answered as INTERNAL.
 */
export function errorResult(error: unknown, operation: string, log: NonNullable<HandlerOptions['logger']>): CallResult {
  if (isServiceError(error)) return { status: error.status, body: { error: wireError(error, false) } };
  if (isQuestError(error)) return { status: statusOf(error.code), body: { error: wireError(error, false) } };
  if (operation === 'result') return { status: 200, body: { error: wireError(error, true) } };
  log.error({ err: error, operation }, 'a call failed with an unexpected error; the caller was told INTERNAL');
  const internal = new InternalServerError();
  return { status: internal.status, body: { error: wireError(internal, false) } };
}

/** An error as it travels: serializeError without stacks (and without the cause unless `withCause`). */
export function wireError(error: unknown, withCause: boolean): WireError {
  return withoutStack(serializeError(error), withCause);
}

function withoutStack(serialized: SerializedError, withCause: boolean): WireError {
  const { stack: _stack, cause, ...rest } = serialized;
  if (!withCause || cause === undefined) return rest;
  const isError = typeof cause === 'object' && cause !== null && !Array.isArray(cause) && typeof cause['message'] === 'string';
  return { ...rest, cause: isError ? (withoutStack(cause as SerializedError, true) as Json) : cause };
}

function statusOf(code: string): number {
  return Object.hasOwn(QUEST_ERROR_STATUS, code) ? QUEST_ERROR_STATUS[code as keyof typeof QUEST_ERROR_STATUS] : 500;
}
