/**
 * A wait that can be cut short: the promise's outcome, unless whoever holds `waits` rejects it first (a run
 * halting, a task told to stop: they reject every wait in the set with their reason, then clear it).
 *
 * Why not Promise.race with a promise of the stop: with async hooks on (AsyncLocalStorage), a race costs three
 * promises, and every wait would add a reaction to that promise for the rest of the run; a Deferred costs two
 * promises more than this bare one. Every step waits here, so it counts.
 *
 * @example
 * const value = await stoppableWait(promise, this.waits);  // elsewhere: for (const reject of waits) reject(reason)
 */
export function stoppableWait<T>(promise: Promise<T>, waits: Set<(reason: Error) => void>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    waits.add(reject);
    promise.then(
      (value) => {
        waits.delete(reject);
        resolve(value);
      },
      (error: unknown) => {
        waits.delete(reject);
        reject(error);
      },
    );
  });
}
