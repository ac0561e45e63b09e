/**
 * Errors the engine raises as it runs workflow code: a Quest call made where it cannot be, a name, an argument or
 * a value it cannot take, a replay that no longer matches its history, a run, task or wait that stops.
 */
import { QuestError } from './quest-error.js';

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

/** The configuration calls registered at a restart do not match the ones its history recorded. */
export class ConfigurationMismatchError extends QuestError {
  constructor(message: string) {
    super(
      'CONFIGURATION_MISMATCH',
      `${message}. Register the configurations recorded earlier in the same order, then append new ones.`,
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
