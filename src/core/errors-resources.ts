/** Errors of a workflow's resources: opening, finding and acting on them. */
import { QuestError } from './quest-error.js';

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

/** `"name"` or `"name"@identity`, for messages. */
export function describeResource(name: string, identity: string | null): string {
  return identity === null ? JSON.stringify(name) : `${JSON.stringify(name)}@${JSON.stringify(identity)}`;
}
