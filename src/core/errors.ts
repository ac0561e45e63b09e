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

/** A step, task, resource or version call was made outside a running workflow. */
export class NotInWorkflowError extends QuestError {
  /**
   * @param inAnotherCopy a workflow is running here, but in another copy of quest-ts loaded in this process.
   */
  constructor(what: string, readonly inAnotherCopy = false) {
    super(
      'NOT_IN_WORKFLOW',
      inAnotherCopy
        ? `${what} was called inside a workflow run by another copy of quest-ts loaded in the same process ` +
            `(two installs, or both its built and its source files imported). Import quest-ts from one place ` +
            `(npm dedupe; one import path) so that the workflow and its calls share one engine.`
        : `${what} can only be called inside a running workflow (inside the function given to Historian or ` +
            `WorkflowManager, or code it calls). Call it from the workflow, not from module scope or outside code.`,
    );
  }
}

/** A step, task or resource name is empty or contains a reserved character. */
export class InvalidNameError extends QuestError {
  constructor(kind: string, name: string, example = "step('fetchUser', fn)") {
    super(
      'INVALID_NAME',
      `Invalid ${kind} name ${JSON.stringify(name)}: names must be non-empty and must not contain '/' or '#'. ` +
        `Pass an explicit name, e.g. ${example}, when the function is anonymous or renamed by a bundler.`,
    );
  }
}

/** A call received arguments of the wrong shape. */
export class InvalidArgumentError extends QuestError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/**
 * Replay found the workflow doing something other than what its history recorded: the code changed in a way
 * that is not versioned, or it is not deterministic. The message names the record the history expected and
 * the call that came. Version the change with `versioned()` and `getVersion()`.
 */
export class NonDeterminismError extends QuestError {
  constructor(message: string) {
    super(
      'NON_DETERMINISM',
      `${message}. The workflow code no longer matches its history: keep old paths behind getVersion(), ` +
        `and keep side effects and randomness inside steps.`,
    );
  }
}

/**
 * Two different functions with the same name declare different values for one version. A version belongs to the
 * function that declares it, identified by its name: give one of them its own name with `versioned(v, fn, { name })`.
 */
export class VersionConflictError extends QuestError {
  constructor(fn: string, name: string, first: string, second: string) {
    super(
      'VERSION_CONFLICT',
      `Two functions named ${JSON.stringify(fn)} declare ${name === '' ? 'the global version' : `version ${JSON.stringify(name)}`} ` +
        `differently (${JSON.stringify(first)} and ${JSON.stringify(second)}). Versions belong to the declaring function, ` +
        `identified by its name: give each function its own, e.g. versioned('2', fn, { name: 'checkoutV2' }).`,
    );
  }
}

/**
 * Where a damaged history was found: the workflow, and for a file-based store the file and the byte offset
 * of the first damaged commit.
 */
export interface HistoryDamage {
  workflowId?: string;
  file?: string;
  offset?: number;
}

/**
 * A stored history is damaged (a checksum that does not match, a missing or emptied history of a running
 * workflow, an unreadable record, a duplicate sequence number, an unknown record type). Damage is never
 * replayed: the workflow is not run until its history is restored or the workflow is deleted.
 */
export class CorruptHistoryError extends QuestError {
  /** The workflow whose history is damaged, when known. */
  readonly workflowId: string | undefined;
  /** The damaged file, for a file-based store. */
  readonly file: string | undefined;
  /** The byte offset of the first damaged commit in {@link file}. */
  readonly offset: number | undefined;

  constructor(message: string, where: HistoryDamage = {}) {
    super('CORRUPT_HISTORY', `Corrupt history${describeDamage(where)}: ${message}. Restore the history from a backup or delete the workflow.`);
    this.workflowId = where.workflowId;
    this.file = where.file;
    this.offset = where.offset;
  }
}

/** ` of workflow "w" (file /x.log, byte 12)`, from what is known. */
function describeDamage({ workflowId, file, offset }: HistoryDamage): string {
  const place = [file === undefined ? undefined : `file ${file}`, offset === undefined ? undefined : `byte ${offset}`].filter(Boolean);
  const who = workflowId === undefined ? '' : ` of workflow ${JSON.stringify(workflowId)}`;
  return place.length === 0 ? who : `${who} (${place.join(', ')})`;
}

/** A history was written by a newer Quest whose record format this version cannot read. */
export class UnsupportedFormatError extends QuestError {
  constructor(found: number, supported: number) {
    super(
      'UNSUPPORTED_FORMAT',
      `History record format ${found} is newer than this Quest supports (${supported}). Upgrade Quest.`,
    );
  }
}

/** A value recorded in the history (step result, event argument) cannot be serialized. */
export class NotSerializableError extends QuestError {
  constructor(path: string, what: string) {
    super(
      'NOT_SERIALIZABLE',
      `Cannot record ${what} at ${path}: only JSON data, undefined, Date, Map, Set, BigInt, Error and classes ` +
        `registered with registerType() can be recorded. Return plain data or register the class.`,
    );
  }
}

