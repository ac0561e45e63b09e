/**
 * Errors on the wire: the one table from error code to HTTP status, and the errors of the network edge itself
 * (ServiceError: refused credentials, bad requests, limits, shutdown, unreachable server). Workflow and
 * manager errors keep their Quest classes and codes across the wire; these are the others.
 */
import type { QuestErrorCode } from '../core/errors.js';

/** The codes of the network edge's own errors. */
export type ServiceErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_REQUEST'
  | 'UNKNOWN_OPERATION'
  | 'PAYLOAD_TOO_LARGE'
  | 'TOO_MANY_CONNECTIONS'
  | 'TOO_MANY_CALLS'
  | 'SERVER_CLOSING'
  | 'INTERNAL'
  | 'CONNECTION_FAILED'
  | 'NOT_SERVED'
  | 'CALL_INTERRUPTED';

/**
 * The HTTP status of each Quest error code. A new QuestErrorCode must be added here (the type says so).
 * 404 for what the caller may not see (an unknown workflow, a resource private to another identity), so
 * that a refusal reveals nothing; 503 for "not running here now, retry later".
 */
export const QUEST_ERROR_STATUS: Record<QuestErrorCode, number> = {
  NOT_IN_WORKFLOW: 500,
  INVALID_NAME: 400,
  INVALID_ARGUMENT: 400,
  NON_DETERMINISM: 500,
  CORRUPT_HISTORY: 500,
  UNSUPPORTED_FORMAT: 500,
  NOT_SERIALIZABLE: 400,
  DUPLICATE_RESOURCE: 409,
  RESOURCE_NOT_FOUND: 404,
  UNKNOWN_ACTION: 400,
  DUPLICATE_ALIAS: 409,
  WORKFLOW_SUSPENDED: 503,
  TASK_CANCELLED: 409,
  ALREADY_RUNNING: 409,
  CONFIGURATION_MISMATCH: 500,
  VERSION_CONFLICT: 409,
  STORAGE_FAILURE: 503,
  WORKFLOW_NOT_FOUND: 404,
  DUPLICATE_WORKFLOW: 409,
  UNKNOWN_WORKFLOW_TYPE: 400,
  WORKFLOW_CANCELLED: 409,
  WORKFLOW_FINISHED: 409,
  EVENT_EXPIRED: 410,
  STORE_OWNED: 503,
  NOT_A_QUEST_STORE: 500,
  TIMEOUT: 504,
  LEASE_LOST: 503,
};

/** The HTTP status of each service error code (0: no answer came). */
export const SERVICE_ERROR_STATUS: Record<ServiceErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_REQUEST: 400,
  UNKNOWN_OPERATION: 404,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_CONNECTIONS: 503,
  TOO_MANY_CALLS: 429,
  SERVER_CLOSING: 503,
  INTERNAL: 500,
  CONNECTION_FAILED: 0,
  NOT_SERVED: 501,
  CALL_INTERRUPTED: 0,
};

/**
 * The HTTP status of an error code (Quest or service); 500 for a code this version does not know.
 *
 * @example
 * statusOfCode('RESOURCE_NOT_FOUND')   // 404
 */
export function statusOfCode(code: string): number {
  if (Object.hasOwn(QUEST_ERROR_STATUS, code)) return QUEST_ERROR_STATUS[code as QuestErrorCode];
  if (Object.hasOwn(SERVICE_ERROR_STATUS, code)) return SERVICE_ERROR_STATUS[code as ServiceErrorCode];
  return 500;
}

/**
 * Base class of the network edge's errors. `code` is stable, `status` the HTTP status it travels with,
 * `retryable` true when the same call may succeed later.
 */
export class ServiceError extends Error {
  readonly code: ServiceErrorCode;
  readonly status: number;
  readonly retryable: boolean;

  constructor(code: ServiceErrorCode, message: string, options?: { retryable?: boolean; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = SERVICE_ERROR_STATUS[code];
    this.retryable = options?.retryable ?? false;
    this.name = new.target.name;
  }
}

/**
 * True when `error` is a ServiceError (optionally of the given code), also when rebuilt from the wire.
 *
 * @example
 * catch (e) { if (isServiceError(e, 'UNAUTHENTICATED')) askForLogin() }
 */
export function isServiceError(error: unknown, code?: ServiceErrorCode): error is ServiceError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { code?: unknown };
  if (typeof candidate.code !== 'string' || !Object.hasOwn(SERVICE_ERROR_STATUS, candidate.code)) return false;
  return code === undefined || candidate.code === code;
}

