/**
 * Errors from the wire rebuilt as their named classes: Quest errors (WorkflowNotFoundError, ...) as in
 * process, the edge's own errors as ServiceError subclasses, so that `isQuestError(e, 'RESOURCE_NOT_FOUND')`
 * and `isServiceError(e, 'UNAUTHENTICATED')` work on a client as on the server.
 */
import { deserializeError, registerError } from '../core/serializer.js';
import { ConnectionFailedError, SERVICE_ERROR_CLASSES } from '../protocol/errors.js';

for (const errorClass of SERVICE_ERROR_CLASSES) registerError(errorClass);

/** Rebuild an error the server sent; a body that is not an error becomes a ConnectionFailedError. */
export function rebuildError(wire: unknown): Error {
  if (typeof wire !== 'object' || wire === null || typeof (wire as { name?: unknown }).name !== 'string' || typeof (wire as { message?: unknown }).message !== 'string') {
    return new ConnectionFailedError('the server answered with an error this client cannot read');
  }
  return deserializeError(wire);
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
