/**
 * Every error Quest raises on purpose. Each class has its own `name` and a stable string `code`, because
 * errors are recorded in histories and rebuilt on replay: `instanceof` does not survive that trip (nor two
 * copies of the package), `code` does. Use {@link isQuestError} to test for one.
 *
 * Errors are either *terminal* (retrying the same call cannot succeed: fix the code or the input) or
 * *retryable* (a later attempt may succeed); `retryable` says which.
 */

/** The string codes of every Quest error. */
export type QuestErrorCode =
  | 'NOT_IN_WORKFLOW'
  | 'INVALID_NAME'
  | 'INVALID_ARGUMENT'
  | 'NON_DETERMINISM'
  | 'CORRUPT_HISTORY'
  | 'UNSUPPORTED_FORMAT'
  | 'NOT_SERIALIZABLE'
  | 'DUPLICATE_RESOURCE'
  | 'RESOURCE_NOT_FOUND'
  | 'UNKNOWN_ACTION'
  | 'DUPLICATE_ALIAS'
  | 'WORKFLOW_SUSPENDED'
  | 'TASK_CANCELLED'
  | 'ALREADY_RUNNING'
  | 'CONFIGURATION_MISMATCH'
  | 'VERSION_CONFLICT'
  | 'STORAGE_FAILURE'
  | 'WORKFLOW_NOT_FOUND'
  | 'DUPLICATE_WORKFLOW'
  | 'UNKNOWN_WORKFLOW_TYPE'
  | 'WORKFLOW_CANCELLED'
  | 'WORKFLOW_FINISHED'
  | 'EVENT_EXPIRED'
  | 'STORE_OWNED'
  | 'NOT_A_QUEST_STORE'
  | 'TIMEOUT'
  | 'LEASE_LOST';

/** Base class of every Quest error. */
export class QuestError extends Error {
  /** Stable, serializable identifier of the error kind. */
  readonly code: QuestErrorCode;
  /** True when the same call may succeed later (e.g. a storage hiccup); false when it never will. */
  readonly retryable: boolean;

  constructor(code: QuestErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options?.retryable ?? false;
    this.name = new.target.name;
  }
}

/**
 * Build an error without capturing a stack trace. For the stop reason the engine gives every run that ends:
 * made once per workflow, never thrown at user code that could use a stack (a leftover task's next Quest
 * call at most), and capturing one costs a few microseconds per workflow.
 *
 * @example
 * run.stop(withoutStack(() => new WorkflowSuspendedError(id)));
 */
export function withoutStack<E extends Error>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * True when `error` is a Quest error (optionally of the given code). Works across package copies and for
 * errors rebuilt from a history, where `instanceof` would fail.
 *
 * @example
 * try { await manager.getResult('order-1') } catch (e) { if (isQuestError(e, 'RESOURCE_NOT_FOUND')) ... }
 */
export function isQuestError(error: unknown, code?: QuestErrorCode): error is QuestError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { code?: unknown; name?: unknown };
  if (typeof candidate.code !== 'string' || typeof candidate.name !== 'string') return false;
  if (!QUEST_CODES.has(candidate.code as QuestErrorCode)) return false;
  return code === undefined || candidate.code === code;
}

const QUEST_CODES = new Set<QuestErrorCode>([
  'NOT_IN_WORKFLOW', 'INVALID_NAME', 'INVALID_ARGUMENT', 'NON_DETERMINISM', 'CORRUPT_HISTORY',
  'UNSUPPORTED_FORMAT', 'NOT_SERIALIZABLE', 'DUPLICATE_RESOURCE', 'RESOURCE_NOT_FOUND', 'UNKNOWN_ACTION',
  'DUPLICATE_ALIAS', 'WORKFLOW_SUSPENDED', 'TASK_CANCELLED', 'ALREADY_RUNNING', 'CONFIGURATION_MISMATCH',
  'VERSION_CONFLICT', 'STORAGE_FAILURE', 'WORKFLOW_NOT_FOUND', 'DUPLICATE_WORKFLOW', 'UNKNOWN_WORKFLOW_TYPE',
  'WORKFLOW_CANCELLED', 'WORKFLOW_FINISHED', 'EVENT_EXPIRED', 'STORE_OWNED', 'NOT_A_QUEST_STORE', 'TIMEOUT', 'LEASE_LOST',
]);

/**
 * True when `error` means "the workflow is being suspended" rather than a real failure or exit. Use it in
 * cleanup code so that suspending does not run side effects that belong to a real exit.
 *
 * @example
 * try { await work() } finally { if (!suspending) await step('notify', notifyDone)() }
 * // or
 * catch (e) { if (isSuspension(e)) throw e; ... }
 */
export function isSuspension(error: unknown): boolean {
  return isQuestError(error, 'WORKFLOW_SUSPENDED');
}