/** A resource with the same name and identity is already open in this workflow. */
export class DuplicateResourceError extends QuestError {
  constructor(name: string, identity: string | null) {
    super(
      'DUPLICATE_RESOURCE',
      `Resource ${describeResource(name, identity)} is already open in this workflow. Close it first or use ` +
        `another name.`,
    );
  }
}

/** No resource of that name is visible to the calling identity. Nothing was changed. */
export class ResourceNotFoundError extends QuestError {
  constructor(name: string, identity: string | null, workflowId?: string) {
    super(
      'RESOURCE_NOT_FOUND',
      `No resource ${JSON.stringify(name)} visible to ${identity === null ? 'the public' : `identity ${JSON.stringify(identity)}`}` +
        `${workflowId === undefined ? '' : ` in workflow ${JSON.stringify(workflowId)}`}. ` +
        `List the resources visible to this identity to see what is open.`,
    );
  }
}

/** The action is not one the resource supports. Nothing was changed. */
export class UnknownActionError extends QuestError {
  constructor(kind: string, action: string, known: readonly string[]) {
    super(
      'UNKNOWN_ACTION',
      `A ${kind} has no action ${JSON.stringify(action)}; use one of: ${known.join(', ')}.`,
    );
  }
}

/** An alias is already in use by a workflow. */
export class DuplicateAliasError extends QuestError {
  constructor(alias: string) {
    super('DUPLICATE_ALIAS', `Alias ${JSON.stringify(alias)} is already in use. Close the other alias first.`);
  }
}

/**
 * The workflow was suspended: thrown at every Quest await of a suspended run so that its tasks stop.
 * Cleanup code can test for it with {@link isSuspension} to skip side effects that only belong to a real exit.
 */
export class WorkflowSuspendedError extends QuestError {
  /** `why` says what suspended it (e.g. "the workflow manager is closing"); the default covers the rest. */
  constructor(workflowId: string, why?: string) {
    super(
      'WORKFLOW_SUSPENDED',
      why === undefined
        ? `Workflow ${JSON.stringify(workflowId)} is not running (suspended, or not started): run it to resume.`
        : `Workflow ${JSON.stringify(workflowId)} is not running: ${why}.`,
      { retryable: true },
    );
  }
}

/** A task was cancelled by the workflow that owns it. */
export class TaskCancelledError extends QuestError {
  constructor(taskId: string) {
    super('TASK_CANCELLED', `Task ${JSON.stringify(taskId)} was cancelled.`);
  }
}

/** run() was called on a historian that is already running. */
export class AlreadyRunningError extends QuestError {
  constructor(workflowId: string) {
    super('ALREADY_RUNNING', `Workflow ${JSON.stringify(workflowId)} is already running; suspend it first.`);
  }
}

/** The configuration calls registered at a restart do not match the ones its history recorded. */
export class ConfigurationMismatchError extends QuestError {
  constructor(message: string) {
    super(
      'CONFIGURATION_MISMATCH',
      `${message}. Register the configurations recorded earlier in the same order, then append new ones.`,
    );
  }
}

/** A storage backend failed; the run stops and nothing half-written is kept. */
export class StorageError extends QuestError {
  constructor(message: string, cause?: unknown) {
    super('STORAGE_FAILURE', message, { cause, retryable: true });
  }
}

/**
 * This process no longer owns the workflow it wrote to: its lease lapsed (the process was paused or cut off
 * from the database longer than the lease period) and another process took the workflow over, or another
 * process ended it. Nothing of the write was kept, and the run here stops: the new owner runs the workflow on
 * from its history. Retryable in the sense that the workflow goes on elsewhere; nothing to do here.
 */
export class LeaseLostError extends QuestError {
  constructor(
    /** The workflow whose lease was lost. */
    readonly workflowId: string,
    /** What was refused (`write the history of workflow "w1"`). */
    what = 'write',
  ) {
    super(
      'LEASE_LOST',
      `Could not ${what}: this process lost its lease on workflow ${JSON.stringify(workflowId)} (it was paused or cut ` +
        'off from the database longer than the lease period, and another process took the workflow over or ended it). ' +
        'Nothing was written; the run here stops and the new owner goes on from the history. If this happens often, ' +
        'lengthen the lease period (leaseMs) or find what pauses the process.',
      { retryable: true },
    );
  }
}

/**
 * Another workflow manager owns the store: one manager at a time may run the workflows of a store, so that
 * no step runs twice at once. `owner` names it (process, host, since when). Retryable: once that manager
 * closes (or its process is gone), opening again succeeds.
 */
export class StoreOwnedError extends QuestError {
  constructor(
    /** The store (its path, or a description). */
    readonly store: string,
    /** Who owns it: `process <pid> on <host> since <ISO time>`. */
    readonly owner: string,
    /** What to do when the owner runs on another host, where Quest cannot tell whether it still lives. */
    hint = '',
  ) {
    super(
      'STORE_OWNED',
      `The store ${store} is owned by another workflow manager (${owner}). Close that manager or stop that process ` +
        `first: one manager at a time runs the workflows of a store.${hint === '' ? '' : ` ${hint}`}`,
      { retryable: true },
    );
  }
}

