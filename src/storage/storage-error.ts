/** How the durable stores turn a driver's failure into Quest's StorageError. */
import { StorageError, isQuestError } from '../core/errors.js';

/** The message of a thrown value, whatever it is. */
export function describeFailure(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A Quest error passes through; anything else becomes a StorageError about `what`. */
export function storageError(what: string, error: unknown): Error {
  if (isQuestError(error)) return error;
  return new StorageError(`Could not ${what}: ${describeFailure(error)}`, error);
}

/** Run `run` now; its result, or what it throws as a StorageError saying what could not be done, as a promise. */
export function attempt<T>(what: string, run: () => T): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(storageError(what, error));
  }
}