/** The credentials were missing where required, malformed, expired or wrong. Send a valid token. */
export class UnauthenticatedError extends ServiceError {
  constructor(message: string) {
    super('UNAUTHENTICATED', `${message}. Send a valid token: Authorization: Bearer <token>.`);
  }
}

/** The authenticated caller may not do this operation on this workflow. */
export class ForbiddenError extends ServiceError {
  constructor(operation: string) {
    super('FORBIDDEN', `This identity may not call ${JSON.stringify(operation)} here; ask for a token with the role it needs (e.g. admin).`);
  }
}

/** The request is not valid JSON of the operation's shape. */
export class BadRequestError extends ServiceError {
  constructor(message: string) {
    super('BAD_REQUEST', `Bad request: ${message}. See docs/protocol.md for the shape of each operation.`);
  }
}

/** The path names no operation of this protocol version. */
export class UnknownOperationError extends ServiceError {
  constructor(path: string, known: readonly string[]) {
    super('UNKNOWN_OPERATION', `No operation at ${JSON.stringify(path)}; operations: ${known.join(', ')} (POST /v1/<operation>).`);
  }
}

/** A request body or stream message exceeds the server's size limit. */
export class PayloadTooLargeError extends ServiceError {
  constructor(limitBytes: number) {
    super('PAYLOAD_TOO_LARGE', `The request is larger than the server's limit of ${limitBytes} bytes; send less at a time.`);
  }
}

/** The server has as many connections as it accepts. */
export class TooManyConnectionsError extends ServiceError {
  constructor(limit: number) {
    super('TOO_MANY_CONNECTIONS', `The server has its maximum of ${limit} connections; retry later.`, { retryable: true });
  }
}

/** A connection has as many calls in flight as the server accepts on one connection. */
export class TooManyCallsError extends ServiceError {
  constructor(limit: number) {
    super('TOO_MANY_CALLS', `This connection already has ${limit} calls in flight; wait for one to finish.`, { retryable: true });
  }
}

/** The server is shutting down; the call was not done (or its answer could not wait). Retry on a new server. */
export class ServerClosingError extends ServiceError {
  constructor() {
    super('SERVER_CLOSING', 'The server is shutting down; retry once it is back.', { retryable: true });
  }
}

/** The server failed in a way it does not describe to callers (details are in its log). */
export class InternalServerError extends ServiceError {
  constructor() {
    super('INTERNAL', 'The server failed to answer this call; see its log.');
  }
}

/** The client could not reach the server or lost the connection before the answer (client side only). */
export class ConnectionFailedError extends ServiceError {
  constructor(message: string, cause?: unknown) {
    super('CONNECTION_FAILED', `Cannot reach the Quest server: ${message}. Check the URL and that the server runs.`, { retryable: true, cause });
  }
}

/** The server was set up without what this operation needs (e.g. the history operations need `store`). */
export class NotServedError extends ServiceError {
  constructor(operation: string, missing: string) {
    super('NOT_SERVED', `This server does not serve ${JSON.stringify(operation)}: it was started without ${missing}. Ask its operator to enable it.`);
  }
}

/**
 * The call channel (a WebSocket) closed while a call on it was waiting for its answer (client side only).
 * `mayHaveBeenApplied` says whether the server may have done it: true for the operations that change
 * something (start, cancel, delete, act), which are never re-sent by the client: check (e.g. read the
 * resource) before doing it again. Read-only calls (`mayHaveBeenApplied: false`) are safe to repeat.
 */
export class CallInterruptedError extends ServiceError {
  readonly operation: string;
  readonly mayHaveBeenApplied: boolean;

  constructor(operation: string, mayHaveBeenApplied: boolean, why: string) {
    super(
      'CALL_INTERRUPTED',
      mayHaveBeenApplied
        ? `The connection to the Quest server was lost (${why}) before the answer to ${JSON.stringify(operation)} came; the server may have done it: check before calling it again.`
        : `The connection to the Quest server was lost (${why}) before the answer to ${JSON.stringify(operation)} came; it changes nothing, so call it again.`,
      { retryable: !mayHaveBeenApplied },
    );
    this.operation = operation;
    this.mayHaveBeenApplied = mayHaveBeenApplied;
  }
}

/** Every service error class, by name (to rebuild them from the wire). */
export const SERVICE_ERROR_CLASSES = [
  ServiceError,
  UnauthenticatedError,
  ForbiddenError,
  BadRequestError,
  UnknownOperationError,
  PayloadTooLargeError,
  TooManyConnectionsError,
  TooManyCallsError,
  ServerClosingError,
  InternalServerError,
  ConnectionFailedError,
  NotServedError,
  CallInterruptedError,
] as const;
