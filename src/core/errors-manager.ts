/** Errors of the workflow manager: workflows and aliases by id, workflows that have ended, inbox events. */
import { QuestError } from './quest-error.js';

/** An alias is already in use by a workflow. */
export class DuplicateAliasError extends QuestError {
  constructor(alias: string) {
    super('DUPLICATE_ALIAS', `Alias ${JSON.stringify(alias)} is already in use. Close the other alias first.`);
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