/** A store location that holds no Quest store: missing, empty, not SQLite, or another application's database. */
export class NotAQuestStoreError extends QuestError {
  constructor(
    /** The location asked for. */
    readonly location: string,
    /** What is there instead (`does not exist`, `is an empty file`, ...). */
    readonly found: string,
  ) {
    super('NOT_A_QUEST_STORE', `${location} is not a Quest database: it ${found}. Check the path; a Quest database is created by opening it for writing (a WorkflowManager, quest run).`);
  }
}

/** No workflow (or alias) with that id exists in the manager. */
export class WorkflowNotFoundError extends QuestError {
  constructor(workflowId: string) {
    super('WORKFLOW_NOT_FOUND', `No workflow ${JSON.stringify(workflowId)} (nor an alias of that name). List the workflows to see which exist.`);
  }
}

/** A workflow with that id already exists (running, or finished with its result kept). */
export class DuplicateWorkflowError extends QuestError {
  constructor(workflowId: string) {
    super(
      'DUPLICATE_WORKFLOW',
      `A workflow ${JSON.stringify(workflowId)} already exists. Pick another id, delete the old one, or start with ` +
        `{ ifExists: 'resume' } to resume it when it exists.`,
    );
  }
}

/** start() named a workflow type that was not registered with the manager. */
export class UnknownWorkflowTypeError extends QuestError {
  constructor(type: string, known: readonly string[]) {
    super('UNKNOWN_WORKFLOW_TYPE', `No workflow type ${JSON.stringify(type)} is registered; registered types: ${known.join(', ') || 'none'}.`);
  }
}

/** The workflow was cancelled (or deleted while running) before it finished. */
export class WorkflowCancelledError extends QuestError {
  constructor(workflowId: string, how: 'cancelled' | 'deleted' = 'cancelled') {
    super(
      'WORKFLOW_CANCELLED',
      `Workflow ${JSON.stringify(workflowId)} was ${how} before it finished; it has no result. Start a new workflow to run it again.`,
    );
  }
}

/** How a finished workflow ended, as {@link WorkflowFinishedError} reports it ('deleted': by this manager). */
export type FinishedState = 'completed' | 'failed' | 'cancelled' | 'deleted';

/**
 * An outside action (act, resources, a resource stream, an inbox event) named a workflow that has finished:
 * it completed, failed, was cancelled or was deleted, and has no resources any more. Nothing was changed, and
 * nothing ever will be. Its outcome stays readable with getResult() until it is deleted.
 *
 * @example
 * catch (e) { if (isQuestError(e, 'WORKFLOW_FINISHED')) console.log((e as WorkflowFinishedError).state) }
 */
export class WorkflowFinishedError extends QuestError {
  constructor(
    readonly workflowId: string,
    readonly state: FinishedState,
    /** The failure's `name: message`, for a failed workflow. */
    readonly failure?: string,
  ) {
    super(
      'WORKFLOW_FINISHED',
      `Workflow ${JSON.stringify(workflowId)} ${finishedHow(state, failure)}: it takes no more outside actions. ` +
        (state === 'completed' || state === 'failed' ? 'Read its outcome with getResult(), or start a new workflow.' : 'Start a new workflow to run it again.'),
    );
  }
}

function finishedHow(state: FinishedState, failure: string | undefined): string {
  switch (state) {
    case 'failed':
      return `failed${failure === undefined ? '' : ` (${failure})`}`;
    case 'cancelled':
      return 'was cancelled';
    case 'deleted':
      return 'was deleted';
    default:
      return 'has completed';
  }
}

/**
 * An inbox event was not applied within its time-to-live (`ttlMs`), typically because the workflow did not
 * open the resource in time (or no resource of that name is visible to the event's identity).
 */
export class EventExpiredError extends QuestError {
  constructor(eventId: number, ttlMs: number, why: string) {
    super(
      'EVENT_EXPIRED',
      `Event ${eventId} was not applied within its time-to-live of ${ttlMs} ms: ${why}. Send it again (with a ` +
        'longer time-to-live) once the workflow has the resource open.',
    );
  }
}

/**
 * A step, a wait for outside input or a whole workflow did not finish within its `timeoutMs`. The timeout is
 * recorded like any outcome, so a replay throws it at the same point without waiting again. Retryable: a
 * step's retry policy retries a timed-out attempt by default.
 *
 * @example
 * try { await words.get({ timeoutMs: 60_000 }) } catch (e) { if (isQuestError(e, 'TIMEOUT')) return 'nobody answered' }
 */
export class TimeoutError extends QuestError {
  constructor(
    /** What timed out: `step main/charge`, `get on words (main/words.get)`, `workflow order-1`. */
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(
      'TIMEOUT',
      `${what} did not finish within its timeout of ${timeoutMs} ms. Catch the TimeoutError to take another path, ` +
        'or give it a longer timeoutMs.',
      { retryable: true },
    );
  }
}

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

/** `"name"` or `"name"@identity`, for messages. */
export function describeResource(name: string, identity: string | null): string {
  return identity === null ? JSON.stringify(name) : `${JSON.stringify(name)}@${JSON.stringify(identity)}`;
}
